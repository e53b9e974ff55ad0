"""Data acquisition with a buffered monitor: every update of a waveform into one numpy array.

    python examples/monitor_daq.py [PV] [-n FRAMES] [--depth SLOTS] [--batch-ms MS] [--write]

A caffi.monitor.Monitor keeps the updates in a ring in C (libca's callback fills it without the
GIL); this loop wakes when something arrived, lets a batch gather for --batch-ms, drains it and
copies the batch into rows of a preallocated (FRAMES, elements) array, with the server's time
stamps and alarm severities beside it.  Updates the ring had to drop (a consumer too slow for
the rate) are counted, never silently lost.  With --write, a thread of the script drives the
PV itself, writing a waveform whose element 0 is a frame counter, and the script checks that
every frame arrived once and in order.

The client environment (EPICS_CA_ADDR_LIST, EPICS_CA_SERVER_PORT, ...) selects the server; the
default PV is ``cawave``, the DOUBLE[20] waveform of the test IOC (tests/ioc/test.db).
"""
import argparse
import sys
import threading
import time

import numpy as np

import caffi.ca as ca
from caffi.constants import ECA
from caffi.dbr import DBR
from caffi.monitor import Monitor


def write_counter_frames(context, chid, elements, frames, stop, delivered):
    """Write frames 1..frames, each waited for (put with callback) and, since the IOC replaces
    an array event still queued for a client by the next one, written only once the server
    has sent the previous frame (`delivered()` counts what it sent); until told to stop."""
    ca.attach_context(context)              # libca contexts are per thread
    try:
        done = threading.Semaphore(0)
        frame = np.linspace(0.0, 1.0, elements)
        for i in range(1, frames + 1):
            if stop.is_set():
                return
            frame[0] = i
            if ca.put(chid, frame, callback=lambda _: done.release()) != ECA.NORMAL:
                return
            ca.flush_io()
            if not done.acquire(timeout=5.0):
                return
            deadline = time.monotonic() + 5.0
            while delivered() < i and time.monotonic() < deadline and not stop.is_set():
                time.sleep(0.0005)
    finally:
        ca.detach_context()


def acquire(pv, n, depth, batch_s, write, timeout):
    status, chid = ca.create_channel(pv)
    if status != ECA.NORMAL or ca.pend_io(timeout) != ECA.NORMAL:
        raise SystemExit(f'{pv}: not connected within {timeout} s')
    elements = ca.element_count(chid)
    values = np.zeros((n, elements))                # the acquisition, preallocated
    stamps = np.zeros(n)
    severities = np.zeros(n, np.int16)
    got = 0

    writer, stop = None, threading.Event()
    with Monitor(chid, DBR.TIME_DOUBLE, depth=depth, overflow='drop_oldest') as monitor:
        ca.flush_io()                               # the subscription leaves with the flush
        if write:
            # the first update is the value before the acquisition: wait for it, then drop it
            if not monitor.wait(timeout):
                raise SystemExit(f'{pv}: no first update within {timeout} s')
            monitor.drain()
            first = monitor.stats()['updates']
            writer = threading.Thread(target=write_counter_frames, daemon=True,
                                      args=(ca.current_context(), chid, elements, n, stop,
                                            lambda: monitor.stats()['updates'] - first))
            writer.start()
        deadline = time.monotonic() + timeout + n * 0.05
        while got < n and time.monotonic() < deadline:
            if not monitor.wait(0.5):               # blocks without the GIL
                continue
            time.sleep(batch_s)                     # let a batch gather: one drain, many frames
            batch = monitor.drain(n - got)          # (k, elements) rows, oldest first
            k = len(batch.counts)
            values[got:got + k] = batch.values      # one copy into the acquisition
            stamps[got:got + k] = batch.timestamps
            severities[got:got + k] = batch.severity
            got += k
            del batch                               # its ring store is reused at once
        stop.set()
        counters = monitor.stats()
    if writer is not None:
        writer.join()
    ca.clear_channel(chid)

    print(f'{pv}: {got}/{n} frames of {elements} elements into a {values.shape} array; '
          f'{counters["dropped"]} dropped by the ring, {counters["failures"]} failed deliveries')
    if got > 1:
        span = stamps[got - 1] - stamps[0]
        print(f'server time span {span:.3f} s, {(got - 1) / span if span else 0:.1f} frames/s; '
              f'frames in alarm: {int(np.count_nonzero(severities[:got]))}')
    if write:
        in_order = values[:got, 0].tolist() == list(range(1, got + 1))
        print('frame counters: ' + ('1..%d, each once, in order' % got if in_order
                                    else 'OUT OF ORDER or missing'))
        return 0 if got == n and in_order and not counters['dropped'] else 1
    return 0 if got == n else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('pv', nargs='?', default='cawave', help='waveform PV (default: cawave)')
    parser.add_argument('-n', type=int, default=200, help='frames to acquire (default: 200)')
    parser.add_argument('--depth', type=int, default=256, help='ring slots (default: 256)')
    parser.add_argument('--batch-ms', type=float, default=5.0,
                        help='time a batch gathers after a wake-up, ms (default: 5)')
    parser.add_argument('--write', action='store_true',
                        help='drive the PV with frame counters and check their order')
    parser.add_argument('--timeout', type=float, default=5.0, help='connection timeout, s')
    args = parser.parse_args(argv)
    if ca.create_context(True) != ECA.NORMAL:
        raise SystemExit('no preemptive CA context')
    try:
        return acquire(args.pv, args.n, args.depth, args.batch_ms / 1000, args.write,
                       args.timeout)
    finally:
        ca.destroy_context()


if __name__ == '__main__':
    sys.exit(main())
