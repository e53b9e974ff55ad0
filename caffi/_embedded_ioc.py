"""A throwaway soft IOC on a free loopback port, for ``caffi demo`` and the examples.

    from caffi._embedded_ioc import EmbeddedIoc

    with EmbeddedIoc('record(ao, "demo:x") {}') as ioc:
        import caffi.ca as ca        # os.environ now points libca at the IOC
        ca.create_context(True)
        ...

The IOC is the epicscorelibs soft IOC started with Channel Access only (``python -m
epicscorelibs.ioc`` would also start a pvAccess server on every interface) and serving on
127.0.0.1 only, on a port P where TCP P, UDP P and UDP P+1 (the repeater port) are free.
On entry the client variables ``EPICS_CA_*`` are set in ``os.environ`` (libca reads them when a
context is created, so create the caffi context inside the ``with``); on exit the IOC is
stopped, the temporary files removed and the previous environment restored.

Private module: not part of caffi's API.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

__all__ = ['EmbeddedIoc', 'EmbeddedIocError', 'free_port']

LOOPBACK = '127.0.0.1'

# CA only: the default main() of epicscorelibs.ioc also loads the pvAccess server (QSRV), which
# binds 0.0.0.0:5075 and the broadcast addresses whatever EPICS_CAS_* say.
_BOOT = ('import sys\n'
         'from epicscorelibs import ioc\n'
         'if sys.argv[1:2] == ["--acf"]:\n'
         '    ioc.iocshRegisterCommon()\n'
         '    ioc.ioc("asSetFilename \\"%s\\"" % sys.argv.pop(2))\n'
         '    del sys.argv[1]\n'
         'ioc.main(extra_dbd_load=(), extra_dso_load=())\n')

# Client variables that could make libca look beyond the loopback address.
_UNSAFE_CLIENT_VARS = ('EPICS_CA_NAME_SERVERS',)


class EmbeddedIocError(RuntimeError):
    """The embedded IOC could not be started."""


def _can_bind(kind, port):
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.bind((LOOPBACK, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def free_port(attempts=200):
    """A port P such that TCP P, UDP P and UDP P+1 can be bound on 127.0.0.1 right now."""
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = sock.getsockname()[1]
        if (1024 < port < 65535 and _can_bind(socket.SOCK_STREAM, port)
                and _can_bind(socket.SOCK_DGRAM, port) and _can_bind(socket.SOCK_DGRAM, port + 1)):
            return port
    raise EmbeddedIocError('no free port pair found on %s' % LOOPBACK)


class EmbeddedIoc(object):
    """A CA-only soft IOC serving the database text *db* on a free 127.0.0.1 port.

    *acf*: optional access security configuration text (e.g. ``ASG(DEFAULT) {RULE(1, READ)}``
    makes every record read-only over CA). *set_environ*: export the client variables to
    ``os.environ`` while the IOC runs (else read them from :attr:`client_env`).
    *max_array_bytes*: ``EPICS_CA_MAX_ARRAY_BYTES`` for the IOC and the client.
    """

    def __init__(self, db, acf=None, set_environ=True, max_array_bytes=100000000,
                 start_timeout=30.0):
        self.db = db
        self.acf = acf
        self.set_environ = set_environ
        self.max_array_bytes = max_array_bytes
        self.start_timeout = start_timeout
        self.port = None
        self.client_env = {}
        self._proc = None
        self._dir = None
        self._saved_environ = None

    # -- environment ---------------------------------------------------------------------

    def _client_env(self, port):
        return {
            'EPICS_CA_AUTO_ADDR_LIST': 'NO',
            'EPICS_CA_ADDR_LIST': LOOPBACK,
            'EPICS_CA_SERVER_PORT': str(port),
            'EPICS_CA_REPEATER_PORT': str(port + 1),
            'EPICS_CA_MAX_ARRAY_BYTES': str(self.max_array_bytes),
        }

    def _server_env(self):
        env = {k: v for k, v in os.environ.items() if k not in _UNSAFE_CLIENT_VARS}
        env.update(self.client_env)
        env.update({
            'EPICS_CAS_INTF_ADDR_LIST': LOOPBACK,
            'EPICS_CAS_BEACON_ADDR_LIST': LOOPBACK,
            'EPICS_CAS_AUTO_BEACON_ADDR_LIST': 'NO',
            'EPICS_CAS_SERVER_PORT': str(self.port),
            'PYTHONUNBUFFERED': '1',
        })
        env.pop('EPICS_CAS_BEACON_PORT', None)
        return env

    def _export(self):
        names = set(self.client_env) | set(_UNSAFE_CLIENT_VARS)
        self._saved_environ = {name: os.environ.get(name) for name in names}
        for name in _UNSAFE_CLIENT_VARS:
            os.environ.pop(name, None)
        os.environ.update(self.client_env)

    def _restore(self):
        if self._saved_environ is None:
            return
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ = None

    # -- life cycle ----------------------------------------------------------------------

    @property
    def log_path(self):
        return os.path.join(self._dir, 'ioc.log') if self._dir else None

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, 'rb') as log:
                text = log.read().decode('utf-8', 'replace')
        except (OSError, TypeError):
            return ''
        return '\n'.join(text.splitlines()[-lines:])

    def start(self):
        """Start the IOC and wait until its CA server accepts TCP connections; returns self."""
        if self._proc is not None:
            raise EmbeddedIocError('the embedded IOC is already running')
        self._dir = tempfile.mkdtemp(prefix='caffi-ioc-')
        try:
            self.port = free_port()
            self.client_env = self._client_env(self.port)
            db_path = os.path.join(self._dir, 'ioc.db')
            with open(db_path, 'w') as db_file:
                db_file.write(self.db)
            argv = [sys.executable, '-c', _BOOT]
            if self.acf is not None:
                acf_path = os.path.join(self._dir, 'ioc.acf')
                with open(acf_path, 'w') as acf_file:
                    acf_file.write(self.acf)
                argv += ['--acf', acf_path]
            argv += ['-d', db_path]
            with open(self.log_path, 'wb') as log:
                # The IOC shell is a Python console that exits at end of input: keep stdin open.
                self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=log,
                                              stderr=subprocess.STDOUT, env=self._server_env(),
                                              cwd=self._dir)
            self._wait_listening()
        except BaseException:
            self.stop()
            raise
        if self.set_environ:
            self._export()
        return self

    def _wait_listening(self):
        deadline = time.monotonic() + self.start_timeout
        while True:
            if not self.running:
                raise EmbeddedIocError('the embedded soft IOC exited (status %s):\n%s'
                                       % (self._proc.returncode, self.log_tail()))
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=0.5).close()
                return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise EmbeddedIocError('the embedded soft IOC did not listen on %s:%d within %.0f s:'
                                       '\n%s' % (LOOPBACK, self.port, self.start_timeout,
                                                 self.log_tail()))
            time.sleep(0.05)

    def stop(self, timeout=5.0):
        """Stop the IOC (end of input, then terminate, then kill), clean up, restore os.environ."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None:
                try:
                    if proc.poll() is None:
                        try:
                            proc.stdin.close()              # the console exits at end of input
                        except OSError:
                            pass
                        try:
                            proc.wait(timeout)
                        except subprocess.TimeoutExpired:
                            proc.terminate()
                            try:
                                proc.wait(timeout)
                            except subprocess.TimeoutExpired:
                                proc.kill()
                                proc.wait()
                finally:
                    if proc.stdin is not None and not proc.stdin.closed:
                        try:
                            proc.stdin.close()
                        except OSError:
                            pass
        finally:
            self._restore()
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
        return False
