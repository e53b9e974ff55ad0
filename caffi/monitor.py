"""Buffered monitors: high-rate subscriptions whose updates never wait for the GIL.

libca's callback copies each update (value, alarm fields, time stamp, element count) into the
next slot of a preallocated ring in C; Python takes them out in batches, and that copy is the
only one (a batch of everything waiting is a view of the ring's own slots)::

    import caffi.ca as ca
    from caffi.monitor import Monitor

    ca.create_context(True)
    status, chid = ca.create_channel('wave')
    ca.pend_io(5)
    with Monitor(chid, ca.DBR.TIME_DOUBLE, depth=4096) as monitor:
        ca.flush_io()                    # like create_subscription, the request waits for a flush
        while running:
            time.sleep(0.01)             # or monitor.wait(1.0); batches amortise the Python cost
            batch = monitor.drain()      # batch.values: (n, width) ndarray, no copy of its own
            process(batch.values, batch.timestamps)
        print(monitor.stats())           # updates, bytes, rate, dropped, ...

This module is not part of caffi.ca's API (whose __all__ stays as caffi 1.0 defines it).
"""
from ._monitor import (CONNECTED, DISCONNECTED, UPDATE, Batch, GroupBatch, Monitor, MonitorGroup,
                       Update)

__all__ = ['Monitor', 'Batch', 'Update', 'MonitorGroup', 'GroupBatch', 'UPDATE', 'CONNECTED',
           'DISCONNECTED']
