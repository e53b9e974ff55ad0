"""Contexts (API.md 6.1, 11.2, 11.3, 11.6, 12, 13.8, 13.21) against the reference soft IOC.

libca contexts belong to threads, and pytest runs every test in its main thread.  So each
scenario here runs in a fresh thread (``in_fresh_thread``) that creates and destroys its
own contexts; the main thread never gets a CA context from this module.
"""

import threading
import time

import pytest

import caffi.ca as ca
from caffi.constants import CA_OP, ECA, ChannelState
from caffi.dbr import DBF, DBR

from ca_client_util import connect, in_fresh_thread, own_context, run_in_thread, wait_until

# ---------------------------------------------------------------------------
# Helpers


def make_context_in_thread(preemptive):
    """A context created by (and left behind by) a short-lived helper thread."""
    def body():
        assert ca.create_context(preemptive) == ECA.NORMAL
        ctx = ca.current_context()
        assert ctx is not None
        return ctx
    body.__name__ = 'make_context'
    return run_in_thread(body)


def destroy_foreign_context(ctx):
    """Attach a helper thread to the preemptive context *ctx* and destroy it there."""
    def body():
        assert ca.attach_context(ctx) == ECA.NORMAL
        ca.destroy_context()
    body.__name__ = 'destroy_context'
    run_in_thread(body)


# ---------------------------------------------------------------------------
# current_context / create_context


@in_fresh_thread
def test_current_context_is_none_in_fresh_thread_and_never_creates_one():
    assert ca.current_context() is None
    assert ca.current_context() is None
    # Had current_context() created an (implicit, non-preemptive) context, this would be
    # NOTTHREADED.
    assert ca.create_context(True) == ECA.NORMAL
    try:
        assert ca.current_context() is not None
    finally:
        ca.destroy_context()
    assert ca.current_context() is None


@in_fresh_thread
def test_create_context_default_is_preemptive():
    status = ca.create_context()
    assert status == ECA.NORMAL
    assert type(status) is ECA
    try:
        # A second create_context(True) in the same thread is NORMAL only when the
        # existing context is preemptive.
        assert ca.create_context(True) == ECA.NORMAL
        ctx = ca.current_context()
    finally:
        detached = ca.detach_context()
    # Preemptive contexts can be attached from other threads.
    assert detached is None

    def other():
        try:
            return ca.attach_context(ctx)
        finally:
            ca.detach_context()
    assert run_in_thread(other) == ECA.NORMAL
    assert ca.attach_context(ctx) == ECA.NORMAL
    ca.destroy_context()


@pytest.mark.parametrize('first, second, expected', [
    (True, True, ECA.NORMAL),
    (True, False, ECA.NORMAL),
    (False, False, ECA.NORMAL),
    (False, True, ECA.NOTTHREADED),
    (1, 0, ECA.NORMAL),
    (0, 'yes', ECA.NOTTHREADED),
])
@in_fresh_thread
def test_create_context_twice(first, second, expected):
    assert ca.create_context(first) == ECA.NORMAL
    try:
        ctx = ca.current_context()
        status = ca.create_context(second)
        assert status == expected
        assert type(status) is ECA
        # The thread keeps its first context.
        assert ca.current_context() == ctx
    finally:
        ca.destroy_context()


# Every call that needs a context creates a non-preemptive one implicitly (11.2, 13.21).
IMPLICIT_CREATORS = [
    ('flush_io', lambda: ca.flush_io()),
    ('pend_event', lambda: ca.pend_event(0.001)),
    ('pend_io', lambda: ca.pend_io(0.001)),
    ('poll', lambda: ca.poll()),
    ('pend_early', lambda: ca.pend(0.001, True)),
    ('pend_late', lambda: ca.pend(0.001, False)),
    ('test_io', lambda: ca.test_io()),
    ('add_exception_event', lambda: ca.add_exception_event(None)),
    ('create_channel', lambda: ca.create_channel('nosuchpv:implicit')),
    ('sg_create', lambda: ca.sg_create()),
    ('show_context', lambda: ca.show_context()),
]


@pytest.mark.parametrize('call', [c for _, c in IMPLICIT_CREATORS],
                         ids=[n for n, _ in IMPLICIT_CREATORS])
@in_fresh_thread
def test_implicit_context_is_non_preemptive(call):
    assert ca.current_context() is None
    try:
        call()
        ctx = ca.current_context()
        assert ctx is not None
        assert ca.create_context(True) == ECA.NOTTHREADED
        # Non-preemptive: no other thread can join it.
        assert run_in_thread(ca.attach_context, ctx) == ECA.NOTTHREADED
        # create_context(False) on the existing context is fine.
        assert ca.create_context(False) == ECA.NORMAL
        assert ca.current_context() == ctx
    finally:
        ca.destroy_context()
    assert ca.current_context() is None


@in_fresh_thread
def test_context_handles_compare_and_hash_equal():
    with own_context(True) as ctx:
        again = ca.current_context()
        assert again == ctx
        assert not (again != ctx)
        assert hash(again) == hash(ctx)
        assert {ctx: 'x'}[again] == 'x'

        # The same context seen from an attached thread.
        def other():
            assert ca.attach_context(ctx) == ECA.NORMAL
            try:
                seen = ca.current_context()
                return seen, seen == ctx, hash(seen) == hash(ctx)
            finally:
                ca.detach_context()
        seen, equal, same_hash = run_in_thread(other)
        assert equal and same_hash
        assert seen == ctx

        # A different context compares unequal.
        def different():
            with own_context(True) as mine:
                return mine, mine == ctx, mine != ctx
        mine, equal, unequal = run_in_thread(different)
        assert not equal and unequal
        assert mine != ctx


# ---------------------------------------------------------------------------
# attach_context / detach_context


@in_fresh_thread
def test_attach_context_none_raises_typeerror():
    with pytest.raises(TypeError):
        ca.attach_context(None)
    assert ca.current_context() is None
    with own_context(True):
        with pytest.raises(TypeError):
            ca.attach_context(None)


@in_fresh_thread
def test_attach_context_when_already_attached_is_isattached():
    foreign = make_context_in_thread(True)
    try:
        with own_context(True) as mine:
            status = ca.attach_context(foreign)
            assert status == ECA.ISATTACHED
            assert type(status) is ECA
            # even the thread's own context
            assert ca.attach_context(mine) == ECA.ISATTACHED
            assert ca.current_context() == mine
        # implicit context counts too
        ca.flush_io()
        try:
            assert ca.attach_context(foreign) == ECA.ISATTACHED
        finally:
            ca.destroy_context()
    finally:
        destroy_foreign_context(foreign)


@in_fresh_thread
def test_attach_non_preemptive_context_is_notthreaded():
    def owner(ready, done, out):
        assert ca.create_context(False) == ECA.NORMAL
        out['ctx'] = ca.current_context()
        ready.set()
        done.wait(30)
        ca.destroy_context()

    ready, done, out = threading.Event(), threading.Event(), {}
    thread = threading.Thread(target=owner, args=(ready, done, out), daemon=True)
    thread.start()
    try:
        assert ready.wait(10)
        status = ca.attach_context(out['ctx'])
        assert status == ECA.NOTTHREADED
        assert type(status) is ECA
        assert ca.current_context() is None
    finally:
        done.set()
        thread.join(10)


@in_fresh_thread
def test_attach_preemptive_context_and_use_its_channels(ioc):
    ctx = make_context_in_thread(True)
    status = ca.attach_context(ctx)
    assert status == ECA.NORMAL
    assert type(status) is ECA
    try:
        assert ca.current_context() == ctx
        chid = connect('catest')
        assert ca.put(chid, 3.25) == ECA.NORMAL
        status, value = ca.get(chid)
        assert status == ECA.NORMAL
        assert ca.pend_io(10) == ECA.NORMAL
        assert value.get() == 3.25

        # Another thread attached to the same context uses the same channel.
        def other():
            assert ca.attach_context(ctx) == ECA.NORMAL
            try:
                assert ca.state(chid) == ChannelState.CONN
                assert ca.put(chid, 4.5) == ECA.NORMAL
                status, value = ca.get(chid)
                assert status == ECA.NORMAL
                assert ca.pend_io(10) == ECA.NORMAL
                return value.get()
            finally:
                ca.detach_context()
        assert run_in_thread(other) == 4.5

        # detach / re-attach
        assert ca.detach_context() is None
        assert ca.current_context() is None
        assert ca.attach_context(ctx) == ECA.NORMAL
        assert ca.current_context() == ctx
        assert ca.state(chid) == ChannelState.CONN
    finally:
        ca.destroy_context()
    assert ca.current_context() is None
    assert ca.state(chid) == ChannelState.CLOSED


@in_fresh_thread
def test_detach_context_without_context_returns_none():
    assert ca.detach_context() is None
    assert ca.current_context() is None


@in_fresh_thread
def test_detach_context_leaves_context_alive(ioc):
    assert ca.create_context(True) == ECA.NORMAL
    ctx = ca.current_context()
    chid = connect('catest')
    assert ca.detach_context() is None
    assert ca.current_context() is None
    # The channel is untouched and still usable through its own context.
    assert ca.state(chid) == ChannelState.CONN
    assert ca.attach_context(ctx) == ECA.NORMAL
    try:
        status, value = ca.get(chid)
        assert status == ECA.NORMAL
        assert ca.pend_io(10) == ECA.NORMAL
    finally:
        ca.destroy_context()


# ---------------------------------------------------------------------------
# destroy_context, show_context, functions returning None (13.8)


@in_fresh_thread
def test_destroy_context_without_context_is_noop():
    assert ca.destroy_context() is None
    assert ca.current_context() is None
    assert ca.destroy_context() is None
    assert ca.current_context() is None


@in_fresh_thread
def test_destroy_context_returns_none_and_detaches():
    assert ca.create_context(True) == ECA.NORMAL
    assert ca.destroy_context() is None
    assert ca.current_context() is None
    # a new preemptive context can be created afterwards
    assert ca.create_context(True) == ECA.NORMAL
    assert ca.destroy_context() is None


@in_fresh_thread
def test_chids_after_destroy_context_are_treated_as_cleared(ioc):
    assert ca.create_context(True) == ECA.NORMAL
    try:
        chid = connect('catest')
        updates = []
        status, evid = ca.create_subscription(chid, updates.append)
        assert status == ECA.NORMAL
        ca.flush_io()
    finally:
        assert ca.destroy_context() is None
    assert ca.current_context() is None
    table = [
        (ca.state, ChannelState.CLOSED),
        (ca.field_type, DBF.INVALID),
        (ca.element_count, 0),
        (ca.name, 'catest'),
        (ca.host_name, ''),
        (ca.read_access, False),
        (ca.write_access, False),
    ]
    for func, expected in table:
        result = func(chid)
        assert result == expected, func.__name__
        assert type(result) is type(expected), func.__name__
    # None of these may (implicitly) create a context or touch libca.
    assert ca.get(chid) == (ECA.BADCHID, None)
    assert ca.get(chid, callback=lambda args: None) == (ECA.BADCHID, None)
    assert ca.put(chid, 1.0) == ECA.BADCHID
    assert ca.put(chid, 1.0, callback=lambda args: None) == ECA.BADCHID
    assert ca.create_subscription(chid, lambda args: None) == (ECA.BADCHID, None)
    assert ca.change_connection_event(chid, lambda args: None) == ECA.BADCHID
    assert ca.replace_access_rights_event(chid, lambda args: None) == ECA.BADCHID
    assert ca.clear_subscription(evid) == ECA.BADCHID
    assert ca.clear_channel(chid) == ECA.BADCHID
    assert ca.current_context() is None
    # synchronous-group forms, in a new context
    with own_context(True):
        status, gid = ca.sg_create()
        assert status == ECA.NORMAL
        try:
            assert ca.sg_get(gid, chid) == (ECA.BADCHID, None)
            assert ca.sg_put(gid, chid, 1.0) == ECA.BADCHID
        finally:
            ca.sg_delete(gid)
    # still hashable with the same hash
    assert {chid: 1}[chid] == 1


@in_fresh_thread
def test_destroy_context_stops_callbacks(ioc):
    calls = []
    assert ca.create_context(True) == ECA.NORMAL
    try:
        status, chid = ca.create_channel('cacalc', lambda args: calls.append(args))
        assert status == ECA.NORMAL
        ca.flush_io()
        assert wait_until(lambda: calls)
        status, evid = ca.create_subscription(chid, lambda args: calls.append(args))
        assert status == ECA.NORMAL
        ca.flush_io()
        assert wait_until(lambda: len(calls) >= 2)
    finally:
        ca.destroy_context()
    seen = len(calls)
    time.sleep(1.5)  # cacalc updates at 1 Hz
    assert len(calls) == seen


@in_fresh_thread
def test_calls_after_destroy_context_use_implicit_context():
    assert ca.create_context(True) == ECA.NORMAL
    ca.destroy_context()
    assert ca.current_context() is None
    status = ca.flush_io()
    assert status == ECA.NORMAL
    try:
        assert ca.current_context() is not None
        assert ca.create_context(True) == ECA.NOTTHREADED
    finally:
        ca.destroy_context()


@in_fresh_thread
def test_show_context_returns_none(capfd):
    with own_context(True) as ctx:
        assert ca.show_context() is None
        assert ca.show_context(ctx) is None
        assert ca.show_context(ctx, 1) is None
        assert ca.show_context(context=ctx, level=2) is None
        assert ca.show_context(None, 0) is None
        # a context of another thread
        other = make_context_in_thread(True)
        try:
            assert ca.show_context(other, 0) is None
        finally:
            destroy_foreign_context(other)
    capfd.readouterr()


@pytest.mark.parametrize('context_given', [True, False])
@in_fresh_thread
def test_show_context_negative_level_is_overflowerror(capfd, context_given):
    with own_context(True) as ctx:
        with pytest.raises(OverflowError):
            if context_given:
                ca.show_context(ctx, -1)
            else:
                ca.show_context(level=-1)
    capfd.readouterr()


@in_fresh_thread
def test_show_context_creates_implicit_context(capfd):
    assert ca.show_context() is None
    try:
        assert ca.current_context() is not None
        assert ca.create_context(True) == ECA.NOTTHREADED
    finally:
        ca.destroy_context()
    capfd.readouterr()


@pytest.mark.parametrize('func, args', [
    (ca.destroy_context, ()),
    (ca.detach_context, ()),
    (ca.show_context, ()),
])
@in_fresh_thread
def test_functions_returning_none(func, args, capfd):
    assert ca.create_context(True) == ECA.NORMAL
    ctx = ca.current_context()
    try:
        assert func(*args) is None
    finally:
        if ca.current_context() is None and func is ca.detach_context:
            assert ca.attach_context(ctx) == ECA.NORMAL
        ca.destroy_context()
    capfd.readouterr()


# ---------------------------------------------------------------------------
# Callback delivery per context kind (11.3)


@pytest.mark.parametrize('pump_name', ['pend_event', 'poll'])
@in_fresh_thread
def test_non_preemptive_callbacks_only_inside_pend_event_or_poll(ioc, pump_name):
    inside = {'flag': False}
    seen = []
    connected = threading.Event()

    def on_conn(args):
        seen.append(inside['flag'])
        connected.set()

    def pump():
        inside['flag'] = True
        try:
            if pump_name == 'poll':
                status = ca.poll()
            else:
                status = ca.pend_event(0.05)
        finally:
            inside['flag'] = False
        assert status == ECA.TIMEOUT
        time.sleep(0.01)

    with own_context(False):
        status, chid = ca.create_channel('catest', on_conn)
        assert status == ECA.NORMAL
        assert ca.flush_io() == ECA.NORMAL
        # Outside libca nothing is delivered, however long we wait.
        assert not connected.wait(1.0)
        assert seen == []
        deadline = time.monotonic() + 10
        while not connected.is_set() and time.monotonic() < deadline:
            pump()
        assert connected.is_set()
        assert seen == [True]
        assert ca.state(chid) == ChannelState.CONN


@in_fresh_thread
def test_preemptive_callbacks_arrive_without_pend(ioc):
    connected = threading.Event()
    with own_context(True):
        status, chid = ca.create_channel('catest', lambda args: connected.set())
        assert status == ECA.NORMAL
        assert ca.flush_io() == ECA.NORMAL
        assert connected.wait(10)


@pytest.mark.parametrize('preemptive', [True, False], ids=['preemptive', 'non-preemptive'])
@in_fresh_thread
def test_pend_inside_callback_is_evdisallow(ioc, preemptive):
    results = []
    done = threading.Event()

    def on_conn(args):
        results.append({
            'pend_event': ca.pend_event(0.01),
            'pend_io': ca.pend_io(0.01),
            'poll': ca.poll(),
            'pend_early': ca.pend(0.01, True),
            'pend_late': ca.pend(0.01, False),
            'flush_io': ca.flush_io(),
        })
        done.set()

    with own_context(preemptive):
        status, chid = ca.create_channel('catest', on_conn)
        assert status == ECA.NORMAL
        ca.flush_io()
        assert wait_until(done.is_set, 10, pump=not preemptive)
    assert results == [{
        'pend_event': ECA.EVDISALLOW,
        'pend_io': ECA.EVDISALLOW,
        'poll': ECA.EVDISALLOW,
        'pend_early': ECA.EVDISALLOW,
        'pend_late': ECA.EVDISALLOW,
        'flush_io': ECA.NORMAL,
    }]
    assert all(type(v) is ECA for v in results[0].values())


@in_fresh_thread
def test_contexts_of_different_threads_are_independent(ioc):
    """A channel's callbacks come from its own context; another thread's context is untouched."""
    ops = []
    connected = threading.Event()

    def on_conn(args):
        ops.append(args['op'])
        connected.set()

    with own_context(True) as ctx:
        status, chid = ca.create_channel('catest', on_conn)
        assert status == ECA.NORMAL
        ca.flush_io()
        assert connected.wait(10)

        def other():
            with own_context(False) as mine:
                assert mine != ctx
                # info calls on a foreign channel work and do not switch contexts
                assert ca.state(chid) == ChannelState.CONN
                assert ca.current_context() == mine
                return ca.test_io()
        assert run_in_thread(other) == ECA.IODONE
        assert ops == [CA_OP.CONN_UP]


@in_fresh_thread
def test_info_from_thread_without_context_creates_none(ioc):
    with own_context(True):
        chid = connect('catest')

        def other():
            result = (ca.state(chid), ca.field_type(chid), ca.element_count(chid),
                      ca.name(chid), ca.read_access(chid), ca.write_access(chid))
            return result, ca.current_context()
        result, ctx = run_in_thread(other)
        assert result == (ChannelState.CONN, DBF.DOUBLE, 1, 'catest', True, True)
        assert ctx is None


@in_fresh_thread
def test_get_put_from_thread_without_context_use_channel_context(ioc):
    with own_context(True):
        chid = connect('catest')
        done = threading.Event()
        got = []

        def other():
            assert ca.put(chid, 7.5, callback=lambda args: None) == ECA.NORMAL
            status, _ = ca.get(chid, DBR.DOUBLE, callback=lambda args: (got.append(args),
                                                                           done.set()))
            return status, ca.current_context()
        status, ctx = run_in_thread(other)
        assert status == ECA.NORMAL
        assert ctx is None
        ca.flush_io()
        assert done.wait(10)
        assert got[0]['value'] == 7.5
