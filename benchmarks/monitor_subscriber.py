"""caffi's buffered-monitor subscriber for the monitor benchmark: a Monitor instead of a callback.

    python monitor_subscriber.py PV TYPE WINDOW_S WARMUP_S [numpy|list] [DEPTH] [LINGER_S]

Same command line and JSON line as the callback subscriber (py_client.py ``monitor`` mode, and
c/ca_subscriber.c): preemptive context, one Monitor (count 0: the server's current length,
DBE_VALUE|DBE_ALARM) of the requested DBR type.  The consumer is this process's main thread:
it waits (without the GIL) for the ring to hold something, drains everything waiting into one
Batch and touches it (``batch.values.shape`` and the batch length), which is the least a real
client does.  ``numpy|list`` is accepted for the same command line; a Monitor always hands
out ndarrays.  DEPTH (slots in the ring) defaults to 4096 for scalars and small arrays,
fewer for big ones (32 MB of ring at most, never under 16: 16 for the 1M-element waveform).
LINGER_S (default 0): after a wake-up, sleep this long before draining, so that one drain
takes more updates (fewer wake-ups and allocations per update, at that much more latency).

Measured over the window (after the warm-up): updates *taken out* of the ring by the consumer,
wall time and process CPU (getrusage: user + sys of all threads, libca's included).  Extra
keys beside py_client's: ``dropped`` (ring overflow over the window), ``delivered`` (updates
libca handed to the ring over the window, stats()['updates']), ``batches`` and ``depth``.
"""
import json
import sys
import time

import caffi
import caffi.ca as ca
from caffi.monitor import Monitor
from py_client import cpu_sample, window_figures

RING_BYTES = 32 * 1024 * 1024


def default_depth(row_bytes):
    return max(16, min(4096, RING_BYTES // max(row_bytes, 1)))


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    pv, type_name, window, warmup = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    representation = sys.argv[5] if len(sys.argv) > 5 else 'numpy'
    request = ca.DBR[type_name[len('DBR_'):]]
    ca.create_context(True)
    status, chid = ca.create_channel(pv)
    if ca.pend_io(5) != ca.ECA.NORMAL:
        sys.exit(f'monitor_subscriber: cannot connect to {pv}')
    elements = ca.element_count(chid)
    item_size = ca.dbr_size_n(request, elements)     # bytes of one update as libca hands it over
    depth = int(sys.argv[6]) if len(sys.argv) > 6 and sys.argv[6] else default_depth(item_size)
    linger = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0
    monitor = Monitor(chid, request, depth=depth)
    ca.flush_io()

    taken = [0, 0]      # updates, batches

    def consume_until(end):
        while True:
            remaining = end - time.perf_counter()
            if remaining <= 0:
                return
            if monitor.wait(min(remaining, 0.1)):
                if linger:
                    time.sleep(linger)
                batch = monitor.drain()
                batch.values.shape
                taken[0] += len(batch.counts)
                taken[1] += 1
                del batch       # done with it: its store is the ring's next spare

    consume_until(time.perf_counter() + warmup)
    s0, u0, k0, c0, t0 = monitor.stats(), taken[0], taken[1], cpu_sample(), time.perf_counter()
    consume_until(t0 + window)
    s1, u1, k1, c1, t1 = monitor.stats(), taken[0], taken[1], cpu_sample(), time.perf_counter()
    print(json.dumps(dict(
        window_figures(u1 - u0, t1 - t0, c0, c1, item_size),
        type=type_name, elements=elements, errors=s1['failures'] - s0['failures'],
        dropped=s1['dropped'] - s0['dropped'], delivered=s1['updates'] - s0['updates'],
        batches=k1 - k0, depth=depth, linger_s=linger, representation=representation,
        backend='caffi-monitor %s' % getattr(caffi, '__version__', '?'),
    )), flush=True)
    monitor.close()
    ca.clear_channel(chid)
    ca.destroy_context()


if __name__ == '__main__':
    main()
