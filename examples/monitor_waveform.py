"""Monitor a DOUBLE waveform into numpy arrays and report the update rate.

    python examples/monitor_waveform.py [PV] [--seconds N]

With no PV, it starts an embedded soft IOC (from epicscorelibs, CA only, 127.0.0.1, a free port;
see caffi/_embedded_ioc.py) with a 1M-element waveform, and a writer thread puts a counter into
it so the monitor has updates. `caffi demo` does the same with a live progress line.
"""
import argparse
import contextlib
import sys
import threading
import time

DEMO_DB = '''
record(waveform, "demo:wave") {
    field(FTVL, "DOUBLE")
    field(NELM, "1000000")
}
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('pv', nargs='?', help='waveform PV (default: an embedded demo IOC)')
    parser.add_argument('--seconds', type=float, default=3.0)
    args = parser.parse_args()

    from caffi._embedded_ioc import EmbeddedIoc

    # The embedded IOC sets the EPICS_CA_* client variables in os.environ on entry: libca reads
    # them when the context is created, so the context is created inside the `with`.
    embedded = EmbeddedIoc(DEMO_DB) if args.pv is None else contextlib.nullcontext()
    with embedded:
        run(args.pv or 'demo:wave', args.seconds, publish=args.pv is None)


def run(pv, seconds, publish):
    import numpy as np
    import caffi.ca as ca
    from caffi.stats import stats

    ca.create_context(True)
    status, chid = ca.create_channel(pv)
    if ca.pend_io(15) != ca.ECA.NORMAL:
        sys.exit(f'{pv}: not found')
    count = ca.element_count(chid)

    updates = []                # one (arrival time, array) per update, arrays from numpy
    def on_update(event):
        if event['value'] is not None:
            updates.append((time.perf_counter(), event['value']))

    status, evid = ca.create_subscription(chid, on_update, use_numpy=True)

    stop = threading.Event()
    writer = None
    if publish:
        context = ca.current_context()

        def publish_counter():      # the demo's own writer: a counter in element 0
            ca.attach_context(context)          # so that flush_io flushes the monitor's context
            data = np.zeros(count)
            done = threading.Event()
            while not stop.is_set():
                data[0] += 1
                done.clear()
                ca.put(chid, data, callback=lambda result: done.set())
                ca.flush_io()
                done.wait(5)                    # one write at a time, as fast as the IOC takes them
            ca.detach_context()
        writer = threading.Thread(target=publish_counter, daemon=True)
        writer.start()

    time.sleep(seconds)
    stop.set()
    if writer is not None:
        writer.join(10)
    received = len(updates)
    if received < 2:
        sys.exit(f'{pv}: only {received} update(s) in {seconds} s')
    span = updates[-1][0] - updates[0][0]
    rate = (received - 1) / span
    last = updates[-1][1]
    print(f'{pv}: {received} updates of {last.size} x {last.dtype} in {span:.2f} s: '
          f'{rate:.1f} updates/s, {rate * last.nbytes / 1e6:.1f} MB/s')
    print(f'caffi.stats: {stats(evid)}')
    ca.clear_channel(chid)
    ca.destroy_context()


if __name__ == '__main__':
    main()
