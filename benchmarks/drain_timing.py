"""What the drain() timing children (monitor_batches.py, many_pv_drain.py) share.

They run as scripts from this folder, so this module is found beside them; it imports no caffi.
"""
import sys
import time


def wait_full(rings, n, timeout, not_full):
    """Wait until every ring (a Monitor or a MonitorGroup) holds n rows, the producer filling
    them; after *timeout* seconds exit with not_full % (rows held, n, timeout)."""
    deadline = time.perf_counter() + timeout
    for ring in rings:
        while ring.pending < n:
            if time.perf_counter() > deadline:
                sys.exit(not_full % (ring.pending, n, timeout))
            ring.wait(0.5)
            time.sleep(0.01)
