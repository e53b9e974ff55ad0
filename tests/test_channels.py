"""Channels, channel information, execution, exceptions, misc (API.md 3, 6.2, 6.3, 6.7, 6.9,
10.1, 10.2, 10.5, 11.3, 11.5, 12) against the reference soft IOC.

Each test body runs in a fresh thread with its own context (``in_fresh_thread``), so that
no test leaves a CA context in pytest's main thread or shares one with another test.
"""

import contextlib
import re
import sys
import threading
import time

import pytest

import caffi.ca as ca
from caffi.constants import CA_OP, CA_PRIORITY, ECA, ChannelState
from caffi.dbr import DBF, DBR

from ca_client_util import connect, in_fresh_thread, own_context, run_in_thread, wait_until
from ioc_harness import RECORDS

NOSUCHPV = 'nosuchpv:xyz'

# ---------------------------------------------------------------------------
# Helpers


def put_and_wait(chid, value, timeout=10.0):
    """put with completion callback, waited for: everything sent before it has been processed."""
    done = threading.Event()
    result = []
    assert ca.put(chid, value, callback=lambda args: (result.append(args), done.set())) \
        == ECA.NORMAL
    ca.flush_io()
    assert done.wait(timeout)
    return result[0]


# ---------------------------------------------------------------------------
# create_channel / connection callbacks (6.2, 10.1)


@in_fresh_thread
def test_connect_without_callback_pend_io_waits(ioc):
    with own_context(True):
        status, chid = ca.create_channel('catest')
        assert status == ECA.NORMAL
        assert type(status) is ECA
        assert chid
        hash(chid)
        assert chid == chid
        status = ca.pend_io(10)
        assert status == ECA.NORMAL
        assert type(status) is ECA
        assert ca.state(chid) == ChannelState.CONN
        assert ca.test_io() == ECA.IODONE


@pytest.mark.parametrize('preemptive', [True, False], ids=['preemptive', 'non-preemptive'])
@in_fresh_thread
def test_connect_with_callback(ioc, preemptive):
    calls = []
    connected = threading.Event()

    def on_conn(args):
        calls.append(args)
        connected.set()

    with own_context(preemptive):
        status, chid = ca.create_channel('catest', on_conn)
        assert status == ECA.NORMAL
        # A channel with a connection handler is not counted by pend_io/test_io.
        assert ca.test_io() == ECA.IODONE
        assert ca.pend_io(5) == ECA.NORMAL
        assert wait_until(connected.is_set, 10, pump=not preemptive)
        assert len(calls) == 1
        args = calls[0]
        assert type(args) is dict
        assert list(args) == ['chid', 'op']
        assert args['chid'] is chid
        assert args['op'] == CA_OP.CONN_UP
        assert type(args['op']) is CA_OP
        assert ca.state(chid) == ChannelState.CONN


@pytest.mark.parametrize('callback', [None, 'not callable', 42],
                         ids=['None', 'str', 'int'])
@in_fresh_thread
def test_non_callable_callback_means_no_handler(ioc, callback):
    with own_context(True):
        status, chid = ca.create_channel('catest', callback)
        assert status == ECA.NORMAL
        assert ca.pend_io(10) == ECA.NORMAL
        assert ca.state(chid) == ChannelState.CONN
        # Counted by pend_io: a never-connecting one makes pend_io time out.
        status, missing = ca.create_channel(NOSUCHPV, callback)
        assert status == ECA.NORMAL
        assert ca.test_io() == ECA.IOINPROGRESS
        assert ca.pend_io(0.5) == ECA.TIMEOUT


@in_fresh_thread
def test_create_channel_bytes_name(ioc):
    with own_context(True):
        status, chid = ca.create_channel(b'catest')
        assert status == ECA.NORMAL
        assert ca.pend_io(10) == ECA.NORMAL
        assert ca.name(chid) == 'catest'
        assert type(ca.name(chid)) is str
        assert ca.field_type(chid) == DBF.DOUBLE


@pytest.mark.parametrize('name', [None, 123, 1.5, ['catest'], object()],
                         ids=['None', 'int', 'float', 'list', 'object'])
@in_fresh_thread
def test_create_channel_non_text_name_is_typeerror(name):
    with own_context(True):
        with pytest.raises(TypeError):
            ca.create_channel(name)


@pytest.mark.parametrize('name', ['', b''], ids=['str', 'bytes'])
@in_fresh_thread
def test_create_channel_empty_name_is_badstr(name):
    with own_context(True):
        result = ca.create_channel(name)
        assert result == (ECA.BADSTR, None)
        assert type(result[0]) is ECA


@pytest.mark.parametrize('priority, expected', [
    (0, ECA.NORMAL),
    (CA_PRIORITY.DEFAULT, ECA.NORMAL),
    (CA_PRIORITY.ARCHIVE, ECA.NORMAL),
    (CA_PRIORITY.DB_LINKS, ECA.NORMAL),
    (99, ECA.NORMAL),
    (CA_PRIORITY.MAX, ECA.NORMAL),
    (100, ECA.BADPRIORITY),
    (1000, ECA.BADPRIORITY),
])
@in_fresh_thread
def test_create_channel_priority(ioc, priority, expected):
    with own_context(True):
        status, chid = ca.create_channel('catest', priority=priority)
        assert status == expected
        assert type(status) is ECA
        if expected == ECA.NORMAL:
            assert chid
            assert ca.pend_io(10) == ECA.NORMAL
            assert ca.state(chid) == ChannelState.CONN
        else:
            assert chid is None


@pytest.mark.parametrize('priority', [-1, -100])
@in_fresh_thread
def test_create_channel_negative_priority_is_overflowerror(priority):
    with own_context(True):
        with pytest.raises(OverflowError):
            ca.create_channel('catest', priority=priority)


@in_fresh_thread
def test_create_channel_positional_arguments(ioc):
    calls = []
    done = threading.Event()
    with own_context(True):
        status, chid = ca.create_channel('catest', lambda a: (calls.append(a), done.set()), 10)
        assert status == ECA.NORMAL
        ca.flush_io()
        assert done.wait(10)
        assert calls[0]['chid'] is chid


@in_fresh_thread
def test_chids_are_distinct_hashable_handles(ioc):
    with own_context(True):
        first = connect('catest')
        second = connect('catest')
        assert first and second
        assert first != second
        assert not (first == second)
        assert first == first
        table = {first: 1, second: 2}
        assert table[first] == 1 and table[second] == 2
        before = hash(first)
        assert ca.clear_channel(first) == ECA.NORMAL
        assert hash(first) == before
        assert table[first] == 1
        assert first


@pytest.mark.timeout(240)
@in_fresh_thread(timeout=200.0)
def test_conn_down_and_up_when_ioc_restarts(restartable_ioc):
    events = []
    lock = threading.Lock()
    down = {key: threading.Event() for key in ('create', 'change', 'removed')}
    up_again = {key: threading.Event() for key in ('create', 'change', 'removed')}

    def handler(key):
        def on_conn(args):
            with lock:
                events.append((key, 'conn', args['op'], args))
            if args['op'] == CA_OP.CONN_DOWN:
                down[key].set()
            elif args['op'] == CA_OP.CONN_UP and down[key].is_set():
                up_again[key].set()
        return on_conn

    def rights(key):
        def on_rights(args):
            with lock:
                events.append((key, 'rights', args['read_access'], args['write_access']))
        return on_rights

    with own_context(True):
        status, by_create = ca.create_channel('catest', handler('create'))
        assert status == ECA.NORMAL
        by_change = connect('catest')
        status, removed = ca.create_channel('catest', handler('removed'))
        assert status == ECA.NORMAL
        ca.flush_io()
        assert wait_until(lambda: ca.state(by_create) == ChannelState.CONN
                          and ca.state(removed) == ChannelState.CONN)
        assert ca.change_connection_event(by_change, handler('change')) == ECA.NORMAL
        assert ca.change_connection_event(removed, None) == ECA.NORMAL
        assert ca.replace_access_rights_event(by_create, rights('create')) == ECA.NORMAL

        chids = {'create': by_create, 'change': by_change, 'removed': removed}
        restartable_ioc.stop()
        assert down['create'].wait(30)
        assert down['change'].wait(30)

        # Disconnected channel information (6.3, 13.19).
        for chid in chids.values():
            assert ca.state(chid) == ChannelState.PREV_CONN
            assert type(ca.state(chid)) is ChannelState
            assert ca.field_type(chid) == DBF.INVALID
            assert type(ca.field_type(chid)) is DBF
            assert ca.element_count(chid) == 0
            assert ca.name(chid) == 'catest'
            assert ca.host_name(chid) == '<disconnected>'
            assert ca.read_access(chid) is False
            assert ca.write_access(chid) is False

        restartable_ioc.start()
        assert up_again['create'].wait(60)
        assert up_again['change'].wait(60)
        assert wait_until(lambda: ca.state(removed) == ChannelState.CONN, 30)
        for chid in chids.values():
            assert wait_until(lambda: ca.state(chid) == ChannelState.CONN, 30)
            assert ca.field_type(chid) == DBF.DOUBLE
            assert ca.element_count(chid) == 1

    with lock:
        conn = [(key, op) for key, kind, op, *_ in events if kind == 'conn']
        create_seq = [(kind, a, b if kind == 'rights' else None)
                      for key, kind, a, b in events if key == 'create']
        for key, kind, op, args in events:
            if kind == 'conn':
                assert list(args) == ['chid', 'op']
                assert args['chid'] is chids[key]
                assert type(args['op']) is CA_OP
    assert [op for key, op in conn if key == 'create'] == \
        [CA_OP.CONN_UP, CA_OP.CONN_DOWN, CA_OP.CONN_UP]
    assert [op for key, op in conn if key == 'change'] == [CA_OP.CONN_DOWN, CA_OP.CONN_UP]
    assert [op for key, op in conn if key == 'removed'] == [CA_OP.CONN_UP]
    # Access rights: once synchronously when installed, False/False after the connection
    # handler saw CONN_DOWN, True/True before it sees CONN_UP (6.2).
    assert create_seq == [
        ('conn', CA_OP.CONN_UP, None),
        ('rights', True, True),
        ('conn', CA_OP.CONN_DOWN, None),
        ('rights', False, False),
        ('rights', True, True),
        ('conn', CA_OP.CONN_UP, None),
    ]


@in_fresh_thread
def test_change_connection_event_replaces_handler(ioc):
    first, second = [], []
    with own_context(True):
        status, chid = ca.create_channel('catest', first.append)
        assert status == ECA.NORMAL
        ca.flush_io()
        assert wait_until(lambda: first)
        status = ca.change_connection_event(chid, second.append)
        assert status == ECA.NORMAL
        assert type(status) is ECA
        # Not called on installation, and the old one is no longer used.
        assert second == []
        for callback in (None, 'not callable', second.append):
            assert ca.change_connection_event(chid, callback) == ECA.NORMAL
        assert ca.change_connection_event(chid) == ECA.NORMAL
        assert len(first) == 1


@in_fresh_thread
def test_clear_channel_does_not_call_connection_handler(ioc):
    calls = []
    with own_context(True):
        status, chid = ca.create_channel('catest', calls.append)
        assert status == ECA.NORMAL
        ca.flush_io()
        assert wait_until(lambda: calls)
        status = ca.clear_channel(chid)
        assert status == ECA.NORMAL
        assert type(status) is ECA
        ca.flush_io()
        ca.pend_event(0.2)
        assert [c['op'] for c in calls] == [CA_OP.CONN_UP]


# ---------------------------------------------------------------------------
# Access rights (6.2, 10.2, 13.14)


@pytest.mark.parametrize('preemptive', [True, False], ids=['preemptive', 'non-preemptive'])
@in_fresh_thread
def test_access_rights_handler_called_synchronously_when_connected(ioc, preemptive):
    calls = []
    me = threading.get_ident()

    def on_rights(args):
        calls.append((threading.get_ident(), args))

    with own_context(preemptive):
        chid = connect('catest')
        status = ca.replace_access_rights_event(chid, on_rights)
        # The handler has run before the call returned, in the calling thread.
        assert len(calls) == 1
        assert status == ECA.NORMAL
        assert type(status) is ECA
        thread, args = calls[0]
        assert thread == me
        assert type(args) is dict
        assert list(args) == ['chid', 'read_access', 'write_access']
        assert args['chid'] is chid
        assert args['read_access'] is True
        assert args['write_access'] is True
        # Positional and keyword forms; non-callable removes the handler (no call).
        assert ca.replace_access_rights_event(chid, None) == ECA.NORMAL
        assert ca.replace_access_rights_event(chid) == ECA.NORMAL
        assert ca.replace_access_rights_event(chid, callback='nope') == ECA.NORMAL
        assert len(calls) == 1
        assert ca.replace_access_rights_event(chid, callback=on_rights) == ECA.NORMAL
        assert len(calls) == 2


@in_fresh_thread
def test_access_rights_handler_not_called_when_unconnected():
    calls = []
    with own_context(True):
        status, chid = ca.create_channel(NOSUCHPV)
        assert status == ECA.NORMAL
        assert ca.replace_access_rights_event(chid, calls.append) == ECA.NORMAL
        assert calls == []


# ---------------------------------------------------------------------------
# Channel information (6.3)


@pytest.mark.parametrize('record', list(RECORDS.values()), ids=list(RECORDS))
@in_fresh_thread
def test_info_connected(ioc, record):
    with own_context(True):
        chid = connect(record.name)
        ftype = ca.field_type(chid)
        assert ftype == DBF[record.dbf]
        assert type(ftype) is DBF
        count = ca.element_count(chid)
        assert count == record.count
        assert type(count) is int
        assert ca.name(chid) == record.name
        assert type(ca.name(chid)) is str
        state = ca.state(chid)
        assert state == ChannelState.CONN
        assert type(state) is ChannelState
        host = ca.host_name(chid)
        assert type(host) is str
        assert re.match(r'^[^:]+:%d$' % ioc.port, host), host
        assert ca.read_access(chid) is True
        assert ca.write_access(chid) is True


@in_fresh_thread
def test_info_never_connected():
    with own_context(True):
        status, chid = ca.create_channel(NOSUCHPV)
        assert status == ECA.NORMAL
        assert ca.state(chid) == ChannelState.NEVER_CONN
        assert type(ca.state(chid)) is ChannelState
        assert ca.test_io() == ECA.IOINPROGRESS
        status = ca.pend_io(0.5)
        assert status == ECA.TIMEOUT
        assert type(status) is ECA
        assert ca.test_io() == ECA.IODONE
        assert ca.state(chid) == ChannelState.NEVER_CONN
        assert ca.field_type(chid) == DBF.INVALID
        assert ca.element_count(chid) == 0
        assert ca.name(chid) == NOSUCHPV
        assert ca.host_name(chid) == '<disconnected>'
        assert ca.read_access(chid) is False
        assert ca.write_access(chid) is False


CLEARED_INFO = [
    (ca.state, ChannelState.CLOSED),
    (ca.field_type, DBF.INVALID),
    (ca.element_count, 0),
    (ca.name, None),             # the name it was created with
    (ca.host_name, ''),
    (ca.read_access, False),
    (ca.write_access, False),
]


@pytest.mark.parametrize('func, expected', CLEARED_INFO, ids=[f.__name__ for f, _ in CLEARED_INFO])
@pytest.mark.parametrize('name, connected', [('catest', True), (NOSUCHPV, False)],
                         ids=['connected', 'never-connected'])
@in_fresh_thread
def test_info_cleared(ioc, func, expected, name, connected):
    with own_context(True):
        if connected:
            chid = connect(name)
        else:
            status, chid = ca.create_channel(name)
            assert status == ECA.NORMAL
        assert ca.clear_channel(chid) == ECA.NORMAL
        if expected is None:
            expected = name
        result = func(chid)
        assert result == expected
        assert type(result) is type(expected)


def test_state_none_is_never_search():
    # No context needed and none created (runs in its own thread anyway).
    def body():
        result = ca.state(None)
        return result, ca.current_context()
    result, ctx = run_in_thread(body)
    assert result == ChannelState.NEVER_SEARCH
    assert type(result) is ChannelState
    assert ctx is None


INFO_FUNCTIONS = [ca.field_type, ca.element_count, ca.name, ca.host_name,
                  ca.read_access, ca.write_access]


@pytest.mark.parametrize('func', INFO_FUNCTIONS, ids=[f.__name__ for f in INFO_FUNCTIONS])
@in_fresh_thread
def test_info_none_is_typeerror(func):
    with pytest.raises(TypeError):
        func(None)


# ---------------------------------------------------------------------------
# Stale and missing chids (6.2, 12)


def _stale_calls(gid):
    noop = lambda args: None  # noqa: E731
    return [
        ('clear_channel', lambda c: ca.clear_channel(c), ECA.BADCHID),
        ('get', lambda c: ca.get(c), (ECA.BADCHID, None)),
        ('get_chtype', lambda c: ca.get(c, DBR.DOUBLE, 1), (ECA.BADCHID, None)),
        ('get_callback', lambda c: ca.get(c, callback=noop), (ECA.BADCHID, None)),
        ('put', lambda c: ca.put(c, 1.0), ECA.BADCHID),
        ('put_chtype', lambda c: ca.put(c, 1.0, DBR.DOUBLE), ECA.BADCHID),
        ('put_callback', lambda c: ca.put(c, 1.0, callback=noop), ECA.BADCHID),
        ('create_subscription', lambda c: ca.create_subscription(c, noop), (ECA.BADCHID, None)),
        ('create_subscription_chtype',
         lambda c: ca.create_subscription(c, noop, DBR.TIME_DOUBLE), (ECA.BADCHID, None)),
        ('change_connection_event', lambda c: ca.change_connection_event(c, noop), ECA.BADCHID),
        ('change_connection_event_none', lambda c: ca.change_connection_event(c, None),
         ECA.BADCHID),
        ('replace_access_rights_event',
         lambda c: ca.replace_access_rights_event(c, noop), ECA.BADCHID),
        ('replace_access_rights_event_none',
         lambda c: ca.replace_access_rights_event(c, None), ECA.BADCHID),
        ('sg_get', lambda c: ca.sg_get(gid, c), (ECA.BADCHID, None)),
        ('sg_get_chtype', lambda c: ca.sg_get(gid, c, DBR.DOUBLE), (ECA.BADCHID, None)),
        ('sg_put', lambda c: ca.sg_put(gid, c, 1.0), ECA.BADCHID),
    ]


STALE_IDS = [n for n, _, _ in _stale_calls(0)]


def _check_status(result, expected):
    assert result == expected
    if isinstance(expected, tuple):
        assert type(result) is tuple
        assert type(result[0]) is ECA
        assert result[1] is None
    else:
        assert type(result) is ECA


@pytest.mark.parametrize('index', range(len(STALE_IDS)), ids=STALE_IDS)
@in_fresh_thread
def test_cleared_chid_gives_badchid(ioc, index):
    with own_context(True):
        status, gid = ca.sg_create()
        assert status == ECA.NORMAL
        try:
            _, call, expected = _stale_calls(gid)[index]
            chid = connect('catest')
            assert ca.clear_channel(chid) == ECA.NORMAL
            _check_status(call(chid), expected)
            # and again: nothing changed by the first attempt
            _check_status(call(chid), expected)
            assert ca.state(chid) == ChannelState.CLOSED
        finally:
            ca.sg_delete(gid)


NONE_CALLS = [
    ('clear_channel', lambda: ca.clear_channel(None), ECA.BADCHID),
    ('change_connection_event', lambda: ca.change_connection_event(None, print), ECA.BADCHID),
    ('replace_access_rights_event', lambda: ca.replace_access_rights_event(None, print),
     ECA.BADCHID),
    ('get', lambda: ca.get(None), (ECA.BADCHID, None)),
    ('get_callback', lambda: ca.get(None, callback=print), (ECA.BADCHID, None)),
    ('put', lambda: ca.put(None, 1.0), ECA.BADCHID),
    ('create_subscription', lambda: ca.create_subscription(None, print), (ECA.BADCHID, None)),
]


@pytest.mark.parametrize('call, expected', [(c, e) for _, c, e in NONE_CALLS],
                         ids=[n for n, _, _ in NONE_CALLS])
@in_fresh_thread
def test_none_chid_gives_badchid(call, expected):
    with own_context(True):
        _check_status(call(), expected)


@in_fresh_thread
def test_clear_channel_drops_pending_callbacks(ioc):
    calls = []
    with own_context(True):
        chid = connect('catest')
        assert ca.get(chid, callback=calls.append)[0] == ECA.NORMAL
        assert ca.put(chid, 1.0, callback=calls.append) == ECA.NORMAL
        assert ca.create_subscription(chid, calls.append)[0] == ECA.NORMAL
        assert ca.replace_access_rights_event(chid, None) == ECA.NORMAL
        calls.clear()
        # Cleared before the requests were flushed: nothing may be delivered.
        assert ca.clear_channel(chid) == ECA.NORMAL
        assert ca.flush_io() == ECA.NORMAL
        assert ca.pend_event(0.3) == ECA.TIMEOUT
        assert calls == []


@in_fresh_thread
def test_clear_channel_twice(ioc):
    with own_context(True):
        chid = connect('catest')
        first = ca.clear_channel(chid)
        assert first == ECA.NORMAL
        assert type(first) is ECA
        second = ca.clear_channel(chid)
        assert second == ECA.BADCHID
        assert type(second) is ECA


@in_fresh_thread
def test_clear_channel_never_connected():
    with own_context(True):
        status, chid = ca.create_channel(NOSUCHPV)
        assert status == ECA.NORMAL
        assert ca.clear_channel(chid) == ECA.NORMAL
        # The cleared channel no longer counts for pend_io.
        assert ca.pend_io(1.0) == ECA.NORMAL
        assert ca.clear_channel(chid) == ECA.BADCHID


# ---------------------------------------------------------------------------
# Execution and flushing (6.7)


@in_fresh_thread
def test_pend_event_poll_flush_test_io():
    with own_context(True):
        start = time.monotonic()
        status = ca.pend_event(0.2)
        elapsed = time.monotonic() - start
        assert status == ECA.TIMEOUT
        assert type(status) is ECA
        assert elapsed >= 0.15
        assert elapsed < 5
        status = ca.poll()
        assert status == ECA.TIMEOUT
        assert type(status) is ECA
        status = ca.flush_io()
        assert status == ECA.NORMAL
        assert type(status) is ECA
        status = ca.test_io()
        assert status == ECA.IODONE
        assert type(status) is ECA


@pytest.mark.parametrize('call, expected', [
    (lambda: ca.pend_io(0.1), ECA.NORMAL),
    (lambda: ca.pend_io(1), ECA.NORMAL),
    (lambda: ca.pend(0.1, True), ECA.NORMAL),
    (lambda: ca.pend(0.1, 1), ECA.NORMAL),
    (lambda: ca.pend(0.1, False), ECA.TIMEOUT),
    (lambda: ca.pend(0.1, 0), ECA.TIMEOUT),
    (lambda: ca.pend(0.1, None), ECA.TIMEOUT),
    (lambda: ca.pend_event(0.05), ECA.TIMEOUT),
    (lambda: ca.pend_event(1e-6), ECA.TIMEOUT),
], ids=['pend_io', 'pend_io-int', 'pend-early', 'pend-early-int', 'pend-late', 'pend-late-int',
        'pend-late-None', 'pend_event', 'pend_event-tiny'])
@pytest.mark.parametrize('preemptive', [True, False], ids=['preemptive', 'non-preemptive'])
@in_fresh_thread
def test_pend_nothing_outstanding(call, expected, preemptive):
    with own_context(preemptive):
        status = call()
        assert status == expected
        assert type(status) is ECA


@in_fresh_thread
def test_pend_early_with_outstanding_io_times_out():
    with own_context(True):
        status, chid = ca.create_channel(NOSUCHPV)
        assert status == ECA.NORMAL
        assert ca.test_io() == ECA.IOINPROGRESS
        start = time.monotonic()
        assert ca.pend(0.5, True) == ECA.TIMEOUT
        assert time.monotonic() - start >= 0.4
        assert ca.test_io() == ECA.IODONE


@in_fresh_thread
def test_test_io_in_progress_until_pend_io(ioc):
    with own_context(True):
        status, chid = ca.create_channel('catest')
        assert status == ECA.NORMAL
        assert ca.pend_io(10) == ECA.NORMAL
        status, value = ca.get(chid)
        assert status == ECA.NORMAL
        # The read is outstanding until pend_io (a preemptive context may complete it
        # early, so only IOINPROGRESS or IODONE are possible here).
        assert ca.test_io() in (ECA.IOINPROGRESS, ECA.IODONE)
        assert ca.pend_io(10) == ECA.NORMAL
        assert ca.test_io() == ECA.IODONE


BAD_TIMEOUTS = ['1', b'1', None, [1], object()]
TIMEOUT_CALLS = [
    ('pend_event', lambda t: ca.pend_event(t)),
    ('pend_io', lambda t: ca.pend_io(t)),
    ('pend_early', lambda t: ca.pend(t, True)),
    ('pend_late', lambda t: ca.pend(t, False)),
]


@pytest.mark.parametrize('timeout', BAD_TIMEOUTS, ids=['str', 'bytes', 'None', 'list', 'object'])
@pytest.mark.parametrize('call', [c for _, c in TIMEOUT_CALLS], ids=[n for n, _ in TIMEOUT_CALLS])
@in_fresh_thread
def test_timeout_of_wrong_type_is_typeerror(call, timeout):
    with own_context(True):
        with pytest.raises(TypeError):
            call(timeout)


# ---------------------------------------------------------------------------
# Exception handler (6.9, 10.5)

EXCEPTION_KEYS = ['chid', 'type', 'count', 'addr', 'stat', 'op', 'ctx', 'file', 'lineNo']


@pytest.mark.parametrize('preemptive', [True, False], ids=['preemptive', 'non-preemptive'])
@in_fresh_thread
def test_exception_handler_receives_put_failure(ioc, preemptive):
    calls = []
    got = threading.Event()

    def handler(args):
        calls.append(args)
        got.set()

    with own_context(preemptive):
        status = ca.add_exception_event(handler)
        assert status == ECA.NORMAL
        assert type(status) is ECA
        chid = connect('cabo')
        # The server cannot match the state name and rejects the write asynchronously.
        assert ca.put(chid, 'NoSuchState') == ECA.NORMAL
        assert ca.flush_io() == ECA.NORMAL
        assert wait_until(got.is_set, 10, pump=not preemptive)
        assert len(calls) == 1
        args = calls[0]
        assert type(args) is dict
        assert list(args) == EXCEPTION_KEYS
        assert args['chid'] == chid
        assert args['chid'] is chid
        assert args['type'] == DBR.STRING
        assert type(args['type']) is DBR
        assert args['count'] == 1
        assert type(args['count']) is int
        assert args['addr'] is None
        assert args['stat'] == ECA.PUTFAIL
        assert type(args['stat']) is ECA
        assert args['op'] == CA_OP.PUT
        assert type(args['op']) is CA_OP
        assert type(args['ctx']) is str
        assert 'cabo' in args['ctx']
        assert type(args['file']) is str
        assert type(args['lineNo']) is int


@pytest.mark.parametrize('replacement', [None, 'not callable', 0], ids=['None', 'str', 'int'])
@in_fresh_thread
def test_non_callable_exception_handler_reinstalls_default(ioc, replacement, capfd):
    calls = []
    with own_context(True):
        assert ca.add_exception_event(calls.append) == ECA.NORMAL
        status = ca.add_exception_event(replacement)
        assert status == ECA.NORMAL
        assert type(status) is ECA
        chid = connect('cabo')
        assert ca.put(chid, 'NoSuchState') == ECA.NORMAL
        # Everything sent before the completed put has been processed by the server.
        put_and_wait(chid, 0)
        ca.pend_event(0.1)
        assert calls == []
    capfd.readouterr()  # libca's default handler reports on stderr


@in_fresh_thread
def test_add_exception_event_default_argument():
    with own_context(True):
        assert ca.add_exception_event() == ECA.NORMAL


@in_fresh_thread
def test_exception_handler_is_per_context(ioc):
    calls = []
    with own_context(True):
        assert ca.add_exception_event(calls.append) == ECA.NORMAL

        def other():
            with own_context(True):
                chid = connect('cabo')
                assert ca.add_exception_event(lambda args: None) == ECA.NORMAL
                assert ca.put(chid, 'NoSuchState') == ECA.NORMAL
                put_and_wait(chid, 0)
        run_in_thread(other)
        assert calls == []


# ---------------------------------------------------------------------------
# Exceptions raised by user callbacks (11.5)


@contextlib.contextmanager
def recording_unraisablehook():
    """Record what reaches sys.unraisablehook (and print it to stderr like the default)."""
    records = []
    previous = sys.unraisablehook

    def hook(unraisable):
        records.append((unraisable.exc_type, str(unraisable.exc_value)))
        sys.__unraisablehook__(unraisable)

    sys.unraisablehook = hook
    try:
        yield records
    finally:
        sys.unraisablehook = previous


def _reported(records, err, text):
    """The exception *text* was reported: via the unraisable hook or as a traceback on stderr."""
    if any(exc_type is RuntimeError and text in value for exc_type, value in records):
        return True
    return 'Traceback' in err and ('RuntimeError: %s' % text) in err


@in_fresh_thread
def test_raising_connection_callback_is_reported_and_deliveries_continue(ioc, capfd):
    calls = []
    both = threading.Event()

    def on_conn(args):
        calls.append(args['chid'])
        if len(calls) >= 2:
            both.set()
        raise RuntimeError('boom-conn-%d' % len(calls))

    with recording_unraisablehook() as records:
        with own_context(True):
            status, first = ca.create_channel('catest', on_conn)
            assert status == ECA.NORMAL
            ca.flush_io()
            assert wait_until(lambda: calls)
            status, second = ca.create_channel('calong', on_conn)
            assert status == ECA.NORMAL
            ca.flush_io()
            assert both.wait(10)
            assert set(calls) == {first, second}
            # the context still works
            assert ca.state(first) == ChannelState.CONN
            assert ca.state(second) == ChannelState.CONN
            assert ca.pend_io(1) == ECA.NORMAL
    err = capfd.readouterr().err
    assert _reported(records, err, 'boom-conn-1')
    assert _reported(records, err, 'boom-conn-2')


@in_fresh_thread
def test_raising_access_rights_callback_inside_call(ioc, capfd):
    calls = []

    def on_rights(args):
        calls.append(args)
        raise RuntimeError('boom-rights-%d' % len(calls))

    with recording_unraisablehook() as records:
        with own_context(True):
            chid = connect('catest')
            # The synchronous call must not propagate the exception.
            assert ca.replace_access_rights_event(chid, on_rights) == ECA.NORMAL
            assert len(calls) == 1
            assert ca.replace_access_rights_event(chid, on_rights) == ECA.NORMAL
            assert len(calls) == 2
    err = capfd.readouterr().err
    assert _reported(records, err, 'boom-rights-1')
    assert _reported(records, err, 'boom-rights-2')


@in_fresh_thread
def test_raising_exception_handler_is_reported_and_deliveries_continue(ioc, capfd):
    calls = []

    def handler(args):
        calls.append(args['stat'])
        raise RuntimeError('boom-exc-%d' % len(calls))

    with recording_unraisablehook() as records:
        with own_context(True):
            assert ca.add_exception_event(handler) == ECA.NORMAL
            chid = connect('cabo')
            for _ in range(2):
                assert ca.put(chid, 'NoSuchState') == ECA.NORMAL
            ca.flush_io()
            assert wait_until(lambda: len(calls) >= 2)
            assert calls == [ECA.PUTFAIL, ECA.PUTFAIL]
    err = capfd.readouterr().err
    assert _reported(records, err, 'boom-exc-1')
    assert _reported(records, err, 'boom-exc-2')


# ---------------------------------------------------------------------------
# message / version (6.9)


@pytest.mark.parametrize('code, text', [
    (ECA.NORMAL, 'Normal successful completion'),
    (1, 'Normal successful completion'),
    (ECA.TIMEOUT, 'User specified timeout on IO operation expired'),
    (ECA.BADCHID, 'Invalid channel identifier'),
    (ECA.EVDISALLOW, 'Request inappropriate within subscription (monitor) update callback'),
])
def test_message_known_codes(code, text):
    result = ca.message(code)
    assert result == text
    assert type(result) is str


@pytest.mark.parametrize('code', list(ECA), ids=[m.name for m in ECA])
def test_message_every_eca_code(code):
    result = ca.message(code)
    assert type(result) is str
    assert result
    assert ca.message(int(code)) == result
    assert code.message() == result


@pytest.mark.parametrize('code', [12345, 0xFFF8, 4000])
def test_message_unknown_numbers(code):
    result = ca.message(code)
    assert type(result) is str
    assert result == 'new CA message number known only by server - see caerr.h'


def test_version():
    result = ca.version()
    assert type(result) is str
    assert re.match(r'^\d+\.\d+$', result)
    assert result == '4.13'
