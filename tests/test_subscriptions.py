"""create_subscription / clear_subscription against the reference IOC (API.md §6.6, §7, §10.3, §11.4, §12)."""

import time

import numpy
import pytest

import caffi.ca as ca
from caffi.constants import DBE, ECA, AlarmCondition, AlarmSeverity, ChannelState
from caffi.dbr import DBR

from ca_client_util import Collector, connect, put_wait, subscribe, wait_for

QUIET = 0.5     # how long to watch for deliveries that must not come


# every test of this module runs in pytest's thread with a module-wide preemptive context
pytestmark = pytest.mark.usefixtures('context')


def check_update(update, chid, t, count, status=ECA.NORMAL):
    assert type(update) is dict
    assert list(update) == ['chid', 'type', 'count', 'status', 'value']
    assert update['chid'] == chid
    assert update['type'] == t and isinstance(update['type'], DBR)
    assert update['count'] == count and type(update['count']) is int
    assert update['status'] == status and isinstance(update['status'], ECA)


# ---------------------------------------------------------------------------
# type / count / mask


def test_default_type_and_count(chans, subscriptions):
    chid = chans['catest']
    put_wait(chid, 1.5)
    updates = Collector()
    subscribe(subscriptions, chid, updates)
    assert updates.wait(1)
    check_update(updates.items[0], chid, DBR.DOUBLE, 1)
    assert updates.items[0]['value'] == 1.5


def test_default_count_of_waveform(chans, subscriptions):
    chid = chans['cawave']
    put_wait(chid, [1, 2, 3])
    updates = Collector()
    subscribe(subscriptions, chid, updates)
    assert updates.wait(1)
    check_update(updates.items[0], chid, DBR.DOUBLE, 20)
    assert updates.items[0]['value'] == [1.0, 2.0, 3.0] + [0.0] * 17


def test_explicit_type_and_count(chans, subscriptions):
    chid = chans['cawave']
    put_wait(chid, [1, 2, 3])
    updates = Collector()
    subscribe(subscriptions, chid, updates, chtype=DBR.TIME_DOUBLE, count=5)
    assert updates.wait(1)
    update = updates.items[0]
    check_update(update, chid, DBR.TIME_DOUBLE, 5)
    assert list(update['value']) == ['status', 'severity', 'stamp', 'value']
    assert update['value']['value'] == [1.0, 2.0, 3.0, 0.0, 0.0]
    put_wait(chid, [4, 5])
    assert updates.wait(2)
    check_update(updates.items[1], chid, DBR.TIME_DOUBLE, 5)
    assert updates.items[1]['value']['value'] == [4.0, 5.0, 0.0, 0.0, 0.0]


def test_explicit_type_string_of_double(chans, subscriptions):
    chid = chans['catest']
    put_wait(chid, 2.5)
    updates = Collector()
    subscribe(subscriptions, chid, updates, chtype=DBR.STRING)
    assert updates.wait(1)
    check_update(updates.items[0], chid, DBR.STRING, 1)
    assert updates.items[0]['value'] == '2.5000'
    put_wait(chid, 1.5)


@pytest.mark.parametrize('count, expected', [(None, 20), (-1, 20), (3, 3), (25, 20)])
def test_count_rules(chans, subscriptions, count, expected):
    chid = chans['cawave']
    put_wait(chid, [1, 2, 3, 4])
    updates = Collector()
    subscribe(subscriptions, chid, updates, count=count)
    assert updates.wait(1)
    check_update(updates.items[0], chid, DBR.DOUBLE, expected)
    assert updates.items[0]['value'] == ([1.0, 2.0, 3.0, 4.0] + [0.0] * 16)[:expected]


def test_count_zero_dynamic_array(chans, subscriptions):
    chid = chans['cawave']
    put_wait(chid, [1, 2, 3])
    updates = Collector()
    subscribe(subscriptions, chid, updates, count=0)
    assert updates.wait(1)
    check_update(updates.items[0], chid, DBR.DOUBLE, 3)
    assert updates.items[0]['value'] == [1.0, 2.0, 3.0]
    put_wait(chid, [7, 8, 9, 10, 11])
    assert updates.wait(2)
    check_update(updates.items[1], chid, DBR.DOUBLE, 5)
    assert updates.items[1]['value'] == [7.0, 8.0, 9.0, 10.0, 11.0]
    put_wait(chid, [6])
    assert updates.wait(3)
    check_update(updates.items[2], chid, DBR.DOUBLE, 1)
    assert updates.items[2]['value'] == 6.0          # count 1: a scalar
    put_wait(chid, [1, 2, 3])


@pytest.fixture
def alarm_limits(chans):
    """catest.HIGH is changed by the mask tests; restore it."""
    high = chans['catest.HIGH']
    yield high
    put_wait(high, 10.0)
    put_wait(chans['catest'], 1.5)


def _alarm_only_change(chans, high):
    """Process catest with an unchanged value but a new alarm state (HIGH limit lowered)."""
    put_wait(chans['catest'], 5.0)
    put_wait(high, 4.0)
    put_wait(chans['catest'], 5.0)      # same value: no DBE_VALUE, but HIGH alarm: DBE_ALARM


@pytest.mark.parametrize('mask, expect_alarm_update', [
    (None, True),
    (DBE.VALUE | DBE.ALARM, True),
    (int(DBE.VALUE | DBE.ALARM), True),
    (DBE.ALARM, True),
    (DBE.VALUE, False),
], ids=['None', 'VALUE|ALARM', 'int5', 'ALARM', 'VALUE'])
def test_mask(chans, subscriptions, alarm_limits, mask, expect_alarm_update):
    chid = chans['catest']
    put_wait(alarm_limits, 10.0)
    put_wait(chid, 5.0)
    updates = Collector()
    subscribe(subscriptions, chid, updates, chtype=DBR.STS_DOUBLE, mask=mask)
    assert updates.wait(1)
    assert updates.items[0]['value']['severity'] == AlarmSeverity.No
    _alarm_only_change(chans, alarm_limits)
    if expect_alarm_update:
        assert updates.wait(2)
        value = updates.items[1]['value']
        assert value['status'] == AlarmCondition.High
        assert value['severity'] == AlarmSeverity.Minor
        assert value['value'] == 5.0
    else:
        time.sleep(QUIET)
        assert len(updates) == 1
    # a value change is delivered unless the mask is ALARM only
    n = len(updates)
    put_wait(chid, 6.0)
    if mask == DBE.ALARM:
        time.sleep(QUIET)
        assert len(updates) == n
    else:
        assert updates.wait(n + 1)
        assert updates.last['value']['value'] == 6.0


@pytest.mark.parametrize('mask', [0, 0x10000, 0x1FFFF])
def test_bad_mask(chans, mask):
    status, evid = ca.create_subscription(chans['catest'], Collector(), mask=mask)
    assert status == ECA.BADMASK
    assert evid is None


# ---------------------------------------------------------------------------
# ordering and first update


def test_updates_in_order(chans, subscriptions):
    chid = chans['calong']
    put_wait(chid, 0)
    updates = Collector()
    subscribe(subscriptions, chid, updates)
    assert updates.wait(1)
    assert updates.items[0]['value'] == 0
    for i in range(1, 21):
        put_wait(chid, i)
        assert updates.wait(i + 1), 'update %d missing' % i
        assert updates.items[i]['value'] == i
    assert [u['value'] for u in updates.items] == list(range(21))


def test_burst_of_updates_in_order(chans, subscriptions):
    chid = chans['calong']
    put_wait(chid, 0)
    updates = Collector()
    subscribe(subscriptions, chid, updates)
    assert updates.wait(1)
    for i in range(1, 101):
        assert ca.put(chid, i) == ECA.NORMAL
    ca.flush_io()
    assert updates.wait_until(lambda items: items[-1]['value'] == 100)
    values = [u['value'] for u in updates.items]
    # the server may drop intermediate updates under load, never reorder them
    assert values == sorted(set(values))
    assert all(u['status'] == ECA.NORMAL for u in updates.items)


def test_first_update_right_after_create_connected(chans):
    # subscribe and clear many times on a connected channel: every subscription
    # gets its initial update, even if libca delivers it before create_subscription returns
    chid = chans['catest']
    put_wait(chid, 1.5)
    for _ in range(20):
        updates = Collector()
        status, evid = ca.create_subscription(chid, updates, chtype=DBR.TIME_DOUBLE)
        assert status == ECA.NORMAL
        ca.flush_io()
        try:
            assert updates.wait(1)
            assert updates.items[0]['value']['value'] == 1.5
        finally:
            assert ca.clear_subscription(evid) == ECA.NORMAL


def test_first_update_right_after_create_channel(context):
    status, chid = ca.create_channel('catest')
    assert status == ECA.NORMAL
    try:
        updates = Collector()
        status, evid = ca.create_subscription(chid, updates, chtype=DBR.DOUBLE)
        assert status == ECA.NORMAL
        ca.flush_io()
        assert updates.wait(1)
        check_update(updates.items[0], chid, DBR.DOUBLE, 1)
        assert type(updates.items[0]['value']) is float
    finally:
        ca.clear_channel(chid)


def test_subscribe_from_connection_callback(context):
    updates = Collector()
    evids = []

    def on_connect(args):
        if args['op'] == ca.CA_OP.CONN_UP and not evids:
            evids.append(ca.create_subscription(args['chid'], updates))

    status, chid = ca.create_channel('calong', on_connect)
    assert status == ECA.NORMAL
    try:
        ca.flush_io()
        assert updates.wait(1)
        assert evids[0][0] == ECA.NORMAL
        check_update(updates.items[0], chid, DBR.LONG, 1)
    finally:
        ca.clear_channel(chid)


# ---------------------------------------------------------------------------
# clearing


def test_clear_subscription_stops_deliveries(chans):
    chid = chans['calong']
    put_wait(chid, 0)
    updates = Collector()
    status, evid = ca.create_subscription(chid, updates)
    ca.flush_io()
    assert updates.wait(1)
    put_wait(chid, 1)
    assert updates.wait(2)
    status = ca.clear_subscription(evid)
    assert status == ECA.NORMAL and isinstance(status, ECA)
    n = len(updates)
    for i in range(2, 6):
        put_wait(chid, i)
    time.sleep(QUIET)
    assert len(updates) == n
    assert ca.clear_subscription(evid) == ECA.BADCHID


def test_clear_subscription_after_clear_channel(context):
    chid = connect('calong')
    updates = Collector()
    status, evid = ca.create_subscription(chid, updates)
    ca.flush_io()
    assert updates.wait(1)
    assert ca.clear_channel(chid) == ECA.NORMAL
    assert ca.clear_subscription(evid) == ECA.BADCHID
    assert ca.clear_subscription(evid) == ECA.BADCHID


def test_clear_subscription_none():
    with pytest.raises(TypeError):
        ca.clear_subscription(None)


def test_clear_subscription_from_callback(chans):
    chid = chans['calong']
    put_wait(chid, 0)
    results = []
    updates = Collector()
    holder = {}

    def callback(args):
        updates(args)
        if 'evid' in holder and not results:
            results.append(ca.clear_subscription(holder['evid']))

    status, evid = ca.create_subscription(chid, callback)
    holder['evid'] = evid
    ca.flush_io()
    put_wait(chid, 1)
    assert wait_for(lambda: results)
    assert results == [ECA.NORMAL]
    n = len(updates)
    put_wait(chid, 2)
    time.sleep(QUIET)
    assert len(updates) == n


def test_subscription_on_cleared_or_none_channel(context):
    chid = connect('catest')
    ca.clear_channel(chid)
    assert ca.create_subscription(chid, Collector()) == (ECA.BADCHID, None)
    assert ca.create_subscription(chid, Collector(), chtype=DBR.DOUBLE) == (ECA.BADCHID, None)
    assert ca.create_subscription(None, Collector()) == (ECA.BADCHID, None)


@pytest.mark.parametrize('callback', [None, 42, 'not callable'], ids=['None', 'int', 'str'])
def test_non_callable_callback(chans, callback):
    chid = chans['calong']
    status, evid = ca.create_subscription(chid, callback)
    assert status == ECA.NORMAL
    assert evid
    ca.flush_io()
    put_wait(chid, 3)
    time.sleep(0.1)
    assert ca.clear_subscription(evid) == ECA.NORMAL


def test_evid_handle(chans, subscriptions):
    chid = chans['calong']
    first = subscribe(subscriptions, chid, Collector())
    second = subscribe(subscriptions, chid, Collector())
    assert first and second
    assert first != second
    assert first == first
    assert len({first, second, first}) == 2


# ---------------------------------------------------------------------------
# use_numpy


def test_use_numpy(chans, subscriptions):
    chid = chans['cawave']
    put_wait(chid, [1, 2, 3])
    arrays = Collector()
    subscribe(subscriptions, chid, arrays, count=5, use_numpy=True)
    typed = Collector()
    subscribe(subscriptions, chid, typed, chtype=DBR.CTRL_SHORT, count=0, use_numpy=True)
    scalar = Collector()
    subscribe(subscriptions, chid, scalar, count=1, use_numpy=True)
    strings = Collector()
    subscribe(subscriptions, chid, strings, chtype=DBR.STRING, count=2, use_numpy=True)
    lists = Collector()
    subscribe(subscriptions, chid, lists, count=5, use_numpy=False)
    for collector in (arrays, typed, scalar, strings, lists):
        assert collector.wait(1)
    value = arrays.items[0]['value']
    assert isinstance(value, numpy.ndarray) and value.dtype == numpy.float64
    assert numpy.array_equal(value, [1, 2, 3, 0, 0])
    value = typed.items[0]['value']['value']
    assert isinstance(value, numpy.ndarray) and value.dtype == numpy.int16
    assert numpy.array_equal(value, [1, 2, 3])
    assert scalar.items[0]['value'] == 1.0 and type(scalar.items[0]['value']) is float
    assert strings.items[0]['value'] == ['1.0000', '2.0000']
    assert lists.items[0]['value'] == [1.0, 2.0, 3.0, 0.0, 0.0]
    put_wait(chid, [4, 5, 6, 7, 8, 9])
    assert arrays.wait(2) and typed.wait(2)
    assert numpy.array_equal(arrays.items[1]['value'], [4, 5, 6, 7, 8])
    assert numpy.array_equal(typed.items[1]['value']['value'], [4, 5, 6, 7, 8, 9])
    put_wait(chid, [1, 2, 3])


# ---------------------------------------------------------------------------
# failure statuses


@pytest.mark.parametrize('chtype', [DBR.ENUM, DBR.STS_ENUM, DBR.TIME_DOUBLE, DBR.CTRL_LONG,
                                    DBR.PUT_ACKT, DBR.PUT_ACKS])
def test_failure_status_gives_value_none(chans, subscriptions, chtype):
    # castr holding text that is not a number: the server cannot convert it
    chid = chans['castr']
    put_wait(chid, 'not a number')
    updates = Collector()
    subscribe(subscriptions, chid, updates, chtype=chtype)
    assert updates.wait(1)
    update = updates.items[0]
    assert list(update) == ['chid', 'type', 'count', 'status', 'value']
    assert update['type'] == chtype
    assert update['status'] != ECA.NORMAL and isinstance(update['status'], ECA)
    assert update['value'] is None
    # further (failing) updates keep coming, still with value None
    put_wait(chid, 'still not a number')
    assert updates.wait(2)
    assert updates.items[1]['status'] != ECA.NORMAL
    assert updates.items[1]['value'] is None


def test_failure_then_success(chans, subscriptions):
    chid = chans['castr']
    put_wait(chid, 'abc')
    updates = Collector()
    subscribe(subscriptions, chid, updates, chtype=DBR.DOUBLE)
    assert updates.wait(1)
    assert updates.items[0]['status'] == ECA.GETFAIL
    assert updates.items[0]['value'] is None
    put_wait(chid, '2.5')
    assert updates.wait(2)
    assert updates.items[1]['status'] == ECA.NORMAL
    assert updates.items[1]['value'] == 2.5
    put_wait(chid, 'abc')


# ---------------------------------------------------------------------------
# disconnection and IOC restart


def test_subscription_on_disconnected_channel(chans, restartable_ioc):
    restartable_ioc.stop()
    status, chid = ca.create_channel('calong')
    assert status == ECA.NORMAL
    try:
        assert ca.pend_io(0.5) == ECA.TIMEOUT
        assert ca.state(chid) == ChannelState.NEVER_CONN
        # default type needs the native type: unknown while disconnected
        assert ca.create_subscription(chid, Collector()) == (ECA.BADTYPE, None)
        updates = Collector()
        status, evid = ca.create_subscription(chid, updates, chtype=DBR.TIME_LONG)
        assert status == ECA.NORMAL
        ca.flush_io()
        time.sleep(QUIET)
        assert len(updates) == 0
        restartable_ioc.start()
        assert updates.wait(1, 60.0), 'no update after the IOC came back'
        update = updates.items[0]
        check_update(update, chid, DBR.TIME_LONG, 1)
        assert update['value']['value'] == 0        # fresh IOC
        assert ca.clear_subscription(evid) == ECA.NORMAL
    finally:
        ca.clear_channel(chid)


def test_subscription_survives_ioc_restart(chans, restartable_ioc, subscriptions):
    chid = chans['calong']
    put_wait(chid, 4)
    updates = Collector()
    subscribe(subscriptions, chid, updates)
    assert updates.wait(1)
    assert updates.items[0]['value'] == 4
    restartable_ioc.stop()
    assert wait_for(lambda: ca.state(chid) == ChannelState.PREV_CONN, 30.0)
    n = len(updates)
    restartable_ioc.start()
    assert updates.wait(n + 1, 60.0), 'no update after reconnection'
    update = updates.last
    check_update(update, chid, DBR.LONG, 1)
    assert update['value'] == 0         # the restarted IOC starts from 0
    put_wait(chid, 9)
    assert updates.wait_until(lambda items: items[-1]['value'] == 9)
