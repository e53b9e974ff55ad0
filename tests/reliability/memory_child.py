"""Resident memory of caffi under repeated work, run as a child process by test_memory.py.

usage: python memory_child.py MODE ITERATIONS [--warmup FRACTION] [--samples N]

Needs the reference IOC (the EPICS_CA_* variables come from the parent's environment).

modes:
  monitor        a subscription on catest (ao, DOUBLE); the child itself puts changing values
                 to catest and counts callback deliveries until ITERATIONS updates arrived
  monitor_numpy  the same on cawave (DOUBLE x 20) with use_numpy=True, driven by puts of 20
                 doubles; the callback checks it gets a float64 ndarray of 20 elements
  get            get(catest) without callback + pend_io + DBRValue.get(), ITERATIONS times
  channels       create_channel / pend_io (connected) / clear_channel, ITERATIONS channels in
                 batches of 100 (one at a time, each cycle would wait ~30 ms for libca's
                 search timer)
  channels_sub   as channels, each channel with a connection handler, an access-rights
                 handler, a subscription (initial update awaited) and a get with callback
                 still pending when the channel is cleared

RSS is read from /proc/self/statm after gc.collect() and glibc's malloc_trim(0) (which returns
free heap pages to the system, so memory that is free but cached by malloc does not count;
leaked blocks stay resident). The baseline is taken once the warm-up fraction of the
iterations is done (default 20 %), the final value at the end; the work is paused (and the
monitor stream drained) while measuring.

Prints one line ``MEMORY-RESULT {json}`` with rss_baseline, rss_final (bytes), growth
(final/baseline - 1), iterations, deliveries, seconds and the RSS samples taken in between.
"""

import argparse
import ctypes
import gc
import json
import os
import sys
import threading
import time

import caffi.ca as ca
from caffi.constants import CA_OP, ECA, ChannelState

PAGE = os.sysconf('SC_PAGE_SIZE')
TIMEOUT = 10.0
BATCH = 100
CHANNEL_NAMES = ('catest', 'calong', 'cabo', 'castr', 'cawave')

try:
    _malloc_trim = ctypes.CDLL('libc.so.6').malloc_trim
except (OSError, AttributeError):      # not glibc
    _malloc_trim = None


def rss():
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * PAGE


class Meter(object):
    """Baseline after the warm-up, samples every 1/n of the run, final at the end."""

    def __init__(self, iterations, warmup, samples):
        self.iterations = iterations
        self.warmup_at = max(1, int(iterations * warmup))
        step = max(1, (iterations - self.warmup_at) // samples)
        self.marks = list(range(self.warmup_at, iterations, step))[1:]
        self.baseline = None
        self.samples = []

    def due(self, done):
        return (self.baseline is None and done >= self.warmup_at) or \
            (self.marks and done >= self.marks[0])

    def take(self, done):
        value = rss()
        if self.baseline is None:
            self.baseline = value
        else:
            while self.marks and done >= self.marks[0]:
                self.marks.pop(0)
        self.samples.append((done, value))


class Counter(object):
    """Subscription callback: counts deliveries; optionally checks the numpy value."""

    def __init__(self, check_numpy=False):
        self.n = 0
        self.bad = 0
        self.check_numpy = check_numpy
        self.cond = threading.Condition()

    def __call__(self, arg):
        ok = arg['status'] == ECA.NORMAL
        if ok and self.check_numpy:
            value = arg['value']
            ok = type(value).__name__ == 'ndarray' and value.shape == (20,) and \
                value.dtype.name == 'float64'
        with self.cond:
            self.n += 1
            if not ok:
                self.bad += 1
            self.cond.notify_all()

    def wait_quiet(self, target, timeout=TIMEOUT):
        """Wait until `target` deliveries arrived, or the stream stalled for 0.5 s."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.n < target and time.monotonic() < deadline:
                before = self.n
                self.cond.wait(0.5)
                if self.n == before:
                    break


def connect(name):
    status, chid = ca.create_channel(name)
    assert status == ECA.NORMAL, (name, status)
    assert ca.pend_io(TIMEOUT) == ECA.NORMAL, name
    return chid


def run_monitor(n, meter, use_numpy):
    """Drive `n` subscription deliveries with our own puts.

    catest: one subscription; puts run ahead of the deliveries by up to WINDOW (the server
    queues every update of a scalar field).
    cawave: the server keeps at most one pending update per subscription of an array field
    and merges the rest, so puts go in lock-step with the deliveries, and SUBS subscriptions
    on the channel each get every update (each put gives SUBS deliveries).
    """
    name = 'cawave' if use_numpy else 'catest'
    subs = 10 if use_numpy else 1
    window = 1 if use_numpy else 200               # puts ahead of the deliveries
    chid = connect(name)
    counter = Counter(check_numpy=use_numpy)
    evids = []
    for _ in range(subs):
        status, evid = ca.create_subscription(chid, counter, use_numpy=use_numpy)
        assert status == ECA.NORMAL, status
        evids.append(evid)
    ca.flush_io()
    counter.wait_quiet(subs)        # the initial updates, if any
    with counter.cond:
        counter.n = 0               # count the updates caused by our puts only
        counter.bad = 0
    if use_numpy:
        import numpy as np
        wave = np.arange(20, dtype=np.float64)
    sent = 0
    coalesced = 0       # expected deliveries the server merged into later ones
    last_flush = 0
    high = window * subs
    low = 0 if window == 1 else high // 2

    def lag():
        return sent * subs - coalesced - counter.n

    while counter.n < n:
        sent += 1
        if use_numpy:
            wave[0] = sent % 1000
            status = ca.put(chid, wave)
        else:
            status = ca.put(chid, float(sent % 19 - 9))     # inside the alarm limits
        assert status == ECA.NORMAL, status
        if sent - last_flush >= 50:
            ca.flush_io()
            last_flush = sent
        if lag() >= high:
            ca.flush_io()
            last_flush = sent
            with counter.cond:
                if not counter.cond.wait_for(lambda: lag() <= low, 1.0):
                    # The server merged queued updates (CA flow control): those puts
                    # never give a delivery of their own.
                    coalesced = sent * subs - counter.n
        if meter.due(counter.n):
            ca.flush_io()
            counter.wait_quiet(sent * subs - coalesced)
            meter.take(counter.n)
    ca.flush_io()
    counter.wait_quiet(sent * subs - coalesced)
    meter.take(counter.n)
    for evid in evids:
        assert ca.clear_subscription(evid) == ECA.NORMAL
    assert ca.clear_channel(chid) == ECA.NORMAL
    return {'deliveries': counter.n, 'puts': sent, 'subscriptions': subs,
            'bad_deliveries': counter.bad, 'coalesced_estimate': coalesced}


def run_get(n, meter):
    chid = connect('catest')
    assert ca.put(chid, 1.5) == ECA.NORMAL
    for i in range(1, n + 1):
        status, dbrvalue = ca.get(chid)
        assert status == ECA.NORMAL, status
        assert ca.pend_io(TIMEOUT) == ECA.NORMAL
        value = dbrvalue.get()
        assert type(value) is float, value
        del dbrvalue, value
        if meter.due(i):
            meter.take(i)
    meter.take(n)
    assert ca.clear_channel(chid) == ECA.NORMAL
    return {'deliveries': n}


def run_channels(n, meter, with_callbacks):
    events = Counter()
    updates = Counter()

    def on_connection(arg):
        if arg['op'] == CA_OP.CONN_UP:
            with events.cond:
                events.n += 1
                events.cond.notify_all()

    def on_access(arg):
        pass

    def on_read(arg):
        pass

    done = 0
    names = [CHANNEL_NAMES[i % len(CHANNEL_NAMES)] for i in range(BATCH)]
    while done < n:
        batch = min(BATCH, n - done)
        chids = []
        with events.cond:
            events.n = 0
        with updates.cond:
            updates.n = 0
        for name in names[:batch]:
            status, chid = ca.create_channel(name, on_connection if with_callbacks else None)
            assert status == ECA.NORMAL, status
            chids.append(chid)
        if with_callbacks:
            ca.flush_io()
            with events.cond:
                assert events.cond.wait_for(lambda: events.n >= batch, TIMEOUT), events.n
            for chid in chids:
                assert ca.replace_access_rights_event(chid, on_access) == ECA.NORMAL
                status, evid = ca.create_subscription(chid, updates)
                assert status == ECA.NORMAL, status
            ca.flush_io()
            with updates.cond:
                assert updates.cond.wait_for(lambda: updates.n >= batch, TIMEOUT), updates.n
            for chid in chids:
                status, _ = ca.get(chid, callback=on_read)
                assert status == ECA.NORMAL, status
        else:
            assert ca.pend_io(TIMEOUT) == ECA.NORMAL
        for chid in chids:
            assert ca.state(chid) == ChannelState.CONN
            assert ca.clear_channel(chid) == ECA.NORMAL
        del chids, chid
        done += batch
        if meter.due(done):
            ca.pend_event(0.05)     # let libca finish the circuit work of the cleared channels
            meter.take(done)
    ca.pend_event(0.05)
    meter.take(n)
    return {'deliveries': done}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('mode', choices=['monitor', 'monitor_numpy', 'get', 'channels',
                                         'channels_sub'])
    parser.add_argument('iterations', type=int)
    parser.add_argument('--warmup', type=float, default=0.2)
    parser.add_argument('--samples', type=int, default=8)
    args = parser.parse_args()

    import faulthandler
    faulthandler.enable()
    assert ca.create_context(True) == ECA.NORMAL
    started = time.monotonic()
    meter = Meter(args.iterations, args.warmup, args.samples)
    if args.mode == 'monitor':
        extra = run_monitor(args.iterations, meter, use_numpy=False)
    elif args.mode == 'monitor_numpy':
        extra = run_monitor(args.iterations, meter, use_numpy=True)
    elif args.mode == 'get':
        extra = run_get(args.iterations, meter)
    else:
        extra = run_channels(args.iterations, meter, args.mode == 'channels_sub')
    final = meter.samples[-1][1]
    result = dict(mode=args.mode, iterations=args.iterations, warmup=args.warmup,
                  rss_baseline=meter.baseline, rss_final=final,
                  growth=final / float(meter.baseline) - 1.0,
                  seconds=round(time.monotonic() - started, 2), samples=meter.samples,
                  malloc_trim=_malloc_trim is not None, **extra)
    ca.destroy_context()
    print('MEMORY-RESULT ' + json.dumps(result), flush=True)


if __name__ == '__main__':
    main()
