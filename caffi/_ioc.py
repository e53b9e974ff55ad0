"""The one launcher of the CA-only epicscorelibs soft IOC on 127.0.0.1 (private module).

Used by ``caffi._embedded_ioc`` (``caffi demo``, the examples), by the test-suite's harness
(``tests/ioc_harness.py``) and by the benchmarks (``benchmarks/monitor_bench.py``).  Only the
standard library is imported; nothing here talks to anything but the loopback address.

* :func:`free_port` -- a port P with TCP P, UDP P and UDP P+1 (the repeater port) bindable on
  127.0.0.1, optionally reserved against other processes with a lock file
  (``$TMPDIR/caffi-test-port-P.lock``, see :func:`lock_port` / :func:`release_port`).
* :func:`client_environment`, :func:`server_environment` -- the loopback-only ``EPICS_CA_*``
  and ``EPICS_CAS_*`` settings; :func:`child_environ` builds a child's whole environment
  (without :data:`UNSAFE_VARS`); :func:`export_environment` / :func:`restore_environment` put
  client settings into ``os.environ`` and take them out again.
* :class:`ChildProcess` -- a child with its stdin kept open as a pipe and its output in a log
  file; stopped gracefully (stdin closed) or at once (terminated), killed if it lingers, and
  reaped at interpreter exit.
* :class:`SoftIoc` -- the soft IOC from a ``.db`` file or database text, ready once its CA
  server accepts TCP connections and every caller-supplied check passes; restartable on the
  same port; optionally behind a command prefix (CPU pinning: :func:`taskset_prefix`).
* :func:`log_contains` -- a readiness check on the IOC's output since its latest start.
"""
import atexit
import errno
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

try:
    import fcntl
except ImportError:     # not POSIX: ports are chosen, never locked
    fcntl = None

__all__ = ['LOOPBACK', 'MAX_ARRAY_BYTES', 'UNSAFE_VARS', 'IocError', 'can_bind', 'port_block_free',
           'lock_port', 'release_port', 'free_port', 'client_environment', 'server_environment',
           'child_environ', 'export_environment', 'restore_environment', 'taskset_prefix',
           'ChildProcess', 'SoftIoc', 'log_contains']

LOOPBACK = '127.0.0.1'
MAX_ARRAY_BYTES = 100000000     # the test database's cawavehuge alone is 32 MB

# Variables that could make libca or the CA server reach beyond the loopback address (a name
# server elsewhere, beacons to another port): never passed on to a child, removed by
# export_environment().
UNSAFE_VARS = ('EPICS_CA_NAME_SERVERS', 'EPICS_CAS_BEACON_PORT')

LOCK_FILE = 'caffi-test-port-%d.lock'

# The epicscorelibs soft IOC with Channel Access only: its default main() (``python -m
# epicscorelibs.ioc``) also loads the pvAccess server, which binds 0.0.0.0:5075 and the
# broadcast addresses whatever the EPICS_CAS_* variables say.  ``--acf FILE`` first loads an
# access security configuration.
_BOOT = ('import sys\n'
         'from epicscorelibs import ioc\n'
         'if sys.argv[1:2] == ["--acf"]:\n'
         '    ioc.iocshRegisterCommon()\n'
         '    ioc.ioc("asSetFilename \\"%s\\"" % sys.argv.pop(2))\n'
         '    del sys.argv[1]\n'
         'ioc.main(extra_dbd_load=(), extra_dso_load=())\n')


class IocError(RuntimeError):
    """The IOC (or another child) could not be started, or did not become ready."""


# ---------------------------------------------------------------------------------------------
# ports

_port_locks = {}        # port -> file descriptor holding its lock file


def can_bind(kind, port, host=LOOPBACK):
    """True if a socket of *kind* (``socket.SOCK_STREAM`` or ``SOCK_DGRAM``) can bind host:port."""
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def port_block_free(port):
    """True if TCP *port*, UDP *port* and UDP *port* + 1 can all be bound on 127.0.0.1."""
    return (can_bind(socket.SOCK_STREAM, port) and can_bind(socket.SOCK_DGRAM, port)
            and can_bind(socket.SOCK_DGRAM, port + 1))


def lock_port(port):
    """Take the lock file of *port* (non-blocking); False if another process holds it.

    The lock is held until :func:`release_port` or the end of this process.
    """
    if fcntl is None or port in _port_locks:
        return fcntl is None
    path = os.path.join(tempfile.gettempdir(), LOCK_FILE % port)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    _port_locks[port] = fd
    return True


def release_port(port):
    """Give up the lock file of *port* taken by :func:`lock_port` (no-op if not held)."""
    fd = _port_locks.pop(port, None)
    if fd is not None:
        os.close(fd)        # closing the descriptor releases the flock


def free_port(lock=False, attempts=200):
    """A port P such that TCP P, UDP P and UDP P+1 can be bound on 127.0.0.1 right now.

    *lock*: also take P's lock file (see :func:`lock_port`), so that other processes using this
    scheme (parallel test sessions, benchmarks, demos) pass over P.
    """
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = sock.getsockname()[1]
        if not 1024 < port < 65535:
            continue
        if lock and not lock_port(port):
            continue
        if port_block_free(port):
            return port
        if lock:
            release_port(port)
    raise IocError('no free port block (TCP P, UDP P and P+1) found on %s' % LOOPBACK)


# ---------------------------------------------------------------------------------------------
# environment

def client_environment(port, max_array_bytes=MAX_ARRAY_BYTES):
    """The ``EPICS_CA_*`` settings of a client of a CA server on 127.0.0.1:*port* (repeater on
    *port* + 1)."""
    return {
        'EPICS_CA_AUTO_ADDR_LIST': 'NO',
        'EPICS_CA_ADDR_LIST': LOOPBACK,
        'EPICS_CA_SERVER_PORT': str(port),
        'EPICS_CA_REPEATER_PORT': str(port + 1),
        # without it libca (16 kB by default) delivers nothing for big arrays
        'EPICS_CA_MAX_ARRAY_BYTES': str(max_array_bytes),
    }


def server_environment(port, max_array_bytes=MAX_ARRAY_BYTES):
    """The settings of an IOC serving on 127.0.0.1:*port* only: the client ones (the IOC is a
    CA client too) and its CA server's interface, beacon addresses and port."""
    env = client_environment(port, max_array_bytes)
    env.update({
        'EPICS_CAS_INTF_ADDR_LIST': LOOPBACK,
        'EPICS_CAS_BEACON_ADDR_LIST': LOOPBACK,
        'EPICS_CAS_AUTO_BEACON_ADDR_LIST': 'NO',
        'EPICS_CAS_SERVER_PORT': str(port),
    })
    return env


def child_environ(settings, base=None):
    """A child's environment: *base* (default ``os.environ``) without :data:`UNSAFE_VARS`,
    updated with *settings*."""
    env = dict(os.environ if base is None else base)
    for name in UNSAFE_VARS:
        env.pop(name, None)
    env.update(settings)
    return env


def export_environment(settings):
    """Put *settings* into ``os.environ`` and remove :data:`UNSAFE_VARS` from it.

    libca reads the variables when a context is created, so call this before creating one.
    Returns what :func:`restore_environment` needs to undo it.
    """
    saved = {name: os.environ.get(name) for name in set(settings) | set(UNSAFE_VARS)}
    for name in UNSAFE_VARS:
        os.environ.pop(name, None)
    os.environ.update(settings)
    return saved


def restore_environment(saved):
    """Undo :func:`export_environment` (*saved* is what it returned; None: nothing to do)."""
    for name, value in (saved or {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def taskset_prefix(cpus):
    """``['taskset', '-c', cpus]`` if taskset exists and this process may run on two or more
    CPUs, else ``[]`` (no pinning)."""
    if cpus is None or shutil.which('taskset') is None or len(os.sched_getaffinity(0)) < 2:
        return []
    return ['taskset', '-c', str(cpus)]


# ---------------------------------------------------------------------------------------------
# child processes

_children = []


@atexit.register
def _reap_children():
    for child in list(_children):
        child.stop()


class ChildProcess(object):
    """A child process, its stdin a pipe kept open, its output appended to a log file.

    *argv*: the command; *settings*: environment variables on top of *env* (default
    ``os.environ`` at each start; :data:`UNSAFE_VARS` are left out); *prefix*: a command put in
    front of *argv* (e.g. :func:`taskset_prefix`; it must exec() the command, as taskset does, so
    that the child's pid is the command's); *log_path*: the log file (default: in the child's
    own temporary directory :attr:`work_dir`, removed by :meth:`close`); *cwd*: default the
    temporary directory (outside any checkout, so ``python -m caffi...`` imports the installed
    package); *new_session*: run the child in a session of its own (a Ctrl-C in the terminal
    then leaves it for :meth:`stop`).
    """

    what = 'child process'
    graceful_stop = True        # stop() closes stdin by default: the child exits at end of input

    def __init__(self, argv, settings=None, env=None, prefix=(), log_path=None, cwd=None,
                 new_session=False):
        self.argv = list(argv)
        self.settings = dict(settings or {})
        self.env = env
        self.prefix = list(prefix)
        self.cwd = cwd
        self.new_session = new_session
        self.work_dir = tempfile.mkdtemp(prefix='caffi-%s-' % self._slug())
        self.log_path = log_path or os.path.join(self.work_dir, self._slug() + '.log')
        self.log_dir = os.path.dirname(self.log_path)
        self.returncode = None      # of the latest run, once it has ended
        self._proc = None
        self._log_start = 0

    def _slug(self):
        return self.what.lower().replace(' ', '-')

    def command(self):
        """The full command line of the next start."""
        return self.prefix + self.argv

    def environment(self):
        """The child's whole environment at the next start."""
        return child_environ(dict(self.settings, PYTHONUNBUFFERED='1'), self.env)

    @property
    def pid(self):
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    def spawn(self):
        """Start the child (no waiting); a marker line with the time goes to the log first."""
        if self.running:
            raise IocError('%s is already running' % self.what)
        self.returncode = None
        with open(self.log_path, 'ab') as log:
            log.write(('\n==== %s start %s ====\n' % (self.what, time.strftime('%X'))).encode())
            log.flush()
            self._log_start = log.tell()
            self._proc = subprocess.Popen(
                self.command(), cwd=self.cwd or tempfile.gettempdir(), env=self.environment(),
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=self.new_session)
        if self not in _children:
            _children.append(self)

    def start(self, timeout=None):
        """Start the child; subclasses also wait until it is ready.  Returns self."""
        self.spawn()
        return self

    def stop(self, timeout=10.0, graceful=None):
        """Stop the child: close its stdin (*graceful*, default :attr:`graceful_stop`) or
        terminate it, wait up to *timeout*; then terminate, and kill what still runs 5 s
        later.  The exit status is kept in :attr:`returncode`."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if graceful is None:
            graceful = self.graceful_stop
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
            self.returncode = proc.returncode
            if proc.stdin is not None and not proc.stdin.closed:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

    def close(self, timeout=10.0):
        """Stop the child and remove its temporary directory (the log with it, if it is there)."""
        self.stop(timeout)
        if self in _children:
            _children.remove(self)
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def log_text(self, since_start=True):
        """The log, from the latest start on (or all of it); '' if it cannot be read."""
        try:
            with open(self.log_path, 'rb') as log:
                if since_start:
                    log.seek(self._log_start)
                return log.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def log_tail(self, lines=40):
        return '\n'.join(self.log_text(since_start=False).splitlines()[-lines:])

    def fail(self, message):
        """Raise :class:`IocError` with *message* and the tail of the log."""
        raise IocError('%s\n---- %s log (%s) ----\n%s' % (message, self.what, self.log_path,
                                                       self.log_tail()))

    def wait_until(self, check, timeout, description=None, interval=0.05, args=()):
        """Call ``check(*args)`` until it returns true; fail if the child exits or *timeout*
        passes.

        *description*: what *check* waits for, for the error message (default: its
        ``description`` attribute when the wait fails, or its name).
        """
        def waiting_for():
            return description or getattr(check, 'description', None) or getattr(
                check, '__name__', repr(check))

        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                status = self._proc.returncode if self._proc is not None else self.returncode
                self.fail('%s exited (status %s) while waiting until %s'
                          % (self.what, status, waiting_for()))
            if check(*args):
                return
            if time.monotonic() > deadline:
                self.fail('%s: not %s within %.0f s' % (self.what, waiting_for(), timeout))
            time.sleep(interval)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


class SoftIoc(ChildProcess):
    """The CA-only epicscorelibs soft IOC serving on 127.0.0.1:*port* only.

    *db*: a ``.db`` file, or *db_text*: database text (written into :attr:`work_dir`);
    *acf_text*: an optional access security configuration.  *port*: the CA server port; None
    picks one with :func:`free_port` at the first start (*lock_port*: and takes its lock file
    until :meth:`close`) and keeps it for restarts.  The IOC gets :func:`server_environment`
    on top of *env* (default ``os.environ``).  *ready*: checks, each called as ``check(ioc)``
    until it returns true, after the CA server accepts TCP connections, before :meth:`start`
    returns (a check may also raise :class:`IocError` to give up at once).  The IOC's shell is
    a Python console that exits at end of input: :meth:`stop` closes its stdin by default.
    Other arguments as for :class:`ChildProcess`.  As a context manager: started on entry,
    closed on exit.
    """

    what = 'soft IOC'

    def __init__(self, port=None, db=None, db_text=None, acf_text=None,
                 max_array_bytes=MAX_ARRAY_BYTES, ready=(), lock_port=False, env=None,
                 prefix=(), log_path=None, new_session=False, start_timeout=30.0):
        if (db is None) == (db_text is None):
            raise ValueError('give exactly one of db (a file) and db_text')
        super(SoftIoc, self).__init__([sys.executable, '-c', _BOOT], env=env, prefix=prefix,
                                      log_path=log_path, new_session=new_session)
        self.port = port
        self.max_array_bytes = max_array_bytes
        self.ready = list(ready) if not callable(ready) else [ready]
        self.lock_port = lock_port
        self.start_timeout = start_timeout
        self._locked = False
        if db_text is not None:
            db = self._write('ioc.db', db_text)
        self.db = db
        if acf_text is not None:
            self.argv += ['--acf', self._write('ioc.acf', acf_text)]
        self.argv += ['-d', db]

    def _write(self, name, text):
        path = os.path.join(self.work_dir, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    @property
    def client_env(self):
        """The client settings for this IOC (its port must be known: after the first start, or
        given)."""
        return client_environment(self.port, self.max_array_bytes)

    def environment(self):
        self.settings = server_environment(self.port, self.max_array_bytes)
        return super(SoftIoc, self).environment()

    def start(self, timeout=None):
        """Start the IOC and wait until it is ready (see the class docstring); returns self.
        If it does not become ready within *timeout* (default *start_timeout*), it is stopped
        and :class:`IocError` raised with the tail of its log."""
        timeout = self.start_timeout if timeout is None else timeout
        if self.port is None:
            self.port = free_port(lock=self.lock_port)
            self._locked = self.lock_port
        self.spawn()
        try:
            self.wait_listening(timeout)
            for check in self.ready:
                self.wait_until(check, timeout, args=(self,))
        except BaseException:
            self.stop(graceful=False)
            raise
        return self

    def restart(self, timeout=None):
        """:meth:`stop` then :meth:`start`, on the same port."""
        self.stop()
        return self.start(timeout)

    def accepts(self):
        """True if the CA server accepts a TCP connection on 127.0.0.1:port now."""
        try:
            socket.create_connection((LOOPBACK, self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def wait_listening(self, timeout=30.0):
        """Wait until the CA server accepts TCP connections."""
        self.wait_until(self.accepts, timeout,
                        'listening on TCP %s:%d' % (LOOPBACK, self.port), interval=0.1)

    def close(self, timeout=10.0):
        """Stop the IOC, remove :attr:`work_dir` and give up a port lock taken at start."""
        try:
            super(SoftIoc, self).close(timeout)
        finally:
            if self._locked:
                release_port(self.port)
                self._locked = False


def log_contains(text):
    """A readiness check for :class:`SoftIoc`: *text* is in the IOC's output since its start
    (e.g. ``'iocRun: All initialization complete'``)."""
    def check(ioc):
        return text in ioc.log_text()
    check.description = 'its output shows %r' % text
    return check
