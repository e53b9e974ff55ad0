"""Python cost of one MonitorGroup.drain() by the number of rows waiting, on the many-PV IOC.

    python many_pv_drain.py PREFIX N SIZES ROUNDS [GROUPS]

For each size S of the comma-separated SIZES: GROUPS groups (default 5), each of the N counter
PVs PREFIX0 .. PREFIX(N-1) (DBR_TIME_DOUBLE, count 1), with a ring of depth S and
overflow='drop_newest', so that a full ring keeps exactly S rows.  ROUNDS times: wait until
every ring is full, then time one drain() of each group back to back, with the touch every
consumer does (``len(batch.index)`` and ``batch.values.shape``) -- perf_counter_ns around those
calls only, every group of a round but the first (the call right after the wait pays for the
caches the wait left cold, whatever it drains).  As for Monitor (monitor_batches.py), a drain of
everything waiting hands out the ring's slots, so its cost should not depend on S.

Prints one JSON line: {"members", "sizes": {S: {"drain_us", "drain_min_us", "drains",
"groups"}}}, median and minimum over the timed calls.
"""
import json
import statistics
import sys
import time

import caffi.ca as ca
from caffi.monitor import MonitorGroup
from drain_timing import wait_full

FILL_TIMEOUT = 60.0
NOT_FULL = 'many_pv_drain: a group got %d of %d rows in %g s'


def drain_each(groups, rows):
    times = []
    for k, group in enumerate(groups):
        t0 = time.perf_counter_ns()
        batch = group.drain()
        taken = len(batch.index)
        batch.values.shape
        t1 = time.perf_counter_ns()
        del batch
        if taken != rows:
            sys.exit('many_pv_drain: drain() took %d rows, not %d' % (taken, rows))
        if k:
            times.append((t1 - t0) / 1000.0)
    return times


def measure(chids, rows, rounds, count):
    groups = [MonitorGroup(chids, chtype=ca.DBR.TIME_DOUBLE, count=1, depth=rows,
                           overflow='drop_newest') for _ in range(count)]
    ca.flush_io()
    times = []
    try:
        wait_full(groups, rows, FILL_TIMEOUT, NOT_FULL)
        drain_each(groups, rows)        # the first drains: from then on each group has a spare
        for _ in range(rounds):
            wait_full(groups, rows, FILL_TIMEOUT, NOT_FULL)
            times.extend(drain_each(groups, rows))
    finally:
        for group in groups:
            group.close()
    return {'drain_us': statistics.median(times), 'drain_min_us': min(times),
            'drains': len(times), 'groups': count}


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    prefix, n, sizes, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    ca.create_context(True)
    chids = [ca.create_channel('%s%d' % (prefix, i))[1] for i in range(n)]
    if ca.pend_io(30) != ca.ECA.NORMAL:
        sys.exit('many_pv_drain: not all %d channels connected' % n)
    result = {'members': n, 'sizes': {}}
    for rows in (int(x) for x in sizes.split(',')):
        result['sizes'][rows] = measure(chids, rows, rounds, count)
    print(json.dumps(result), flush=True)
    ca.destroy_context()


if __name__ == '__main__':
    main()
