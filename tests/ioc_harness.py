"""Loopback-only soft IOC and CA repeater for the caffi test-suite.

Everything here talks to 127.0.0.1 only.  The flow (driven by conftest.py):

1. :func:`configure_environment` picks a free port P (TCP P, UDP P and UDP P+1
   free on 127.0.0.1) and sets the ``EPICS_CA_*`` client variables in
   ``os.environ``.  It must run before ``caffi`` is imported.
2. :class:`CaRepeater` runs ``python -m caffi.repeater`` on UDP P+1.
3. :class:`SoftIoc` serves ``tests/ioc/test.db`` on P with the epicscorelibs
   soft IOC and can be stopped and restarted on the same port.

The module does not import caffi at import time (only
:meth:`SoftIoc.wait_for_channel` does), so it can be used before caffi is built.
"""

import atexit
import collections
import errno
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings

LOOPBACK = '127.0.0.1'
MAX_ARRAY_BYTES = 100000000     # cawavehuge alone is 32 MB

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

# Client-side variables that could make libca look beyond the loopback address.
_UNSAFE_CLIENT_VARS = ('EPICS_CA_NAME_SERVERS', 'EPICS_CAS_BEACON_PORT')

# The epicscorelibs soft IOC, CA only.  `python -m epicscorelibs.ioc` would also
# load the pvAccess server, which binds 0.0.0.0:5075 and the machine's
# broadcast addresses on UDP 5076 whatever the EPICS_CAS_* variables say.
_IOC_BOOT = ('from epicscorelibs.ioc import main; '
             'main(extra_dbd_load=(), extra_dso_load=())')


class HarnessError(RuntimeError):
    """The IOC or the repeater could not be started or reached."""


# ---------------------------------------------------------------------------
# Port selection and environment

_port_locks = []        # lock files held for the lifetime of this process
_configured_port = None


def _can_bind(kind, port):
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.bind((LOOPBACK, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def _lock_port(port):
    """Reserve *port* against other test sessions on this machine."""
    path = os.path.join(tempfile.gettempdir(), 'caffi-test-port-%d.lock' % port)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    _port_locks.append(fd)
    return True


def pick_free_port(attempts=200):
    """Return P such that TCP P, UDP P and UDP P+1 can be bound on 127.0.0.1."""
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = sock.getsockname()[1]
        if not 1024 < port < 65535:
            continue
        if (_can_bind(socket.SOCK_STREAM, port)
                and _can_bind(socket.SOCK_DGRAM, port)
                and _can_bind(socket.SOCK_DGRAM, port + 1)
                and _lock_port(port)):
            return port
    raise HarnessError('no free port pair found on %s' % LOOPBACK)


def client_environment(port):
    """The EPICS_CA_* client settings for server port *port* (repeater on port+1)."""
    return {
        'EPICS_CA_AUTO_ADDR_LIST': 'NO',
        'EPICS_CA_ADDR_LIST': LOOPBACK,
        'EPICS_CA_SERVER_PORT': str(port),
        'EPICS_CA_REPEATER_PORT': str(port + 1),
        'EPICS_CA_MAX_ARRAY_BYTES': str(MAX_ARRAY_BYTES),
    }


def server_environment(port):
    """Extra settings for the IOC's CA server, on top of the client ones."""
    return {
        'EPICS_CAS_INTF_ADDR_LIST': LOOPBACK,
        'EPICS_CAS_BEACON_ADDR_LIST': LOOPBACK,
        'EPICS_CAS_AUTO_BEACON_ADDR_LIST': 'NO',
        'EPICS_CAS_SERVER_PORT': str(port),
    }


def configure_environment():
    """Pick the port once per process and export the client settings.

    Must be called before caffi is imported (libca reads the variables when a
    context is created).  Returns the server port P.
    """
    global _configured_port
    if _configured_port is None:
        if 'caffi' in sys.modules:
            warnings.warn('caffi was imported before the test environment was set')
        port = pick_free_port()
        for var in _UNSAFE_CLIENT_VARS:
            os.environ.pop(var, None)
        os.environ.update(client_environment(port))
        _configured_port = port
    return _configured_port


def server_port():
    """The CA server port P chosen by :func:`configure_environment`."""
    if _configured_port is None:
        raise HarnessError('configure_environment() has not been called')
    return _configured_port


# ---------------------------------------------------------------------------
# Child processes

_children = []


@atexit.register
def _reap_children():
    for child in list(_children):
        child.stop()


class _Child(object):
    """A child Python process with its output in a log file."""

    what = 'process'

    def __init__(self, log_dir=None):
        self._proc = None
        self._own_log_dir = log_dir is None
        self.log_dir = log_dir or tempfile.mkdtemp(prefix='caffi-tests-')
        self.log_path = os.path.join(self.log_dir, '%s.log' % self.what.replace(' ', '-'))

    def _argv(self):
        raise NotImplementedError

    def _env(self):
        return dict(os.environ, PYTHONUNBUFFERED='1')

    @property
    def pid(self):
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    def _spawn(self):
        if self.running:
            raise HarnessError('%s is already running' % self.what)
        with open(self.log_path, 'ab') as log:
            log.write(('\n==== %s start %s ====\n' % (self.what, time.strftime('%X'))).encode())
            log.flush()
            # cwd outside the checkout: `python -m caffi.repeater` run from the repository root
            # would import the source tree's caffi/ (no compiled modules) instead of the
            # installed package
            self._proc = subprocess.Popen(
                self._argv(), cwd=tempfile.gettempdir(), env=self._env(),
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)
        if self not in _children:
            _children.append(self)

    def stop(self, timeout=10.0, graceful=True):
        """Close stdin (graceful) or terminate, wait; kill after *timeout*."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                if graceful:
                    try:
                        proc.stdin.close()
                    except OSError:
                        pass
                else:
                    proc.terminate()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.terminate()
                    try:
                        proc.wait(5.0)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
        finally:
            if proc.stdin is not None and not proc.stdin.closed:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

    def close(self):
        """Stop the process and remove its log directory."""
        self.stop()
        if self in _children:
            _children.remove(self)
        if self._own_log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, 'rb') as log:
                text = log.read().decode('utf-8', 'replace')
        except OSError:
            return ''
        return '\n'.join(text.splitlines()[-lines:])

    def _fail(self, message):
        raise HarnessError('%s\n---- %s (%s) ----\n%s' % (
            message, self.what, self.log_path, self.log_tail()))


class CaRepeater(_Child):
    """``python -m caffi.repeater`` listening on UDP *port* (EPICS_CA_REPEATER_PORT)."""

    what = 'ca repeater'

    def __init__(self, port, log_dir=None):
        super(CaRepeater, self).__init__(log_dir)
        self.port = port

    def _argv(self):
        return [sys.executable, '-m', 'caffi.repeater']

    def _env(self):
        env = super(CaRepeater, self)._env()
        env['EPICS_CA_REPEATER_PORT'] = str(self.port)
        return env

    def stop(self, timeout=5.0, graceful=False):
        """Terminate the repeater (it does not read stdin); kill after *timeout*."""
        super(CaRepeater, self).stop(timeout, graceful)

    def start(self, timeout=15.0):
        """Start the repeater and wait until it holds its UDP port."""
        self._spawn()
        deadline = time.monotonic() + timeout
        while _can_bind(socket.SOCK_DGRAM, self.port):
            if not self.running:
                self._fail('CA repeater exited with status %s' % self._proc.returncode)
            if time.monotonic() > deadline:
                self._fail('CA repeater did not bind UDP %s:%d within %.0f s'
                           % (LOOPBACK, self.port, timeout))
            time.sleep(0.05)
        return self


class SoftIoc(_Child):
    """The reference soft IOC serving *db* on CA server port *port* (127.0.0.1 only).

    ``start()`` waits until the TCP port accepts connections and, when
    *ca_check* is true, until a caffi channel to *check_pv* connects.
    ``stop()`` / ``restart()`` keep the same port.
    """

    what = 'soft ioc'

    def __init__(self, port, db=TEST_DB, ca_check=True, check_pv='catest', log_dir=None):
        super(SoftIoc, self).__init__(log_dir)
        self.port = port
        self.db = db
        self.ca_check = ca_check
        self.check_pv = check_pv

    def _argv(self):
        return [sys.executable, '-c', _IOC_BOOT, '-d', self.db]

    def _env(self):
        env = super(SoftIoc, self)._env()
        for var in _UNSAFE_CLIENT_VARS:
            env.pop(var, None)
        env.update(client_environment(self.port))
        env.update(server_environment(self.port))
        return env

    def start(self, timeout=30.0):
        """Start the IOC and wait until it serves (see class docstring)."""
        self._spawn()
        try:
            self.wait_listening(timeout)
            if self.ca_check:
                self.wait_for_channel(self.check_pv, timeout)
        except BaseException:
            self.stop(graceful=False)
            raise
        return self

    def restart(self, timeout=30.0):
        """stop() then start() on the same port."""
        self.stop()
        return self.start(timeout)

    def wait_listening(self, timeout=30.0):
        """Wait until the CA server accepts TCP connections on 127.0.0.1:port."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                self._fail('soft IOC exited with status %s'
                           % (self._proc.returncode if self._proc else None))
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=0.5).close()
                return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self._fail('soft IOC did not listen on TCP %s:%d within %.0f s'
                           % (LOOPBACK, self.port, timeout))
            time.sleep(0.1)

    def wait_for_channel(self, pvname='catest', timeout=30.0, attempt_timeout=5.0):
        """Connect a caffi channel to *pvname* (in a throwaway thread and context).

        Retries with a new context per attempt until *timeout*; raises
        HarnessError if it never connects.
        """
        import caffi.ca as ca

        deadline = time.monotonic() + timeout
        errors = []
        while True:
            outcome = {}
            worker = threading.Thread(target=_probe_channel, name='caffi-ioc-probe',
                                      args=(ca, pvname, attempt_timeout, outcome))
            worker.daemon = True
            worker.start()
            worker.join(attempt_timeout + 10.0)
            if worker.is_alive():
                self._fail('caffi probe of %r hung' % pvname)
            if outcome.get('connected'):
                return
            errors.append(outcome.get('error', 'no result'))
            if not self.running:
                self._fail('soft IOC exited while waiting for %r' % pvname)
            if time.monotonic() > deadline:
                self._fail('channel %r did not connect within %.0f s (port %d): %s'
                           % (pvname, timeout, self.port, '; '.join(map(str, errors))))
            time.sleep(0.2)


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
