"""Small client-side helpers shared by the IOC-backed test modules.

All helpers assume the calling thread has a preemptive context (see
:func:`preemptive_context`), so callbacks arrive on libca's threads and are
waited for with :class:`threading.Event` and bounded timeouts.
"""

import contextlib
import functools
import threading
import time

import caffi.ca as ca
from caffi.constants import ECA, ChannelState

TIMEOUT = 5.0                   # default bound for any single wait
RECONNECT_TIMEOUT = 60.0        # after an IOC restart libca may take a while to search again


def preemptive_context():
    """Generator body for a module fixture: a preemptive context in this thread.

    A context left in this thread by an earlier module that is not preemptive
    (NOTTHREADED) is destroyed first.  The context is destroyed on teardown.
    """
    status = ca.create_context(True)
    if status == ECA.NOTTHREADED:
        ca.destroy_context()
        status = ca.create_context(True)
    assert status == ECA.NORMAL, status
    try:
        yield ca.current_context()
    finally:
        ca.destroy_context()


def wait_for(predicate, timeout=TIMEOUT, interval=0.01):
    """Poll *predicate* until true or *timeout*; returns its last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def connect(name, timeout=TIMEOUT):
    """create_channel without callback + pend_io: a connected chid."""
    status, chid = ca.create_channel(name)
    assert status == ECA.NORMAL
    assert ca.pend_io(timeout) == ECA.NORMAL
    assert ca.state(chid) == ChannelState.CONN
    return chid


class Channels(object):
    """Lazily connected channels by record name, cleared by :meth:`close`."""

    def __init__(self):
        self._chids = {}

    def __getitem__(self, name):
        chid = self._chids.get(name)
        if chid is None:
            chid = self._chids[name] = connect(name)
        elif ca.state(chid) != ChannelState.CONN:
            # e.g. after an IOC restart by another test: wait for the reconnection
            assert wait_for(lambda: ca.state(chid) == ChannelState.CONN, RECONNECT_TIMEOUT), name
        return chid

    def close(self):
        for chid in self._chids.values():
            ca.clear_channel(chid)
        self._chids.clear()


class Collector(object):
    """A callback that records every dict it receives."""

    def __init__(self):
        self.items = []
        self._cond = threading.Condition()

    def __call__(self, arg):
        with self._cond:
            self.items.append(arg)
            self._cond.notify_all()

    def wait(self, n=1, timeout=TIMEOUT):
        """Wait until at least *n* dicts arrived; returns whether they did."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.items) >= n, timeout)

    def wait_until(self, predicate, timeout=TIMEOUT):
        """Wait until predicate(items) is true; returns whether it became so."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.items), timeout)

    @property
    def last(self):
        return self.items[-1]

    def __len__(self):
        return len(self.items)


def get_callback(chid, chtype=None, count=None, use_numpy=False, timeout=TIMEOUT):
    """get() with a callback; returns the single callback dict."""
    done = Collector()
    status, none = ca.get(chid, chtype, count, callback=done, use_numpy=use_numpy)
    assert status == ECA.NORMAL, status
    assert none is None
    ca.flush_io()
    assert done.wait(1, timeout), 'read callback not delivered'
    return done.items[0]


def get_value(chid, chtype=None, count=None, use_numpy=False, timeout=TIMEOUT):
    """get() without a callback + pend_io; returns DBRValue.get()."""
    status, dbrvalue = ca.get(chid, chtype, count, use_numpy=use_numpy)
    assert status == ECA.NORMAL, status
    assert ca.pend_io(timeout) == ECA.NORMAL
    return dbrvalue.get()


def read_back(chid, chtype=None):
    """The server's current value (count 0: the current length of an array)."""
    result = get_callback(chid, chtype, 0)
    assert result['status'] == ECA.NORMAL, result
    return result['value']


def put_wait(chid, value, chtype=None, count=None, timeout=TIMEOUT):
    """put() with completion callback; asserts success and returns the callback dict."""
    done = Collector()
    status = ca.put(chid, value, chtype, count, callback=done)
    assert status == ECA.NORMAL, status
    ca.flush_io()
    assert done.wait(1, timeout), 'put callback not delivered'
    assert done.items[0]['status'] == ECA.NORMAL, done.items[0]
    return done.items[0]


def subscribe(evids, chid, callback, **kwargs):
    status, evid = ca.create_subscription(chid, callback, **kwargs)
    assert status == ECA.NORMAL and isinstance(status, ECA), status
    assert evid
    evids.append(evid)
    ca.flush_io()
    return evid


# ---------------------------------------------------------------------------
# Tests that run in their own thread with their own context (contexts belong to threads)


def run_in_thread(func, *args, timeout=90.0, **kwargs):
    """Run ``func(*args, **kwargs)`` in a new thread; return its result or raise its exception."""
    outcome = {}

    def body():
        try:
            outcome['result'] = func(*args, **kwargs)
        except BaseException as exc:  # re-raised in the caller
            outcome['error'] = exc

    worker = threading.Thread(target=body, name='caffi-test-%s' % func.__name__, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise AssertionError('%s did not finish within %.0f s' % (func.__name__, timeout))
    if 'error' in outcome:
        raise outcome['error']
    return outcome.get('result')


def in_fresh_thread(test=None, timeout=90.0):
    """Decorator: run the test body (with its fixtures) in a new thread without a CA context.

    ``@in_fresh_thread`` or ``@in_fresh_thread(timeout=...)``.
    """
    if test is None:
        return functools.partial(in_fresh_thread, timeout=timeout)

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        def body():
            assert ca.current_context() is None, 'fresh thread already has a CA context'
            return test(*args, **kwargs)
        body.__name__ = test.__name__
        return run_in_thread(body, timeout=timeout)
    return wrapper


@contextlib.contextmanager
def own_context(preemptive=True):
    """Create a context for the calling thread, destroy it on exit."""
    assert ca.create_context(preemptive) == ECA.NORMAL
    try:
        yield ca.current_context()
    finally:
        ca.destroy_context()


def wait_until(predicate, timeout=10.0, pump=False):
    """Bounded wait; with *pump* the calling thread runs pend_event (non-preemptive contexts)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        if pump:
            ca.pend_event(0.02)
        else:
            time.sleep(0.01)
    return True
