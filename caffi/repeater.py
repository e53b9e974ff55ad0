"""Run a Channel Access repeater: `python -m caffi.repeater`.

epicscorelibs ships libca but no caRepeater program; without a repeater libca warns and clients
see no beacons, so they reconnect more slowly after an IOC restart. This runs libca's own
repeater loop (caRepeaterThread) on EPICS_CA_REPEATER_PORT (default 5065) until interrupted.
"""
import threading

from ._ca import run_repeater


def main():
    # The repeater loop never returns; running it in a daemon thread leaves the main thread free
    # to take Ctrl-C and SIGTERM.
    threading.Thread(target=run_repeater, name='caRepeater', daemon=True).start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
