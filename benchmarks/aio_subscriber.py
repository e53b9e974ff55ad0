"""One client process of aio_bench.py: an asyncio Channel Access client with aioca's API.

    python aio_subscriber.py MODULE many PREFIX N WINDOW_S WARMUP_S CONNECT_TIMEOUT_S ALL_UPDATES
    python aio_subscriber.py MODULE one PV FORMAT WINDOW_S WARMUP_S ALL_UPDATES
    python aio_subscriber.py MODULE caget PREFIX N ITERATIONS TIMEOUT_S

MODULE is imported by name (``importlib.import_module``): ``aioca`` (the peer, run through
peer_launcher.py) or ``caffi.aio`` (this caffi), which has aioca 2.x's API, so the code below is
the same for both.  ALL_UPDATES is ``1`` or ``0`` (camonitor's ``all_updates``).

* ``many`` -- PREFIX0 .. PREFIX(N-1) are counters (calc records, VAL+1 at 10 Hz): ``connect``
  of the list (the connect time), then one ``camonitor(list, callback, format=FORMAT_TIME,
  all_updates=...)``; the callback (value, index) checks the counter of that PV (a jump of more
  than one is a missed update) and keeps its last value.  The window is measured as in
  many_pv_subscriber.py (same keys: updates, missed, produced, unseen, seconds, cpu_s, ...).
* ``one`` -- one PV at the C publisher's full rate (element 0 of what it puts is a counter):
  ``camonitor(pv, callback, format=FORMAT_TIME or FORMAT_RAW, all_updates=...)``; the callback
  takes the float out of a scalar, or element 0 and the length of an array, and checks the
  counter.  Keys as ca_subscriber.c's (updates, seconds, cpu_s, cpu_us_per_update,
  updates_per_s, ...) plus missed.
* ``caget`` -- ``caget`` of the list of N PVs in one call: the first one (cold_s: creates and
  connects the channels), then ITERATIONS more, each timed (gets: wall seconds); CPU over those.
  Keys as ca_caget_many.c's.

CPU is getrusage(RUSAGE_SELF): user + sys of every thread of the process (libca's, the event
loop's).  The many / one windows are timed by a thread of their own (see measured_by_thread:
an event loop that falls behind must not stretch the window, or never end it), which reads
the callback's counters.  One JSON line goes to stdout; the process then leaves with
os._exit(0) (aioca finalizes libca in an atexit handler that may race the last updates).
"""
import asyncio
import importlib
import json
import os
import resource
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)    # under peer_launcher.py (python -I, runpy) the script's
#                             directory is not on sys.path
from many_pv_subscriber import Tally, result_of, rss_bytes, sample  # noqa: E402


def cpu_sample():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime, usage.ru_nvcsw, usage.ru_minflt


def finish(result):
    """Print the one JSON line and leave at once (aioca finalizes libca in an atexit handler
    that may race the last updates; the result is out)."""
    print(json.dumps(result), flush=True)
    sys.stderr.flush()
    os._exit(0)


async def measured_by_thread(window_result):
    """The window is timed by a thread of its own, not by the event loop: a library whose loop
    falls behind (aioca runs every queued callback in one loop callback that does not return
    while libca keeps queueing more) would never get back to an ``asyncio.sleep`` timer and the
    window would never end.  The thread samples the counters and the process CPU, prints the
    result and ends the process; the loop only keeps running meanwhile."""
    def run():
        try:
            result = window_result()
            result['backend'] = BACKEND[0]
        except BaseException as exc:  # noqa: BLE001  (report it, do not hang)
            print('aio_subscriber: measuring thread failed: %r' % exc, file=sys.stderr,
                  flush=True)
            os._exit(1)
        finish(result)

    threading.Thread(target=run, name='window', daemon=True).start()
    await asyncio.get_running_loop().create_future()       # until the thread ends the process


BACKEND = ['?']


def dropped(subscriptions):
    """aioca's Subscription.dropped_callbacks (updates merged away), summed, if it has it."""
    counts = [getattr(s, 'dropped_callbacks', None) for s in subscriptions]
    return sum(counts) if counts and None not in counts else None


async def run_many(mod, prefix, n, window, warmup, timeout, all_updates):
    names = ['%s%d' % (prefix, i) for i in range(n)]
    tally = Tally(n)
    last = tally.last

    def on_update(value, i):
        value = float(value)
        previous = last[i]
        if value > previous + 1:                            # NaN (first value): False
            tally.missed += int(value - previous - 1)
        last[i] = value
        tally.updates += 1

    t0 = time.perf_counter()
    await mod.connect(names, timeout=timeout)
    connect_s = time.perf_counter() - t0
    subscriptions = mod.camonitor(names, on_update, format=mod.FORMAT_TIME,
                                  all_updates=all_updates)

    def window_result():
        time.sleep(warmup)
        start = sample(tally, None)
        time.sleep(window)
        end = sample(tally, None)
        result = result_of(start, end, n)
        result.update(connect_s=connect_s, dropped_callbacks=dropped(subscriptions))
        return result

    await measured_by_thread(window_result)


async def run_one(mod, pv, fmt, window, warmup, all_updates):
    state = {'updates': 0, 'missed': 0, 'last': float('nan'), 'elements': 0}

    if fmt == 'time':
        def on_update(value):
            counter = float(value)
            previous = state['last']
            if counter > previous + 1:
                state['missed'] += int(counter - previous - 1)
            state['last'] = counter
            state['updates'] += 1
    else:
        def on_update(value):
            counter = float(value[0])
            state['elements'] = len(value)
            previous = state['last']
            if counter > previous + 1:
                state['missed'] += int(counter - previous - 1)
            state['last'] = counter
            state['updates'] += 1

    subscription = mod.camonitor(pv, on_update,
                                 format=mod.FORMAT_TIME if fmt == 'time' else mod.FORMAT_RAW,
                                 all_updates=all_updates)
    def window_result():
        time.sleep(warmup)
        u0, m0, c0, t0 = state['updates'], state['missed'], cpu_sample(), time.perf_counter()
        time.sleep(window)
        u1, m1, c1, t1 = state['updates'], state['missed'], cpu_sample(), time.perf_counter()
        n, seconds = u1 - u0, t1 - t0
        user, system = c1[0] - c0[0], c1[1] - c0[1]
        return {'updates': n, 'missed': m1 - m0, 'seconds': seconds, 'cpu_s': user + system,
                'cpu_user_s': user, 'cpu_sys_s': system,
                'cpu_us_per_update': (user + system) * 1e6 / n if n else None,
                'updates_per_s': n / seconds, 'elements': state['elements'],
                'mb_per_s': n * 8 * max(1, state['elements']) / seconds / 1e6,
                'vol_ctx_switches': c1[2] - c0[2], 'minor_faults': c1[3] - c0[3],
                'dropped_callbacks': dropped([subscription]), 'rss_bytes': rss_bytes()}

    await measured_by_thread(window_result)


async def run_caget(mod, prefix, n, iterations, timeout):
    names = ['%s%d' % (prefix, i) for i in range(n)]
    t0 = time.perf_counter()
    values = await mod.caget(names, timeout=timeout)
    cold_s = time.perf_counter() - t0
    if len(values) != n:
        sys.exit('aio_subscriber: caget returned %d values for %d PVs' % (len(values), n))
    gets = []
    checksum = 0.0
    c0 = cpu_sample()
    for k in range(iterations):
        g0 = time.perf_counter()
        values = await mod.caget(names, timeout=timeout)
        gets.append(time.perf_counter() - g0)
        checksum += float(values[k % n])
    c1 = cpu_sample()
    user, system = c1[0] - c0[0], c1[1] - c0[1]
    return {'cold_s': cold_s, 'gets': gets, 'cpu_s': user + system, 'cpu_user_s': user,
            'cpu_sys_s': system, 'iterations': iterations, 'channels': n,
            'checksum': checksum, 'rss_bytes': rss_bytes()}


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    mod = importlib.import_module(sys.argv[1])
    BACKEND[0] = '%s %s' % (mod.__name__, getattr(mod, '__version__', '?'))
    kind, args = sys.argv[2], sys.argv[3:]
    if kind == 'many':
        prefix, n, window, warmup, timeout, all_updates = args
        coro = run_many(mod, prefix, int(n), float(window), float(warmup), float(timeout),
                        all_updates == '1')
    elif kind == 'one':
        pv, fmt, window, warmup, all_updates = args
        coro = run_one(mod, pv, fmt, float(window), float(warmup), all_updates == '1')
    elif kind == 'caget':
        prefix, n, iterations, timeout = args
        coro = run_caget(mod, prefix, int(n), int(iterations), float(timeout))
    else:
        sys.exit('aio_subscriber: unknown kind %r' % kind)
    result = asyncio.run(coro)          # many / one: the measuring thread ends the process
    result['backend'] = BACKEND[0]
    finish(result)


if __name__ == '__main__':
    main()
