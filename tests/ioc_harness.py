"""Loopback-only soft IOC and CA repeater for the caffi test-suite, on the launcher caffi._ioc.

Everything here talks to 127.0.0.1 only.  The flow (driven by conftest.py):

1. :func:`configure_environment` picks a free port P (TCP P, UDP P and UDP P+1
   free on 127.0.0.1, its lock file held for the session) and sets the
   ``EPICS_CA_*`` client variables in ``os.environ``.  It must run before any
   caffi context is created (libca reads the variables then).
2. :class:`CaRepeater` runs ``python -m caffi.repeater`` on UDP P+1.
3. :class:`SoftIoc` (a :class:`caffi._ioc.SoftIoc`) serves ``tests/ioc/test.db``
   on P and can be stopped and restarted on the same port.

Importing this module imports the caffi package (for the launcher) but creates no
context; only :meth:`SoftIoc.wait_for_channel` uses caffi.ca.
"""

import collections
import os
import socket
import sys
import threading
import time

from caffi import _ioc
from caffi._ioc import LOOPBACK, MAX_ARRAY_BYTES, client_environment, server_environment  # noqa: F401

# The launcher's error: the IOC or the repeater could not be started or reached.
HarnessError = _ioc.IocError

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)
TEST_DB = os.path.join(TESTS_DIR, 'ioc', 'test.db')

# Record of the reference database: record type, native DBF type name as seen
# over CA (a caffi.dbr.DBF member name) and native element count.
Record = collections.namedtuple('Record', 'name rtype dbf count')

RECORDS = collections.OrderedDict((r.name, r) for r in (
    Record('castr', 'stringout', 'STRING', 1),
    Record('cacalc', 'calc', 'DOUBLE', 1),          # 1 Hz counter, A+1
    Record('catest', 'ao', 'DOUBLE', 1),            # PREC 4, EGU mm, alarm limits +-10/+-20
    Record('cabo', 'bo', 'ENUM', 1),                # Done / Busy, OSV MINOR
    Record('calong', 'longout', 'LONG', 1),         # HOPR 5, LOPR -5
    Record('cawave', 'waveform', 'DOUBLE', 20),     # PREC 4
    Record('cawavec', 'waveform', 'CHAR', 5),
    Record('cawaveuc', 'waveform', 'CHAR', 150),    # FTVL UCHAR is DBF_CHAR over CA
    Record('cawaves', 'waveform', 'STRING', 3),
    Record('cawavef', 'waveform', 'FLOAT', 150),
    Record('cawaveh', 'waveform', 'SHORT', 150),
    Record('cawavel', 'waveform', 'LONG', 150),
    Record('cawavehuge', 'waveform', 'DOUBLE', 4000000),
))

# ---------------------------------------------------------------------------
# Port selection and environment

_configured_port = None


def pick_free_port(attempts=200):
    """Return P such that TCP P, UDP P and UDP P+1 can be bound on 127.0.0.1, locked for
    the rest of this process (``$TMPDIR/caffi-test-port-P.lock``)."""
    return _ioc.free_port(lock=True, attempts=attempts)


def configure_environment():
    """Pick the port once per process and export the client settings.

    Must be called before a caffi context is created (libca reads the variables
    then).  Returns the server port P.
    """
    global _configured_port
    if _configured_port is None:
        port = pick_free_port()
        _ioc.export_environment(client_environment(port))
        _configured_port = port
    return _configured_port


def server_port():
    """The CA server port P chosen by :func:`configure_environment`."""
    if _configured_port is None:
        raise HarnessError('configure_environment() has not been called')
    return _configured_port


# ---------------------------------------------------------------------------
# Child processes


def _log_path(log_dir, what):
    return os.path.join(log_dir, what + '.log') if log_dir else None


class CaRepeater(_ioc.ChildProcess):
    """``python -m caffi.repeater`` listening on UDP *port* (EPICS_CA_REPEATER_PORT)."""

    what = 'ca repeater'
    graceful_stop = False       # it does not read stdin: stop() terminates it

    def __init__(self, port, log_dir=None):
        # cwd (the launcher's default, the temporary directory) outside the checkout:
        # `python -m caffi.repeater` run from the repository root would import the source
        # tree's caffi/ (no compiled modules) instead of the installed package
        super(CaRepeater, self).__init__([sys.executable, '-m', 'caffi.repeater'],
                                         settings={'EPICS_CA_REPEATER_PORT': str(port)},
                                         log_path=_log_path(log_dir, 'ca-repeater'))
        self.port = port

    def stop(self, timeout=5.0, graceful=False):
        """Terminate the repeater; kill after *timeout*."""
        super(CaRepeater, self).stop(timeout, graceful)

    def start(self, timeout=15.0):
        """Start the repeater and wait until it holds its UDP port."""
        self.spawn()
        self.wait_until(lambda: not _ioc.can_bind(socket.SOCK_DGRAM, self.port), timeout,
                        'bound to UDP %s:%d' % (LOOPBACK, self.port))
        return self


class _ChannelProbe(object):
    """A readiness check: a caffi channel to *pvname* connects (one attempt per call, in a
    throwaway thread and context)."""

    def __init__(self, pvname, attempt_timeout=5.0):
        self.pvname = pvname
        self.attempt_timeout = attempt_timeout
        self.errors = []

    @property
    def description(self):
        errors = '; '.join(map(str, self.errors[-3:]))
        return 'channel %r connects' % self.pvname + (' (%s)' % errors if errors else '')

    def __call__(self, ioc):
        import caffi.ca as ca

        outcome = {}
        worker = threading.Thread(target=_probe_channel, name='caffi-ioc-probe',
                                  args=(ca, self.pvname, self.attempt_timeout, outcome))
        worker.daemon = True
        worker.start()
        worker.join(self.attempt_timeout + 10.0)
        if worker.is_alive():
            ioc.fail('caffi probe of %r hung' % self.pvname)
        if outcome.get('connected'):
            del self.errors[:]
            return True
        self.errors.append(outcome.get('error', 'no result'))
        time.sleep(0.2)
        return False


class SoftIoc(_ioc.SoftIoc):
    """The reference soft IOC serving *db* on CA server port *port* (127.0.0.1 only).

    ``start()`` waits until the TCP port accepts connections and, when
    *ca_check* is true, until a caffi channel to *check_pv* connects.
    ``stop()`` (close stdin; ``graceful=False``: terminate) / ``restart()`` keep
    the same port.
    """

    what = 'soft ioc'

    def __init__(self, port, db=TEST_DB, ca_check=True, check_pv='catest', log_dir=None):
        super(SoftIoc, self).__init__(
            port=port, db=db, log_path=_log_path(log_dir, 'soft-ioc'),
            ready=[_ChannelProbe(check_pv)] if ca_check else [])
        self.ca_check = ca_check
        self.check_pv = check_pv

    def wait_for_channel(self, pvname='catest', timeout=30.0, attempt_timeout=5.0):
        """Connect a caffi channel to *pvname* (in a throwaway thread and context).

        Retries with a new context per attempt until *timeout*; raises
        HarnessError if it never connects.
        """
        probe = _ChannelProbe(pvname, attempt_timeout)
        self.wait_until(probe, timeout, args=(self,))


def _probe_channel(ca, pvname, timeout, outcome):
    """Thread body: create a context, connect *pvname*, clean up."""
    try:
        status = ca.create_context(True)
        if status != ca.ECA.NORMAL:
            outcome['error'] = 'create_context: %r' % (status,)
            return
        try:
            status, chid = ca.create_channel(pvname)
            if status != ca.ECA.NORMAL:
                outcome['error'] = 'create_channel: %r' % (status,)
                return
            try:
                status = ca.pend_io(timeout)
                outcome['connected'] = ca.state(chid) == ca.ChannelState.CONN
                if not outcome['connected']:
                    outcome['error'] = 'pend_io: %r' % (status,)
            finally:
                ca.clear_channel(chid)
        finally:
            ca.destroy_context()
    except Exception as exc:  # reported by wait_for_channel
        outcome['error'] = '%s: %s' % (type(exc).__name__, exc)
