"""One subscriber process of many_pv_bench.py: N counter PVs, one JSON line out.

    python many_pv_subscriber.py KIND PREFIX N WINDOW_S WARMUP_S [CONNECT_TIMEOUT_S]

PVs PREFIX0 .. PREFIX(N-1) are counters: the IOC adds one at every processing, so a value that
jumps by more than one is a missed update.  KIND is how the updates are taken:

* ``callbacks`` -- ``caffi.ca.create_subscription`` per PV (DBR_TIME_DOUBLE, preemptive
  context), a Python callback per update that checks the counter.  Run through
  peer_launcher.py on caffi 1.0.4, the same code measures that caffi.
* ``group`` -- one ``caffi.monitor.MonitorGroup`` of all N; the main thread is a 20 Hz DAQ
  loop: it waits until a batch has gathered for 50 ms (the group's ``gather``: one wake-up per
  batch), drains it and checks the counters with numpy (a last-value array by member index;
  no Python loop per row).
* ``monitors`` -- one ``caffi.monitor.Monitor`` per PV; the main thread drains every one of
  them every 20 ms and checks what came.
* ``pyepics`` -- ``epics.PV(name, auto_monitor=True, callback=...)`` (its default form, 'time').
* ``aioca`` -- ``aioca.camonitor`` of the list of PVs (FORMAT_TIME, aioca's default
  ``all_updates=False``: updates that arrive while earlier ones wait for the event loop are
  merged into the latest, so a subscriber that falls behind shows gaps rather than an
  unbounded queue; with ``all_updates=True`` it queued 1.3 GB within a minute at N = 5000).
* ``caffi-aio`` -- the same code with ``caffi.aio`` in place of aioca (its camonitor takes the
  updates through MonitorGroup rings, a batch per wake-up of the loop).

The connect time is from the first channel created until all N are connected (caffi:
create_channel for each, then one pend_io; pyepics: PV objects, then wait_for_connection of
each; aioca: ``connect`` of the list).  After WARMUP_S the counters, a copy of the last values
and the process's CPU (getrusage: user + sys of all threads) are sampled, and again after
WINDOW_S.  ``produced`` is how far the counters advanced over the window, summed over the PVs
(what the IOC published); ``updates`` what the subscriber took in, ``missed`` the counter gaps
it saw.  ``rss_bytes`` is read at the end of the window.
"""
import json
import os
import resource
import sys
import time

import numpy

MONITOR_DEPTH = 64          # per-PV ring: 10 Hz drained every 20 ms leaves at most a few waiting
GROUP_LINGER = 0.05         # a 20 Hz DAQ loop: a batch gathers for 50 ms after its first row
MONITORS_PERIOD = 0.02


def cpu_sample():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime, usage.ru_nvcsw


def rss_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


class Tally:
    """Updates taken, gaps seen and the last value per PV (NaN before the first)."""

    def __init__(self, n):
        self.updates = 0
        self.missed = 0
        self.last = [float('nan')] * n

    def snapshot(self):
        return self.updates, self.missed, numpy.array(self.last, dtype=float)


class ArrayTally(Tally):
    def __init__(self, n):
        super().__init__(n)
        self.last = numpy.full(n, numpy.nan)

    def snapshot(self):
        return self.updates, self.missed, self.last.copy()

    def check(self, index, values):
        """Rows (member index, counter value) in arrival order: count the gaps against each
        member's previous value (within the batch, or its last one before it) and keep the
        newest value per member."""
        if not len(index):
            return
        # The usual batch (10 Hz drained at 20 Hz): each member once, one more than before.
        # Five numpy calls take it: a member twice in the batch, a gap or a first value (NaN)
        # makes some step other than <= 1, and the exact path below redoes the batch.
        last = self.last
        previous = last[index]
        steps = values - previous
        last[index] = values
        if (steps <= 1.0).all():
            self.updates += len(index)
            return
        last[index] = previous                              # a member's rows share previous
        order = numpy.argsort(index, kind='stable')        # by member, arrival order kept
        members, counters = index[order], values[order]
        previous = self.last[members]
        same = members[1:] == members[:-1]
        previous[1:][same] = counters[:-1][same]
        jumps = counters - previous - 1.0
        self.missed += int(jumps[jumps > 0].sum())          # NaN (first value) compares False
        newest = numpy.ones(len(members), dtype=bool)
        newest[:-1] = ~same
        self.last[members[newest]] = counters[newest]
        self.updates += len(members)


def callback_for(tally, i):
    last = tally.last

    def on_update(event):
        value = event['value']['value']
        previous = last[i]
        if value > previous + 1:                            # NaN: False
            tally.missed += int(value - previous - 1)
        last[i] = value
        tally.updates += 1
    return on_update


# ---------------------------------------------------------------------------------------------
# caffi: callbacks, a MonitorGroup, Monitors
# ---------------------------------------------------------------------------------------------

def caffi_connect(names, timeout):
    import caffi.ca as ca
    ca.create_context(True)
    t0 = time.perf_counter()
    chids = [ca.create_channel(name)[1] for name in names]
    if ca.pend_io(timeout) != ca.ECA.NORMAL:
        sys.exit('many_pv_subscriber: not all %d channels connected in %g s'
                 % (len(names), timeout))
    return ca, chids, time.perf_counter() - t0


def run_callbacks(names, window, warmup, timeout):
    ca, chids, connect_s = caffi_connect(names, timeout)
    tally = Tally(len(names))
    evids = []
    for i, chid in enumerate(chids):
        status, evid = ca.create_subscription(chid, callback_for(tally, i),
                                              chtype=ca.DBR.TIME_DOUBLE, count=1)
        evids.append(evid)
    ca.flush_io()

    def idle(seconds):
        time.sleep(seconds)

    result = measure(tally, idle, window, warmup)
    result['connect_s'] = connect_s
    for evid in evids:
        ca.clear_subscription(evid)
    ca.flush_io()
    return result, lambda: ca.destroy_context()


def run_group(names, window, warmup, timeout):
    ca, chids, connect_s = caffi_connect(names, timeout)
    from caffi.monitor import UPDATE, MonitorGroup
    tally = ArrayTally(len(names))
    group = MonitorGroup(chids, chtype=ca.DBR.TIME_DOUBLE, count=1, gather=GROUP_LINGER)
    ca.flush_io()
    batches = [0, 0.0]      # drains, CPU seconds of this thread draining and checking

    def consume(seconds):
        end = time.perf_counter() + seconds
        while True:
            remaining = end - time.perf_counter()
            if remaining <= 0:
                return
            if group.wait(min(remaining, 0.1)):        # once the batch has gathered
                t0 = time.thread_time()
                batch = group.drain()
                if batch.events.any():          # connection rows (UPDATE is 0) carry no value
                    updates = batch.events == UPDATE
                    tally.check(batch.index[updates], batch.values[updates])
                else:
                    tally.check(batch.index, batch.values)
                del batch
                batches[1] += time.thread_time() - t0
                batches[0] += 1

    result = measure(tally, consume, window, warmup, batches)
    stats = group.stats()
    result.update(connect_s=connect_s, dropped=stats['dropped'], depth=group.depth)
    group.close()
    return result, lambda: ca.destroy_context()


def run_monitors(names, window, warmup, timeout):
    ca, chids, connect_s = caffi_connect(names, timeout)
    from caffi.monitor import Monitor
    tally = Tally(len(names))
    monitors = [Monitor(chid, ca.DBR.TIME_DOUBLE, count=1, depth=MONITOR_DEPTH)
                for chid in chids]
    ca.flush_io()
    last = tally.last

    def consume(seconds):
        end = time.perf_counter() + seconds
        tick = time.perf_counter()
        while time.perf_counter() < end:
            for i, monitor in enumerate(monitors):
                batch = monitor.drain()
                if len(batch.counts):
                    values = batch.values[:, 0].tolist()
                    previous = last[i]
                    for value in values:
                        if value > previous + 1:
                            tally.missed += int(value - previous - 1)
                        previous = value
                    last[i] = previous
                    tally.updates += len(values)
            tick += MONITORS_PERIOD
            delay = min(tick, end) - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:           # a sweep took longer than the period: the next one at once
                tick = time.perf_counter()

    result = measure(tally, consume, window, warmup)
    result.update(connect_s=connect_s, dropped=sum(m.stats()['dropped'] for m in monitors),
                  depth=MONITOR_DEPTH)
    for monitor in monitors:
        monitor.close()
    return result, lambda: ca.destroy_context()


# ---------------------------------------------------------------------------------------------
# peers: pyepics, aioca
# ---------------------------------------------------------------------------------------------

def run_pyepics(names, window, warmup, timeout):
    import epics
    tally = Tally(len(names))
    last = tally.last

    def callback_for_pv(i):
        def on_update(value=None, **kw):
            previous = last[i]
            if value > previous + 1:
                tally.missed += int(value - previous - 1)
            last[i] = value
            tally.updates += 1
        return on_update

    t0 = time.perf_counter()
    pvs = [epics.PV(name, auto_monitor=True, callback=callback_for_pv(i))
           for i, name in enumerate(names)]
    deadline = t0 + timeout
    for pv in pvs:
        if not pv.wait_for_connection(timeout=max(0.0, deadline - time.perf_counter())):
            sys.exit('many_pv_subscriber: pyepics: %s did not connect' % pv.pvname)
    connect_s = time.perf_counter() - t0
    result = measure(tally, time.sleep, window, warmup)
    result['connect_s'] = connect_s
    for pv in pvs:
        pv.clear_callbacks()
        pv.clear_auto_monitor()
    return result, None


def run_caffi_aio(names, window, warmup, timeout):
    """caffi.aio: aioca's API on MonitorGroup rings, the same code as the aioca peer."""
    return run_aioca(names, window, warmup, timeout, module='caffi.aio')


def run_aioca(names, window, warmup, timeout, module='aioca'):
    import asyncio
    import importlib
    aioca = importlib.import_module(module)
    tally = Tally(len(names))
    last = tally.last

    def on_update(value, i):
        previous = last[i]
        if value > previous + 1:
            tally.missed += int(value - previous - 1)
        last[i] = float(value)
        tally.updates += 1

    async def main():
        t0 = time.perf_counter()
        await aioca.connect(names, timeout=timeout)
        connect_s = time.perf_counter() - t0
        subscriptions = aioca.camonitor(names, on_update, format=aioca.FORMAT_TIME)

        async def idle(seconds):
            await asyncio.sleep(seconds)

        result = await measure_async(tally, idle, window, warmup)
        result['connect_s'] = connect_s
        for subscription in subscriptions:
            subscription.close()
        return result

    return asyncio.run(main()), None


# ---------------------------------------------------------------------------------------------
# the window
# ---------------------------------------------------------------------------------------------

def sample(tally, extra):
    return (tally.snapshot(), cpu_sample(), time.perf_counter(), tuple(extra or (0, 0.0)))


def result_of(start, end, n):
    (u0, m0, last0), c0, t0, b0 = start
    (u1, m1, last1), c1, t1, b1 = end
    seen = ~(numpy.isnan(last0) | numpy.isnan(last1))
    user, system = c1[0] - c0[0], c1[1] - c0[1]
    return {'updates': u1 - u0, 'missed': m1 - m0,
            'produced': float((last1[seen] - last0[seen]).sum()),
            'unseen': int(n - seen.sum()), 'seconds': t1 - t0, 'cpu_s': user + system,
            'cpu_user_s': user, 'cpu_sys_s': system, 'vol_ctx_switches': c1[2] - c0[2],
            'rss_bytes': rss_bytes(), 'channels': n, 'batches': b1[0] - b0[0],
            'consumer_s': b1[1] - b0[1]}


def measure(tally, consume, window, warmup, extra=None):
    consume(warmup)
    start = sample(tally, extra)
    consume(window)
    end = sample(tally, extra)
    return result_of(start, end, len(tally.last))


async def measure_async(tally, consume, window, warmup):
    await consume(warmup)
    start = sample(tally, None)
    await consume(window)
    end = sample(tally, None)
    return result_of(start, end, len(tally.last))


KINDS = {'callbacks': run_callbacks, 'group': run_group, 'monitors': run_monitors,
         'pyepics': run_pyepics, 'aioca': run_aioca, 'caffi-aio': run_caffi_aio}


def backend_name(kind):
    if kind == 'pyepics':
        import epics
        return 'pyepics %s' % epics.__version__
    if kind == 'aioca':
        import aioca
        return 'aioca %s' % getattr(aioca, '__version__', '?')
    import caffi
    return 'caffi %s %s' % (getattr(caffi, '__version__', '?'), kind)


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    kind, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    window, warmup = float(sys.argv[4]), float(sys.argv[5])
    timeout = float(sys.argv[6]) if len(sys.argv) > 6 else 30.0
    names = ['%s%d' % (prefix, i) for i in range(n)]
    result, finish = KINDS[kind](names, window, warmup, timeout)
    result['backend'] = backend_name(kind)
    print(json.dumps(result), flush=True)
    if finish is None:
        # pyepics and aioca finalize libca in atexit handlers that may race the last updates;
        # the result is out, so leave without them
        sys.stderr.flush()
        os._exit(0)
    finish()


if __name__ == '__main__':
    main()
