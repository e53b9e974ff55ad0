"""Data acquisition over many PVs: one MonitorGroup, one stream, a 20 Hz loop.

    python examples/monitor_group_daq.py PV [PV ...] [--seconds S] [--period-ms MS] [--counters]
    python examples/monitor_group_daq.py --prefix NAME --count N [...]   # NAME0 .. NAME{N-1}

Every PV becomes a member of one caffi.monitor.MonitorGroup: libca's callbacks copy each update
into the group's ring in C without the GIL, and this loop wakes once per batch, whatever the
number of PVs. Each batch is handled with numpy alone, no Python code per update: the latest
value and time stamp of every PV, the updates per PV, the PVs in alarm, and the connection
changes (rows of their own, in order with the updates). With --counters the PVs are taken to be
counters that go up by one per update (as a calc record with CALC "VAL+1"), and the script
checks that no update of any PV went missing.

The client environment (EPICS_CA_ADDR_LIST, EPICS_CA_SERVER_PORT, ...) selects the server.
"""
import argparse
import sys
import time

import numpy as np

import caffi.ca as ca
from caffi.constants import ECA
from caffi.dbr import DBR
from caffi.monitor import CONNECTED, DISCONNECTED, UPDATE, MonitorGroup


def connect(names, timeout):
    chids = []
    for name in names:
        status, chid = ca.create_channel(name)
        if status != ECA.NORMAL:
            raise SystemExit(f'{name}: {status.name}')
        chids.append(chid)
    if ca.pend_io(timeout) != ECA.NORMAL:
        missing = [n for n, c in zip(names, chids) if ca.state(c) != ca.ChannelState.CONN]
        raise SystemExit(f'not connected within {timeout} s: {", ".join(missing[:10])}')
    return chids


def acquire(names, seconds, period, counters, timeout):
    chids = connect(names, timeout)
    n = len(names)
    latest = np.full(n, np.nan)                  # the latest value of every PV
    stamps = np.zeros(n)
    updates = np.zeros(n, np.int64)
    in_alarm = np.zeros(n, bool)
    connected = np.ones(n, bool)
    missed = 0
    # gather=period: wait() returns once a batch has gathered that long (one drain, many rows)
    with MonitorGroup(chids, DBR.TIME_DOUBLE, depth=1 << 16, gather=period) as group:
        ca.flush_io()                            # the subscriptions leave with the flush
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not group.wait(0.5):              # blocks without the GIL until a batch gathered
                continue
            batch = group.drain()                # index, values, timestamps, severity, events
            rows = batch.events == UPDATE
            for event in (CONNECTED, DISCONNECTED):
                connected[batch.index[batch.events == event]] = event == CONNECTED
            index, values = batch.index[rows], batch.values[rows]
            if counters and len(index):
                # rows are oldest first: per PV, each value must be the previous one plus 1
                order = np.argsort(index, kind='stable')
                index, values = index[order], values[order]
                previous = np.r_[np.nan, values[:-1]]
                first = np.r_[True, index[1:] != index[:-1]]
                previous[first] = latest[index[first]]
                step = values - previous
                missed += int(np.nansum(np.clip(step - 1, 0, None)))
            np.add.at(updates, index, 1)
            latest[index] = values               # fancy assignment: the last row per PV wins
            stamps[batch.index[rows]] = batch.timestamps[rows]
            in_alarm[batch.index[rows]] = batch.severity[rows] > 0
        stats = group.stats()
    for chid in chids:
        ca.clear_channel(chid)
    print(f'{n} PVs, one MonitorGroup: {int(updates.sum())} updates in {seconds:g} s '
          f'({updates.sum() / seconds:.0f}/s), per PV {updates.min()}..{updates.max()}; '
          f'{stats["dropped"]} dropped by the ring')
    print(f'latest values: {latest[0]:g} ({names[0]}) .. {latest[-1]:g} ({names[-1]}); '
          f'{int(in_alarm.sum())} in alarm, {int((~connected).sum())} disconnected')
    if counters:
        print(f'counters: {missed} updates missed' + (', every update of every PV arrived'
                                                       if missed == 0 else ''))
    return 0 if (not counters or missed == 0) and stats['dropped'] == 0 else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('pvs', nargs='*')
    parser.add_argument('--prefix', help='PV names NAME0 .. NAME{N-1}, with --count')
    parser.add_argument('--count', type=int, default=0)
    parser.add_argument('--seconds', type=float, default=5.0)
    parser.add_argument('--period-ms', type=float, default=50.0, help='batch gathering time')
    parser.add_argument('--counters', action='store_true', help='check counter PVs for gaps')
    parser.add_argument('--timeout', type=float, default=10.0)
    args = parser.parse_args(argv)
    names = list(args.pvs) + [f'{args.prefix}{i}' for i in range(args.count if args.prefix else 0)]
    if not names:
        parser.error('give PV names, or --prefix and --count')
    ca.create_context(True)
    return acquire(names, args.seconds, args.period_ms / 1000, args.counters, args.timeout)


if __name__ == '__main__':
    sys.exit(main())
