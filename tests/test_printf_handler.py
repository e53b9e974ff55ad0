"""replace_printf_handler (API.md §14): libca's diagnostic messages to a Python callable.

libca's default exception handler reports a server-side failure (here: a put of an unknown
state name to the bo record `cabo`, which the server rejects with PUTFAIL) through the context's
printf handler, one formatted message per call. Each test body runs in a fresh thread with its
own context, as the handler belongs to a context.
"""

import ctypes
import sys
import threading

import pytest

import caffi.ca as ca
import caffi._ca as _ca
import caffi._testing as _testing
from caffi.constants import ECA

from ca_client_util import connect, in_fresh_thread, own_context, run_in_thread, wait_until

# What libca's report of the failed put contains (ca_client_context::vSignal).
REPORT_HEADER = 'CA.Client.Exception'
PUTFAIL_TEXT = 'Channel write request failed'       # ca_message(ECA_PUTFAIL)


class Messages(object):
    """A printf callable: records every message (and the thread it arrived on)."""

    def __init__(self):
        self.items = []
        self.lock = threading.Lock()

    def __call__(self, message):
        with self.lock:
            self.items.append(message)

    @property
    def text(self):
        with self.lock:
            return ''.join(self.items)


def put_and_wait(chid, value, timeout=10.0, pump=False):
    """put with completion callback, waited for: the server has processed everything before it."""
    done = threading.Event()
    assert ca.put(chid, value, callback=lambda args: done.set()) == ECA.NORMAL
    ca.flush_io()
    assert wait_until(done.is_set, timeout, pump=pump)


def provoke_putfail(pump=False):
    """A put the server rejects, with libca's default exception handler: a printed report."""
    assert ca.add_exception_event(None) == ECA.NORMAL
    chid = connect('cabo')
    assert ca.put(chid, 'NoSuchState') == ECA.NORMAL
    put_and_wait(chid, 0, pump=pump)
    return chid


def default_output_has_report(capfd, timeout=10):
    """Whether libca's own printing (C stdio: stdout after a restore, or errlog's stderr) shows
    the report; C's buffered stdout is flushed so that capfd sees it."""
    libc = ctypes.CDLL(None)
    seen = []

    def found():
        libc.fflush(None)
        captured = capfd.readouterr()
        seen.append(captured.out + captured.err)
        return PUTFAIL_TEXT in ''.join(seen)
    return wait_until(found, timeout)


def test_in_all():
    assert ca.__all__[-1] == 'replace_printf_handler'
    assert len(ca.__all__) == 38
    assert ca.replace_printf_handler is _ca.replace_printf_handler


@pytest.mark.parametrize('preemptive', [True, False], ids=['preemptive', 'non-preemptive'])
@in_fresh_thread
def test_exception_report_goes_to_handler(ioc, capfd, preemptive):
    messages = Messages()
    with own_context(preemptive):
        status = ca.replace_printf_handler(messages)
        assert status == ECA.NORMAL
        assert type(status) is ECA
        provoke_putfail(pump=not preemptive)
        assert wait_until(lambda: PUTFAIL_TEXT in messages.text, 10, pump=not preemptive), \
            messages.items
        assert ca.replace_printf_handler(None) == ECA.NORMAL
    assert all(type(m) is str for m in messages.items)
    # one call per formatted libca message, each already formatted (no % directives left)
    assert len(messages.items) > 1
    text = messages.text
    assert REPORT_HEADER in text
    assert 'channel=cabo' in text
    assert '%s' not in text and '%u' not in text
    # nothing went to libca's default output
    ctypes.CDLL(None).fflush(None)
    captured = capfd.readouterr()
    assert REPORT_HEADER not in captured.err
    assert REPORT_HEADER not in captured.out


@pytest.mark.parametrize('replacement', [None, 'not callable', 0], ids=['None', 'str', 'int'])
@in_fresh_thread
def test_non_callable_restores_default(ioc, capfd, replacement):
    messages = Messages()
    with own_context(True):
        assert ca.replace_printf_handler(messages) == ECA.NORMAL
        status = ca.replace_printf_handler(replacement)
        assert status == ECA.NORMAL
        assert type(status) is ECA
        provoke_putfail()
        assert default_output_has_report(capfd)
    assert messages.items == []


@in_fresh_thread
def test_default_argument_restores(ioc, capfd):
    messages = Messages()
    with own_context(True):
        assert ca.replace_printf_handler(messages) == ECA.NORMAL
        assert ca.replace_printf_handler() == ECA.NORMAL
        provoke_putfail()
        assert default_output_has_report(capfd)
    assert messages.items == []


@in_fresh_thread
def test_replacing_the_handler(ioc):
    first, second = Messages(), Messages()
    with own_context(True):
        assert ca.replace_printf_handler(first) == ECA.NORMAL
        assert ca.replace_printf_handler(second) == ECA.NORMAL
        provoke_putfail()
        assert wait_until(lambda: PUTFAIL_TEXT in second.text, 10), second.items
        ca.replace_printf_handler(None)
    assert first.items == []


@in_fresh_thread
def test_handler_is_per_context(ioc):
    mine = Messages()
    with own_context(True):
        assert ca.replace_printf_handler(mine) == ECA.NORMAL
        theirs = Messages()

        def other():
            with own_context(True):
                assert ca.replace_printf_handler(theirs) == ECA.NORMAL
                provoke_putfail()
                assert wait_until(lambda: PUTFAIL_TEXT in theirs.text, 10), theirs.items
        run_in_thread(other)
        ca.pend_event(0.1)
        assert mine.items == []
        ca.replace_printf_handler(None)


@in_fresh_thread
def test_implicit_context():
    # like add_exception_event, it makes libca create a (non-preemptive) context if needed
    try:
        assert ca.replace_printf_handler(Messages()) == ECA.NORMAL
        assert ca.current_context() is not None
        assert ca.create_context(True) == ECA.NOTTHREADED
    finally:
        ca.destroy_context()


@in_fresh_thread
def test_exception_in_handler_is_reported(ioc):
    seen = []
    reported = []

    def failing(message):
        seen.append(message)
        raise RuntimeError('printf handler failed')

    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: reported.append(unraisable.exc_type)
    try:
        with own_context(True):
            assert ca.replace_printf_handler(failing) == ECA.NORMAL
            provoke_putfail()
            assert wait_until(lambda: PUTFAIL_TEXT in ''.join(seen), 10), seen
            ca.replace_printf_handler(None)
    finally:
        sys.unraisablehook = previous
    # every message was still delivered, every exception reported
    assert len(seen) > 1
    assert reported and set(reported) == {RuntimeError}


# ---------------------------------------------------------------------------
# The C formatting path, driven with a real va_list through the trampoline (no server needed)

@pytest.mark.parametrize('length', [0, 1, 511, 512, 513, 5000, 100000])
@in_fresh_thread
def test_formatting_lengths(length):
    messages = Messages()
    text = ''.join(chr(ord('a') + i % 26) for i in range(length))
    with own_context(True):
        assert ca.replace_printf_handler(messages) == ECA.NORMAL
        assert _testing.print_through_handler(text) == length
        ca.replace_printf_handler(None)
    assert messages.items == [text]


@in_fresh_thread
def test_formatting_text():
    messages = Messages()
    with own_context(True):
        assert ca.replace_printf_handler(messages) == ECA.NORMAL
        _testing.print_through_handler('100% näive\n')
        _testing.print_through_handler(b'\xff bad utf-8')
        ca.replace_printf_handler(None)
    assert messages.items == ['100% näive\n', '\ufffd bad utf-8']
