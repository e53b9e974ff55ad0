"""A throwaway soft IOC on a free loopback port, for ``caffi demo`` and the examples.

    from caffi._embedded_ioc import EmbeddedIoc

    with EmbeddedIoc('record(ao, "demo:x") {}') as ioc:
        import caffi.ca as ca        # os.environ now points libca at the IOC
        ca.create_context(True)
        ...

The IOC is the launcher's (:mod:`caffi._ioc`) CA-only epicscorelibs soft IOC serving on
127.0.0.1 only, on a port P where TCP P, UDP P and UDP P+1 (the repeater port) are free (and
reserved with a lock file while it runs).  On entry the client variables ``EPICS_CA_*`` are set
in ``os.environ`` (libca reads them when a context is created, so create the caffi context
inside the ``with``); on exit the IOC is stopped, the temporary files removed and the previous
environment restored.

Private module: not part of caffi's API.
"""
from ._ioc import IocError, SoftIoc, export_environment, free_port, restore_environment

__all__ = ['EmbeddedIoc', 'EmbeddedIocError', 'free_port']

# The launcher's error: raised when the IOC cannot be started.
EmbeddedIocError = IocError


class EmbeddedIoc(object):
    """A CA-only soft IOC serving the database text *db* on a free 127.0.0.1 port.

    *acf*: optional access security configuration text (e.g. ``ASG(DEFAULT) {RULE(1, READ)}``
    makes every record read-only over CA). *set_environ*: export the client variables to
    ``os.environ`` while the IOC runs (else read them from :attr:`client_env`).
    *max_array_bytes*: ``EPICS_CA_MAX_ARRAY_BYTES`` for the IOC and the client.
    Each :meth:`start` takes a new port.
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
        self._ioc = None
        self._saved_environ = None

    @property
    def log_path(self):
        return self._ioc.log_path if self._ioc is not None else None

    @property
    def running(self):
        return self._ioc is not None and self._ioc.running

    def log_tail(self, lines=20):
        return self._ioc.log_tail(lines) if self._ioc is not None else ''

    def start(self):
        """Start the IOC and wait until its CA server accepts TCP connections; returns self."""
        if self._ioc is not None:
            raise EmbeddedIocError('the embedded IOC is already running')
        self._ioc = SoftIoc(db_text=self.db, acf_text=self.acf, lock_port=True,
                            max_array_bytes=self.max_array_bytes,
                            start_timeout=self.start_timeout)
        try:
            self._ioc.start()
        except BaseException:
            self.stop()
            raise
        self.port = self._ioc.port
        self.client_env = self._ioc.client_env
        if self.set_environ:
            self._saved_environ = export_environment(self.client_env)
        return self

    def stop(self, timeout=5.0):
        """Stop the IOC (end of input, then terminate, then kill), clean up, restore os.environ."""
        ioc, self._ioc = self._ioc, None
        try:
            if ioc is not None:
                ioc.close(timeout)
        finally:
            saved, self._saved_environ = self._saved_environ, None
            restore_environment(saved)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
        return False
