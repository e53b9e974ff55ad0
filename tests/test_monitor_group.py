"""caffi.monitor.MonitorGroup against the reference IOC: many subscriptions, one ring.

Sequences are paced with put-callback completion (put_wait), as in test_monitor.py, so that the
expected order is exact; "delivered by the server" is stats()['updates'].
"""

import gc
import select
import threading
import time

import numpy
import pytest

import caffi.ca as ca
from caffi.dbr import DBR
from caffi.monitor import CONNECTED, DISCONNECTED, UPDATE, GroupBatch, Monitor, MonitorGroup

from ca_client_util import TIMEOUT, connect, own_context, put_wait, wait_for

pytestmark = pytest.mark.usefixtures('context')


@pytest.fixture
def groups():
    """Groups to close after the test (closing twice is fine)."""
    opened = []
    yield opened
    for group in opened:
        group.close()


def open_group(opened, chids, *args, **kwargs):
    group = MonitorGroup(chids, *args, **kwargs)
    opened.append(group)
    ca.flush_io()           # the subscription requests leave with the next flush
    return group


def settle(group, quiet=0.3, timeout=10.0):
    """Wait until the group's update count stops changing for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = group.stats()['updates'], time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now = group.stats()['updates']
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return group.stats()


def drain_all(group, batches=None):
    """Everything waiting, as one list of (index, value row, count, event) tuples."""
    batch = group.drain()
    if batches is not None:
        batches.append(batch)
    rows = batch.values if batch.values.ndim == 2 else batch.values[:, None]
    return [(int(i), rows[k].copy(), int(c), int(e))
            for k, (i, c, e) in enumerate(zip(batch.index, batch.counts, batch.events))]


def close_while_waiting(group):
    """Close the group while a thread waits on it: what that wait() returned (it must end)."""
    woke = []
    waiter = threading.Thread(target=lambda: woke.append(group.wait(30)))
    waiter.start()
    time.sleep(0.2)
    group.close()
    waiter.join(5)
    assert not waiter.is_alive()
    return woke


def test_mixed_native_types_share_one_time_double_group(chans, groups):
    """LONG, ENUM and DOUBLE records in one TIME_DOUBLE group; rows in arrival order, each
    with its member's index, the value converted by the server."""
    members = [chans['catest'], chans['calong'], chans['cabo']]
    put_wait(chans['catest'], 0.5)
    put_wait(chans['calong'], 7)
    put_wait(chans['cabo'], 0)
    group = open_group(groups, members, DBR.TIME_DOUBLE)
    assert group.width == 1 and group.chids == members and group.size == 3
    assert group.wait(TIMEOUT)
    assert wait_for(lambda: group.pending >= 3)
    first = group.drain()
    assert isinstance(first, GroupBatch)
    assert sorted(first.index.tolist()) == [0, 1, 2]         # each member's current value
    assert first.values.shape == (3,) and first.values.dtype == numpy.float64
    assert dict(zip(first.index.tolist(), first.values.tolist())) == {0: 0.5, 1: 7.0, 2: 0.0}
    assert (first.events == UPDATE).all() and (first.counts == 1).all()
    assert (first.timestamps > 1e9).all()
    sent = []
    for i in range(1, 6):
        put_wait(chans['catest'], i + 0.25)
        put_wait(chans['calong'], 100 + i)
        put_wait(chans['cabo'], i % 2)
        sent += [(0, i + 0.25), (1, 100.0 + i), (2, float(i % 2))]
    settle(group)
    rows = [(i, float(value[0])) for i, value, _, _ in drain_all(group)]
    assert rows == sent


def test_waveforms_of_different_lengths_fill_the_front_of_their_row(chans, groups):
    short, long = chans['cawave'], chans['cawavef']
    width = max(ca.element_count(short), ca.element_count(long))
    group = open_group(groups, [short, long], DBR.DOUBLE, count=width)
    put_wait(short, [1.0, 2.0, 3.0])
    put_wait(long, numpy.arange(ca.element_count(long), dtype=numpy.float64))
    settle(group)
    rows = {i: (value, count) for i, value, count, _ in drain_all(group)}
    value, count = rows[0]
    assert count == 3 and value[:3].tolist() == [1.0, 2.0, 3.0] and not value[3:].any()
    value, count = rows[1]
    assert count == ca.element_count(long)
    assert value[:count].tolist() == list(map(float, range(count)))


def test_fileno_is_readable_while_rows_wait(chans, groups):
    group = open_group(groups, [chans['catest']], DBR.TIME_DOUBLE)
    assert group.wait(TIMEOUT)                              # the current value
    readable, _, _ = select.select([group], [], [], 0)
    assert readable == [group]
    group.drain()
    readable, _, _ = select.select([group.fileno()], [], [], 0)
    assert readable == []
    put_wait(chans['catest'], 3.5)
    readable, _, _ = select.select([group], [], [], TIMEOUT)
    assert readable == [group]
    assert group.drain().values.tolist() == [3.5]


def test_wait_times_out_and_close_wakes_a_waiter(chans, groups):
    group = open_group(groups, [chans['catest']], DBR.TIME_DOUBLE)
    assert group.wait(TIMEOUT)
    group.drain()
    started = time.monotonic()
    assert group.wait(0.2) is False
    assert 0.15 < time.monotonic() - started < 5
    assert close_while_waiting(group) == [False]
    assert group.closed
    readable, _, _ = select.select([group], [], [], 0)
    assert readable == [group]                              # stays readable once closed


def readable_now(group):
    return select.select([group], [], [], 0)[0] == [group]


def test_gather_announces_a_batch_once_it_has_gathered(chans, groups):
    """With gather, the first row arms the group's timer: wait() and fileno() are ready
    `gather` seconds later, with every row of the batch; a drain before that clears it."""
    gather = 0.3
    group = open_group(groups, [chans['catest'], chans['calong']], DBR.TIME_DOUBLE,
                       gather=gather)
    assert group.gather == pytest.approx(gather) and 'gather 0.3s' in repr(group)
    assert group.wait(TIMEOUT)                              # the current values, gathered
    assert group.drain().index.size == 2
    assert not readable_now(group)
    started = time.monotonic()
    put_wait(chans['catest'], 1.5)
    put_wait(chans['calong'], 4)
    # put_wait returns at the put's completion, which can come before the monitor's update
    assert wait_for(lambda: group.pending == 2)
    assert not readable_now(group)                          # rows wait, not announced yet
    assert group.wait(0) is False
    assert group.wait(TIMEOUT)
    waited = time.monotonic() - started
    assert gather * 0.8 <= waited < gather + 2.0
    assert readable_now(group)
    batch = group.drain()
    assert sorted(zip(batch.index.tolist(), batch.values.tolist())) == [(0, 1.5), (1, 4.0)]
    assert not readable_now(group)
    # a drain before the batch gathered takes it and disarms the timer: no late wake-up
    put_wait(chans['catest'], 2.5)
    assert wait_for(lambda: group.pending == 1)
    assert group.drain().values.tolist() == [2.5]
    assert select.select([group], [], [], gather * 2)[0] == []
    assert group.wait(gather * 2) is False


def test_gather_wakes_at_once_when_half_full_or_closed(chans, groups):
    group = open_group(groups, [chans['catest']], DBR.TIME_DOUBLE, depth=4, gather=60.0)
    assert wait_for(lambda: group.pending == 1)             # the current value: timer armed
    assert not readable_now(group)
    put_wait(chans['catest'], 1.0)                          # 2 of 4 rows: half full
    assert wait_for(lambda: readable_now(group), timeout=TIMEOUT)
    assert group.wait(0)
    assert group.drain().values.tolist()[-1] == 1.0
    put_wait(chans['catest'], 2.0)
    assert wait_for(lambda: group.pending == 1) and not readable_now(group)
    assert close_while_waiting(group) == [True]             # closed, one row still to drain
    assert readable_now(group)
    assert group.drain().values.tolist() == [2.0]
    assert group.wait(0) is False and readable_now(group)


def test_gather_is_a_group_argument_only(chans):
    with pytest.raises(TypeError, match='gather'):
        Monitor(chans['catest'], gather=0.1)                # a Monitor wakes per update waited for


@pytest.mark.parametrize('gather', [-0.1, float('nan'), float('inf'), 1e6, 'soon'])
def test_bad_gather_is_refused(chans, gather):
    with pytest.raises((ValueError, TypeError), match='gather|float'):
        MonitorGroup([chans['catest']], gather=gather)


@pytest.mark.parametrize('overflow', ['drop_oldest', 'drop_newest'])
def test_stalled_consumer_accounts_for_every_update(chans, groups, overflow):
    """received + dropped + pending == delivered, for the group and for each member."""
    members = [chans['catest'], chans['calong']]
    put_wait(chans['catest'], -1.0)
    put_wait(chans['calong'], -1)                           # the first update each member sends
    group = open_group(groups, members, DBR.TIME_DOUBLE, depth=8, overflow=overflow)
    for i in range(20):
        put_wait(chans['catest'], float(i))
        put_wait(chans['calong'], i)
    stats = settle(group)
    assert stats['dropped'] > 0
    per_member = group.member_stats()
    assert per_member['dropped'].sum() == stats['dropped']
    received = numpy.zeros(2, numpy.uint64)
    batch = group.drain()
    for index in batch.index:
        received[index] += 1
    assert group.pending == 0
    assert (received + per_member['dropped'] == per_member['updates']).all()
    assert received.sum() + stats['dropped'] == stats['updates']
    kept = [float(v) for i, v in zip(batch.index, batch.values) if i == 1]
    if overflow == 'drop_oldest':                           # the newest survive
        assert kept[-1] == 19.0
    else:                                                   # the oldest survive
        assert kept == sorted(kept) and kept[0] == -1.0 and kept[-1] < 19.0
    for member in (0, 1):
        one = group.stats(member)
        assert one['updates'] == per_member['updates'][member]
        assert one['dropped'] == per_member['dropped'][member]
    assert group.stats(chans['calong'])['updates'] == per_member['updates'][1]


def test_drain_of_everything_hands_out_the_ring_store(chans, groups):
    group = open_group(groups, [chans['catest'], chans['calong']], DBR.TIME_DOUBLE)
    settle(group)
    batch = group.drain()
    assert len(batch.index) >= 2
    bases = {id(array.base) for array in batch}            # every array on one store, no copy
    assert len(bases) == 1
    held = batch.values.copy()
    put_wait(chans['catest'], 9.25)
    settle(group)
    assert numpy.array_equal(batch.values, held)            # a held batch does not change
    assert group.drain().values.tolist()[-1] == 9.25


def test_add_and_remove_while_updates_flow(chans, groups):
    catest, calong = chans['catest'], chans['calong']
    group = open_group(groups, [catest], DBR.TIME_DOUBLE)
    settle(group)
    group.drain()
    index = group.add(calong)
    ca.flush_io()
    assert index == 1 and group.chids == [catest, calong] and group.size == 2
    put_wait(calong, 41)
    put_wait(catest, 1.5)
    settle(group)
    rows = [(i, float(v[0])) for i, v, _, _ in drain_all(group)]
    assert (1, 41.0) in rows and rows[-1] == (0, 1.5)
    group.remove(catest)
    assert group.chids == [None, calong] and group.size == 1
    put_wait(catest, 2.5)
    put_wait(calong, 42)
    settle(group)
    rows = [(i, float(v[0])) for i, v, _, _ in drain_all(group)]
    assert rows == [(1, 42.0)]
    with pytest.raises(KeyError):
        group.remove(0)
    assert group.add(catest) == 2                           # indices are never reused
    assert group.size == 2


def test_reuse_indices_waits_until_the_rows_are_behind_a_later_drain(chans, groups):
    """reuse_indices: a removed member's index goes to a later add() only once its rows left
    the ring before a drain began (the caller has moved on from the batch that held them)."""
    catest, calong = chans['catest'], chans['calong']
    group = open_group(groups, [catest], DBR.TIME_DOUBLE, reuse_indices=True)
    settle(group)
    group.drain()
    put_wait(catest, 7.5)
    settle(group)
    group.remove(0)                     # its update of 7.5 still waits in the ring
    assert group.add(calong) == 1       # not free: a row of index 0 has not been drained
    ca.flush_io()
    settle(group)
    rows = [(i, float(v[0])) for i, v, _, e in drain_all(group) if e == UPDATE]
    assert (0, 7.5) in rows             # handed out under its own index, after the remove
    assert group.add(catest) == 2       # still not free: that batch may be in use
    ca.flush_io()
    settle(group)
    group.drain()                       # the caller is done with the batch holding row 0
    assert group.add(catest) == 0       # free now: reused, with fresh counters
    ca.flush_io()
    assert group.chids == [catest, calong, catest] and group.size == 3
    put_wait(catest, 8.5)
    settle(group)
    rows = [(i, float(v[0])) for i, v, _, e in drain_all(group) if e == UPDATE]
    assert (0, 8.5) in rows and (2, 8.5) in rows
    stats = group.member_stats()
    assert stats['updates'][0] == len([r for r in rows if r[0] == 0])
    for index in (0, 1, 2):
        group.remove(index)
    group.drain()
    group.drain()                       # nothing waits: the drain still marks the batches done
    assert [group.add(chid) for chid in (catest, calong, catest, calong)] == [0, 1, 2, 3]


def test_indices_are_not_reused_by_default(chans, groups):
    catest = chans['catest']
    group = open_group(groups, [catest], DBR.TIME_DOUBLE)
    for expected in range(1, 6):
        group.remove(expected - 1)
        settle(group, quiet=0.1)
        group.drain()
        group.drain()
        assert group.add(catest) == expected
        ca.flush_io()
    assert len(group.chids) == 6


def test_bad_arguments_get_clear_errors(chans, groups):
    catest = chans['catest']
    with pytest.raises(ValueError, match='depth'):
        MonitorGroup([catest], depth=0)
    with pytest.raises(ValueError, match='request type'):
        MonitorGroup([catest], DBR.CTRL_DOUBLE)
    with pytest.raises(ValueError, match='overflow'):
        MonitorGroup([catest], overflow='newest')
    with pytest.raises(TypeError, match='chids'):
        MonitorGroup([catest, 'calong'])
    with pytest.raises(ValueError, match='explicit count'):
        MonitorGroup([])
    with pytest.raises(ValueError, match='width'):
        MonitorGroup([chans['cawave']], count=2)            # more elements than the width
    group = open_group(groups, [catest], DBR.TIME_DOUBLE)
    with pytest.raises(ValueError, match='width'):
        group.add(chans['calong'], count=2)
    status, stale = ca.create_channel('catest')
    assert ca.pend_io(TIMEOUT) == ca.ECA.NORMAL
    ca.clear_channel(stale)
    with pytest.raises(ValueError, match='live channel'):
        group.add(stale)
    with pytest.raises(ValueError, match='made by'):
        MonitorGroup.__new__(MonitorGroup).drain()


def test_members_of_another_context_are_refused(chans, groups):
    group = open_group(groups, [chans['catest']], DBR.TIME_DOUBLE)
    made, finished, other = threading.Event(), threading.Event(), []

    def in_another_context():                       # a thread of its own: a context of its own
        with own_context():
            other.append(connect('calong'))
            made.set()
            finished.wait(30)
            ca.clear_channel(other[0])

    thread = threading.Thread(target=in_another_context)
    thread.start()
    try:
        assert made.wait(TIMEOUT)
        with pytest.raises(ValueError, match='context'):
            group.add(other[0])
        with pytest.raises(ValueError, match='one context'):
            MonitorGroup([chans['catest'], other[0]])
    finally:
        finished.set()
        thread.join(30)


def test_groups_in_several_threads(chans):
    """Four threads, each with its own group over the same channels, each sees every put."""
    members = [chans['catest'], chans['calong']]
    results, errors = {}, []

    def consume(name, ready, stop):
        try:
            with MonitorGroup(members, DBR.TIME_DOUBLE) as group:
                ca.flush_io()
                ready.set()
                got = []
                while not stop.is_set() or group.pending:
                    if group.wait(0.1):
                        batch = group.drain()
                        got += [float(v) for i, v in zip(batch.index, batch.values) if i == 1]
                results[name] = got
        except BaseException as exc:        # reported by the main thread
            errors.append(exc)

    stop = threading.Event()
    threads = []
    for n in range(4):
        ready = threading.Event()
        thread = threading.Thread(target=consume, args=(n, ready, stop))
        thread.start()
        assert ready.wait(TIMEOUT)
        threads.append(thread)
    time.sleep(0.5)                          # every group has its members' current values
    for i in range(30):
        put_wait(chans['calong'], 1000 + i)
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert not errors
    for got in results.values():
        assert got[-30:] == [1000.0 + i for i in range(30)]


def test_reuse_indices_with_adds_in_several_threads(chans, groups):
    """Threads adding and removing members of one reuse_indices group while another drains:
    no index is ever held by two members at once, and removed indices are taken again."""
    group = open_group(groups, [], DBR.TIME_DOUBLE, count=1, reuse_indices=True)
    held, lock, errors = set(), threading.Lock(), []
    stop = threading.Event()

    def churn(chid):
        try:
            for _ in range(150):
                index = group.add(chid)
                with lock:
                    assert index not in held, f'index {index} given twice'
                    held.add(index)
                ca.flush_io()
                with lock:
                    held.discard(index)
                group.remove(index)
        except BaseException as exc:        # reported by the main thread
            errors.append(exc)

    def drain():
        while not stop.is_set():
            group.wait(0.01)
            group.drain()

    drainer = threading.Thread(target=drain)
    drainer.start()
    workers = [threading.Thread(target=churn, args=(chans[name],))
               for name in ('catest', 'calong', 'catest', 'calong')]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    stop.set()
    drainer.join(10)
    assert not errors, errors
    assert group.size == 0
    assert len(group.chids) < 100, len(group.chids)        # 600 adds


def test_notify_thread_hands_over_batches(chans):
    seen = []
    with MonitorGroup([chans['calong']], DBR.TIME_DOUBLE, notify=seen.append,
                      notify_interval=0.02) as group:
        ca.flush_io()
        for i in range(5):
            put_wait(chans['calong'], 500 + i)
        assert wait_for(lambda: sum(len(b.index) for b in seen) >= 6)
    values = [float(v) for b in seen for v in b.values]
    assert values[-5:] == [500.0 + i for i in range(5)]
    assert group.closed


def test_closed_group_is_freed(chans):
    group = MonitorGroup([chans['catest'], chans['calong']], DBR.TIME_DOUBLE)
    ca.flush_io()
    assert group.wait(TIMEOUT)
    batch = group.drain()
    group.close()
    del group
    gc.collect()
    assert len(batch.index) >= 1                            # a batch outlives its group


def test_connection_changes_appear_in_the_stream_in_order(chans, groups, restartable_ioc):
    """Members' disconnection and reconnection are rows of their own, between the updates
    before and after; updates resume after the restart without the user doing anything."""
    members = [chans['calong'], chans['catest']]
    put_wait(chans['calong'], 4)
    group = open_group(groups, members, DBR.TIME_DOUBLE)
    settle(group)
    before = drain_all(group)
    assert {i for i, _, _, e in before if e == UPDATE} == {0, 1}
    restartable_ioc.stop()
    assert wait_for(lambda: group.pending >= 2, 30.0)
    down = drain_all(group)
    assert sorted((i, e) for i, _, _, e in down) == [(0, DISCONNECTED), (1, DISCONNECTED)]
    assert all(count == 0 for _, _, count, _ in down)
    restartable_ioc.start()
    # each member: CONNECTED, then its value of the fresh IOC (0), then the new puts
    assert wait_for(lambda: group.stats()['updates'] >= 4, 60.0)
    put_wait(chans['calong'], 1)
    put_wait(chans['calong'], 2)
    settle(group)
    rows = drain_all(group)
    for member in (0, 1):
        mine = [(float(v[0]), e) for i, v, _, e in rows if i == member]
        assert mine[0] == (0.0, CONNECTED), mine
        assert mine[1] == (0.0, UPDATE), mine
    assert [float(v[0]) for i, v, _, e in rows if i == 0][2:] == [1.0, 2.0]


def test_group_watch_and_user_connection_callback_coexist(chans, groups):
    """The group's watch and the user's connection callback coexist: replacing or removing the
    user's callback leaves the group's rows alone."""
    seen = []
    status, chid = ca.create_channel('calong', lambda args: seen.append(args['op']))
    assert wait_for(lambda: ca.state(chid) == ca.ChannelState.CONN)
    try:
        group = open_group(groups, [chid], DBR.TIME_DOUBLE)
        settle(group)
        group.drain()
        assert ca.change_connection_event(chid, None) == ca.ECA.NORMAL
        put_wait(chid, 77)
        settle(group)
        assert [float(v) for v in group.drain().values] == [77.0]
        assert seen == [ca.CA_OP.CONN_UP]
    finally:
        ca.clear_channel(chid)
    assert group.stats(0)['updates'] == 2


def test_second_init_and_nan_timeouts_are_refused(chans, groups):
    """A made group is not re-laid out under its live members, and wait() takes no NaN; the
    same holds for Monitor (both were found by the group fuzz)."""
    group = open_group(groups, [chans['catest']], DBR.TIME_DOUBLE)
    with pytest.raises(TypeError, match='once'):
        group.__init__([chans['calong']], DBR.DOUBLE, depth=4)
    with pytest.raises(ValueError, match='NaN'):
        group.wait(float('nan'))
    assert group.wait(TIMEOUT) and group.width == 1 and group.depth == 65536
    monitor = Monitor(chans['calong'], DBR.TIME_LONG)
    try:
        with pytest.raises(TypeError, match='once'):
            monitor.__init__(chans['catest'], DBR.DOUBLE)
        with pytest.raises(ValueError, match='NaN'):
            monitor.wait(float('nan'))
    finally:
        monitor.close()
    group.drain()
    put_wait(chans['catest'], 6.5)
    started = time.monotonic()
    assert group.wait(1e300) is True                # a huge timeout waits, it does not overflow
    assert time.monotonic() - started < 5
