"""Monitor a DOUBLE waveform into numpy arrays and report the update rate.

    python examples/monitor_waveform.py [PV] [--seconds N]

With no PV, it starts an embedded soft IOC (from epicscorelibs) on a free loopback port with a
1M-element waveform, and a writer thread puts a counter into it so the monitor has updates.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

DEMO_DB = '''
record(waveform, "demo:wave") {
    field(FTVL, "DOUBLE")
    field(NELM, "1000000")
}
'''


CA_ONLY_IOC = 'from epicscorelibs.ioc import main; main(extra_dbd_load=(), extra_dso_load=())'


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind(('127.0.0.1', 0))
        return tcp.getsockname()[1]


def start_embedded_ioc():
    """A soft IOC on 127.0.0.1 only; the client environment is pointed at it."""
    port = free_port()
    loopback = {
        'EPICS_CA_AUTO_ADDR_LIST': 'NO', 'EPICS_CA_ADDR_LIST': '127.0.0.1',
        'EPICS_CA_SERVER_PORT': str(port), 'EPICS_CA_REPEATER_PORT': str(port + 1),
        'EPICS_CA_MAX_ARRAY_BYTES': '100000000',
    }
    os.environ.update(loopback)
    db = tempfile.NamedTemporaryFile('w', suffix='.db', delete=False)
    db.write(DEMO_DB)
    db.close()
    env = dict(os.environ, EPICS_CAS_INTF_ADDR_LIST='127.0.0.1', EPICS_CAS_SERVER_PORT=str(port),
               EPICS_CAS_BEACON_ADDR_LIST='127.0.0.1', EPICS_CAS_AUTO_BEACON_ADDR_LIST='NO')
    # CA only: `-m epicscorelibs.ioc` would also start a pvAccess server on all interfaces
    ioc = subprocess.Popen([sys.executable, '-c', CA_ONLY_IOC, '-d', db.name],
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=env)
    return ioc, db.name


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('pv', nargs='?', help='waveform PV (default: an embedded demo IOC)')
    parser.add_argument('--seconds', type=float, default=3.0)
    args = parser.parse_args()
    ioc = None
    pv = args.pv
    if pv is None:
        ioc, db_file = start_embedded_ioc()
        pv = 'demo:wave'

    import numpy as np
    import caffi.ca as ca          # after the environment is set: libca reads it per context

    try:
        ca.create_context(True)
        status, chid = ca.create_channel(pv)
        if ca.pend_io(15) != ca.ECA.NORMAL:
            sys.exit(f'{pv}: not found')
        count = ca.element_count(chid)

        updates = []                # one (arrival time, array) per update, arrays from numpy
        def on_update(event):
            if event['value'] is not None:
                updates.append((time.perf_counter(), event['value']))

        ca.create_subscription(chid, on_update, use_numpy=True)

        stop = threading.Event()
        if ioc is not None:
            def publish():          # the demo's own writer: a counter in element 0
                data = np.zeros(count)
                while not stop.is_set():
                    data[0] += 1
                    ca.put(chid, data)
                    ca.flush_io()
                    time.sleep(0.001)
            threading.Thread(target=publish, daemon=True).start()

        time.sleep(args.seconds)
        stop.set()
        received = len(updates)
        if received < 2:
            sys.exit(f'{pv}: only {received} update(s) in {args.seconds} s')
        span = updates[-1][0] - updates[0][0]
        rate = (received - 1) / span
        last = updates[-1][1]
        print(f'{pv}: {received} updates of {last.size} x {last.dtype} in {span:.2f} s: '
              f'{rate:.1f} updates/s, {rate * last.nbytes / 1e6:.1f} MB/s')
        ca.clear_channel(chid)
        ca.destroy_context()
    finally:
        if ioc is not None:
            ioc.terminate()
            ioc.wait(10)
            os.unlink(db_file)


if __name__ == '__main__':
    main()
