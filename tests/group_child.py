"""A MonitorGroup client over many counter records, run as a child process by
tests/test_monitor_group_scale.py (its environment points libca at that test's own IOC).

    python group_child.py MODE PREFIX N SECONDS [UPDATES]

Each record PREFIX0..PREFIX{N-1} is a calc record whose value goes up by one each time it
processes, so a member's rows must step by exactly 1: a larger step is a missed update, a step
of 0 or less a duplicate or a reordering. Modes:

* ``stream``: one group of all N for SECONDS, drained as a 20 Hz DAQ loop would;
* ``restart``: the same until stdin says ``done``; prints ``ready`` once every member has
  updated, then counts per member the disconnection and reconnection rows and checks that the
  updates after the reconnection are gapless (the records count from 0 again);
* ``churn``: SECONDS rounds of create / run 0.2 s / close of a group of all N; RSS of the process
  after the first rounds and at the end.
* ``soak``: one group of all N drained at 20 Hz until it has delivered UPDATES updates (default
  1,000,000) after a warm-up of WARMUP_UPDATES, or SECONDS have passed; the RSS of the process
  once warmed up and at the end, with the same gap and order checks as ``stream``.

The result is one JSON line on stdout.
"""
import json
import sys
import threading
import time

import numpy

import caffi.ca as ca
from caffi.dbr import DBR
from caffi.monitor import CONNECTED, DISCONNECTED, UPDATE, MonitorGroup

CONNECT_TIMEOUT = 30.0
WARMUP_UPDATES = 200000


def connect_all(prefix, n):
    started = time.monotonic()
    chids = []
    for i in range(n):
        status, chid = ca.create_channel('%s%d' % (prefix, i))
        assert status == ca.ECA.NORMAL, status
        chids.append(chid)
    assert ca.pend_io(CONNECT_TIMEOUT) == ca.ECA.NORMAL, 'not all channels connected'
    return chids, time.monotonic() - started


class Checker:
    """Per-member sequence checks over the rows of many batches, vectorised per batch."""

    def __init__(self, n):
        self.last = numpy.full(n, numpy.nan)       # last value seen per member
        self.rows = numpy.zeros(n, numpy.int64)
        self.gaps = 0                              # updates missing between two rows
        self.backwards = 0                         # steps of 0 or less: duplicates, reordering
        self.events = []                           # (index, event) of connection rows, in order

    def feed(self, batch):
        updates = batch.events == UPDATE
        for i, event in zip(batch.index[~updates].tolist(), batch.events[~updates].tolist()):
            self.events.append((i, event))
            if event == CONNECTED:
                self.last[i] = numpy.nan           # the restarted record counts from 0 again
        index, values = batch.index[updates], batch.values[updates]
        if not len(index):
            return
        order = numpy.argsort(index, kind='stable')  # per member, arrival order kept
        index, values = index[order], values[order]
        previous = numpy.empty_like(values)
        previous[1:] = values[:-1]
        first = numpy.ones(len(index), bool)
        first[1:] = index[1:] != index[:-1]
        previous[first] = self.last[index[first]]
        step = values - previous
        known = ~numpy.isnan(step)
        self.gaps += int(numpy.clip(step[known] - 1, 0, None).sum())
        self.backwards += int((step[known] <= 0).sum())
        ends = numpy.ones(len(index), bool)
        ends[:-1] = index[1:] != index[:-1]
        self.last[index[ends]] = values[ends]
        numpy.add.at(self.rows, index, 1)


def consume(group, checker, stop, period=0.05):
    while not stop():
        if group.wait(0.5):
            time.sleep(period)                     # let a batch gather, as a 20 Hz loop would
            checker.feed(group.drain())
    checker.feed(group.drain())


def rss_kb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def main():
    mode, prefix, n, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    ca.create_context(True)
    chids, connect_time = connect_all(prefix, n)
    result = {'connect_seconds': connect_time}
    if mode == 'stream':
        checker = Checker(n)
        with MonitorGroup(chids, DBR.TIME_DOUBLE, depth=1 << 16) as group:
            ca.flush_io()
            deadline = time.monotonic() + seconds
            consume(group, checker, lambda: time.monotonic() > deadline)
            stats, members = group.stats(), group.member_stats()
        result.update(rows=int(checker.rows.sum()), min_rows=int(checker.rows.min()),
                      gaps=checker.gaps, backwards=checker.backwards,
                      events=len(checker.events), dropped=stats['dropped'],
                      updates=stats['updates'],
                      member_updates_match=bool((members['updates'] == checker.rows).all()))
    elif mode == 'restart':
        checker = Checker(n)
        done = threading.Event()
        with MonitorGroup(chids, DBR.TIME_DOUBLE, depth=1 << 16) as group:
            ca.flush_io()
            worker = threading.Thread(target=consume, args=(group, checker, done.is_set))
            worker.start()
            while (checker.rows == 0).any():
                time.sleep(0.05)
            before = checker.rows.copy()
            gaps_before = checker.gaps
            print('ready', flush=True)
            sys.stdin.readline()                   # the parent killed and restarted the IOC
            done.set()
            worker.join()
            stats = group.stats()
        downs = numpy.zeros(n, numpy.int64)
        ups = numpy.zeros(n, numpy.int64)
        down_before_up = True
        for i, event in checker.events:
            if event == DISCONNECTED:
                downs[i] += 1
            elif event == CONNECTED:
                if downs[i] <= ups[i]:
                    down_before_up = False
                ups[i] += 1
        result.update(members_down=int((downs >= 1).sum()), members_up=int((ups >= 1).sum()),
                      down_before_up=down_before_up, gaps_before=gaps_before,
                      gaps=checker.gaps, backwards=checker.backwards,
                      resumed=int(((checker.rows - before) >= 2).sum()),
                      dropped=stats['dropped'])
    elif mode == 'soak':
        target = int(sys.argv[5]) if len(sys.argv) > 5 else 1000000
        checker = Checker(n)
        samples = {'start': rss_kb()}
        with MonitorGroup(chids, DBR.TIME_DOUBLE, depth=1 << 16) as group:
            ca.flush_io()
            started = time.monotonic()
            deadline = started + seconds
            warm = None                            # (updates, time) at the end of the warm-up

            def done():
                nonlocal warm
                updates = group.stats()['updates']
                if warm is None and updates >= WARMUP_UPDATES:
                    warm = (updates, time.monotonic())
                    samples['warm'] = rss_kb()
                return (warm is not None and updates - warm[0] >= target
                        or time.monotonic() > deadline)

            consume(group, checker, done)
            ended = time.monotonic()
            samples['end'] = rss_kb()
            stats, members = group.stats(), group.member_stats()
        measured = stats['updates'] - warm[0] if warm else 0
        result.update(rss_kb=samples, updates=stats['updates'], measured_updates=measured,
                      measured_seconds=round(ended - warm[1], 2) if warm else None,
                      total_seconds=round(ended - started, 2),
                      rate=round(measured / (ended - warm[1])) if warm else 0,
                      rows=int(checker.rows.sum()), min_rows=int(checker.rows.min()),
                      gaps=checker.gaps, backwards=checker.backwards,
                      events=len(checker.events), dropped=stats['dropped'],
                      failures=stats['failures'],
                      member_updates_match=bool((members['updates'] == checker.rows).all()))
    elif mode == 'churn':
        rounds = int(seconds)
        samples = []
        for round_ in range(rounds):
            with MonitorGroup(chids, DBR.TIME_DOUBLE, depth=4096) as group:
                ca.flush_io()
                time.sleep(0.2)
                group.drain()
            if round_ in (rounds // 3, rounds - 1):
                samples.append(rss_kb())
        result.update(rss_kb=samples)
    for chid in chids:
        ca.clear_channel(chid)
    print(json.dumps(result), flush=True)


if __name__ == '__main__':
    main()
