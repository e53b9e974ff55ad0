"""Child for test_lifetimes: the interpreter exits while a preemptive monitor is firing at
about 1 kHz, fed by a writer thread of the same process that is still writing.

argv[1]:
  return        -- main returns; the writer is a daemon thread attached to the same context
  sys_exit      -- sys.exit(0) from main; the writer is a daemon thread with its own context
  nondaemon     -- a non-daemon writer with its own context stops on a flag; main calls
                   sys.exit(0) while monitor callbacks and the writer's last puts are in flight
  external      -- the writer is another process (this script with argv[1] 'writer', run by
                   the test, which writes until its stdin closes); main calls sys.exit(0): no
                   thread of this process but libca's uses caffi at exit
  slow_finalize -- the external writer, an idle daemon thread (so the exit handler leaves the
                   contexts alone) and a module global that takes about a second to free: the
                   monitors keep firing throughout Python's finalization, when a libca thread
                   that asked for the GIL would be unwound through libca's C++ frames (abort)
"""

import sys
import threading
import time

from child_common import report, watchdog

import caffi.ca as ca
from caffi.constants import ECA
from caffi.dbr import DBR

VARIANT = sys.argv[1]
watchdog(60)

updates = {'n': 0, 'wave': 0}


def on_update(args):
    # some real work per update, in Python
    value = args['value']
    updates['n'] += 1
    if isinstance(value, dict):
        value = value['value']
    updates['last'] = value


def on_wave(args):
    updates['wave'] += 1
    updates['sum'] = float(args['value'].sum()) if args['value'] is not None else None


def writer(context, stop):
    if context is None:
        ca.create_context(True)
    else:
        assert ca.attach_context(context) == ECA.NORMAL
    status, chid = ca.create_channel('catest')
    status, wave = ca.create_channel('cawave')
    ca.pend_io(10)
    n = 0
    while not stop.is_set():
        ca.put(chid, (n % 9) + 0.25)
        ca.put(wave, [float(n % 5)] * 20)
        ca.flush_io()
        n += 1
        time.sleep(0.001)


def external_writer():
    ca.create_context(True)
    status, chid = ca.create_channel('catest')
    status, wave = ca.create_channel('cawave')
    ca.pend_io(10)
    stop = threading.Event()

    def watch_parent():         # stdin is a pipe from the test: EOF = stop
        sys.stdin.read()
        stop.set()
    threading.Thread(target=watch_parent, daemon=True).start()
    report('writing')
    n = 0
    end = time.monotonic() + 170.0
    while time.monotonic() < end and not stop.is_set():
        ca.put(chid, (n % 9) + 0.25)
        ca.put(wave, [float(n % 5)] * 20)
        ca.flush_io()
        n += 1
        time.sleep(0.001)
    ca.destroy_context()


def main():
    assert ca.create_context(True) == ECA.NORMAL
    status, chid = ca.create_channel('catest')
    status, wave = ca.create_channel('cawave')
    assert ca.pend_io(10) == ECA.NORMAL
    for chtype in (None, DBR.TIME_DOUBLE, DBR.CTRL_DOUBLE):
        status, evid = ca.create_subscription(chid, on_update, chtype=chtype)
        assert status == ECA.NORMAL
    status, evid = ca.create_subscription(wave, on_wave, use_numpy=True)
    assert status == ECA.NORMAL
    ca.flush_io()

    stop = threading.Event()
    if VARIANT in ('external', 'slow_finalize'):
        thread = None
    elif VARIANT == 'return':
        thread = threading.Thread(target=writer, args=(ca.current_context(), stop), daemon=True)
    elif VARIANT == 'sys_exit':
        thread = threading.Thread(target=writer, args=(None, stop), daemon=True)
    else:
        thread = threading.Thread(target=writer, args=(None, stop), daemon=False)
    if thread is not None:
        thread.start()
    deadline = time.monotonic() + 15
    while updates['n'] < 30 and time.monotonic() < deadline:      # the writer is running
        time.sleep(0.005)
    began = time.monotonic()
    start_count = updates['n']
    while updates['n'] - start_count < 600 and time.monotonic() - began < 10:
        time.sleep(0.005)
    rate = (updates['n'] - start_count) / (time.monotonic() - began)
    time.sleep(0.2)
    report('flowing', updates=updates['n'], wave_updates=updates['wave'], rate=rate)
    sys.stdout.flush()
    if VARIANT == 'return':
        return
    if VARIANT == 'slow_finalize':
        global BALLAST
        threading.Thread(target=threading.Event().wait, daemon=True).start()
        # freed when __main__ is torn down, after Python has started finalizing
        BALLAST = [[n] for n in range(4_000_000)]
        return
    if VARIANT == 'nondaemon':
        stop.set()          # the writer's context is left for the exit handlers to tear down
    sys.exit(0)


if VARIANT == 'writer':
    external_writer()
else:
    main()
