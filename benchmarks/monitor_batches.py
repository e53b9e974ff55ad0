"""Python cost of one Monitor.drain() by the number of updates in the batch.

    python monitor_batches.py PV TYPE SIZES ROUNDS

For each size N of the comma-separated SIZES: several Monitors of depth N with
overflow='drop_newest' on PV (preemptive context, DBR type TYPE, the server's current length),
while a publisher puts to it as fast as it can.  ROUNDS times: wait until every ring holds N
updates, then time, back to back, one drain() of each (all N updates) and the touch every
consumer does (the batch's length and shape), with perf_counter_ns around those calls only.
Timing a whole round of full rings back to back, all but the first, keeps the conditions of
every timed call alike whatever N is (the call right after a wait pays for the caches and CPU
state the wait left, tens of microseconds here, whatever it drains).  A drain of everything waiting hands out
the ring's slots as they are, so its cost should not depend on N.  For contrast, the same is
timed for drain(N - 1): a part of what waits, copied into the batch (N > 1 only).

Prints one JSON line: {"pv", "type", "elements", "sizes": {N: {"drain_us", "drain_min_us",
"partial_us", "drains", "monitors"}}}, medians and minima over all timed calls (a round
times every ring but its first).
"""
import json
import statistics
import sys
import time

import caffi.ca as ca
from caffi.monitor import Monitor
from drain_timing import wait_full

FILL_TIMEOUT = 30.0
NOT_FULL = 'monitor_batches: a ring got %d of %d updates in %g s'
MONITORS = 10
STORE_BUDGET = 1024 * 1024 * 1024


def timed_drains(monitors, max_n, expected):
    """One drain(max_n) of each monitor, back to back: the microseconds of each but the first
    (the call right after the wait, which pays for the cold caches whatever it drains)."""
    times = []
    for i, monitor in enumerate(monitors):
        t0 = time.perf_counter_ns()
        batch = monitor.drain(max_n)
        n = len(batch.counts)
        batch.values.shape
        t1 = time.perf_counter_ns()
        if n != expected:
            sys.exit('monitor_batches: drain(%s) took %d updates, not %d' % (max_n, n, expected))
        del batch
        if i:
            times.append((t1 - t0) / 1000.0)
    return times


def measure(chid, request, n, rounds, row_bytes):
    # enough rings to time many calls per round, within ~1 GB of stores (two per ring)
    count = max(3, min(MONITORS, STORE_BUDGET // (2 * n * row_bytes)))
    monitors = [Monitor(chid, request, depth=n, overflow='drop_newest') for _ in range(count)]
    ca.flush_io()
    whole, partial = [], []
    try:
        wait_full(monitors, n, FILL_TIMEOUT, NOT_FULL)
        timed_drains(monitors, None, n)      # the first stores: a running monitor has two
        for _ in range(rounds):
            wait_full(monitors, n, FILL_TIMEOUT, NOT_FULL)
            whole.extend(timed_drains(monitors, None, n))
            if n > 1:
                wait_full(monitors, n, FILL_TIMEOUT, NOT_FULL)
                partial.extend(timed_drains(monitors, n - 1, n - 1))
                for monitor in monitors:
                    monitor.drain()
    finally:
        for monitor in monitors:
            monitor.close()
    return {'drain_us': statistics.median(whole), 'drain_min_us': min(whole),
            'partial_us': statistics.median(partial) if partial else None,
            'drains': len(whole), 'monitors': count}


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    pv, type_name, sizes, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    request = ca.DBR[type_name[len('DBR_'):]]
    ca.create_context(True)
    status, chid = ca.create_channel(pv)
    if ca.pend_io(5) != ca.ECA.NORMAL:
        sys.exit('monitor_batches: cannot connect to %s' % pv)
    elements = ca.element_count(chid)
    row_bytes = ca.dbr_size_n(request, elements)
    result = {'pv': pv, 'type': type_name, 'elements': elements, 'sizes': {}}
    for n in (int(x) for x in sizes.split(',')):
        result['sizes'][n] = measure(chid, request, n, rounds, row_bytes)
    print(json.dumps(result), flush=True)
    ca.clear_channel(chid)
    ca.destroy_context()


if __name__ == '__main__':
    main()
