"""caffi.aio.camonitor against the reference IOC: values, merging, coroutine and raising
callbacks, closing, disconnection across an IOC restart, garbage collection."""
import asyncio
import gc
import pickle
import sys
import time
import weakref

import numpy
import pytest

import pytest_asyncio  # noqa: F401  (a test extra: these tests need it)
from epicscorelibs.ca import dbr

import caffi.ca as ca
import caffi.aio as aioca
from caffi.aio import (DBE_VALUE, DBR_CHAR_STR, DBR_STRING, FORMAT_CTRL, FORMAT_RAW, FORMAT_TIME,
                       CANothing, Subscription, caget, camonitor, caput, connect,
                       get_channel_infos)
from caffi.constants import ECA

from aio_util import until
from ioc_harness import RECORDS

pytestmark = [pytest.mark.usefixtures('ioc'), pytest.mark.asyncio]

BURST = 'aio:burst'


async def burst_channel():
    """A caffi.ca channel to the burst record, written synchronously (no loop turn between
    puts, so every update waits in the ring until the test yields). It is made after a
    caffi.aio call, in caffi.aio's preemptive context (a first caffi.ca call would give this
    thread libca's implicit non-preemptive one)."""
    await connect(BURST)
    status, chid = ca.create_channel(BURST)
    assert status == ECA.NORMAL
    assert ca.pend_io(5) == ECA.NORMAL
    return chid


def write_burst(chid, values, chunk=50):
    """Puts in chunks, a few ms apart: the IOC's queue for this client then never overflows
    (when it does, the server merges updates before they reach the client)."""
    values = list(values)
    for start in range(0, len(values), chunk):
        for value in values[start:start + chunk]:
            assert ca.put(chid, float(value)) == ECA.NORMAL
        ca.flush_io()
        time.sleep(0.005)


def ring_updates(subscription):
    """Updates the subscription's MonitorGroup member received from libca (white box: what
    the callbacks must account for, delivered or merged)."""
    return subscription._feed.group.stats(subscription._member_index)['updates']


async def test_monitor_single_pv_values():
    await caput('catest', 1.5, wait=True)
    values = []
    subscription = camonitor('catest', values.append)
    assert isinstance(subscription, Subscription) and subscription.name == 'catest'
    # its channel is connected (the caput): subscribed at once, no task on the way
    assert subscription.state == Subscription.OPEN and subscription._task is None
    await until(lambda: values, message='no initial value')
    assert type(values[0]) is dbr.ca_float and values[0] == 1.5
    assert values[0].name == 'catest' and values[0].ok and values[0].element_count == 1
    await caput('catest', 2.5, wait=True)
    await until(lambda: values[-1] == 2.5)
    assert not hasattr(values[-1], 'timestamp')          # FORMAT_RAW: no time fields
    subscription.close()
    assert subscription.state == Subscription.CLOSED
    await caput('catest', 1.5, wait=True)
    await asyncio.sleep(0.3)
    assert values[-1] == 2.5
    subscription.close()                                  # idempotent


async def test_monitor_list_passes_the_index():
    seen = {}
    subscriptions = camonitor(['catest', 'calong', 'castr'],
                              lambda value, index: seen.setdefault(index, value))
    assert isinstance(subscriptions, list) and len(subscriptions) == 3
    await until(lambda: len(seen) == 3)
    assert seen[0].name == 'catest' and seen[1].name == 'calong' and seen[2].name == 'castr'
    assert type(seen[2]) is dbr.ca_str and type(seen[1]) is dbr.ca_int
    for subscription in subscriptions:
        subscription.close()


async def test_monitor_format_time_fields():
    values = []
    subscription = camonitor('catest', values.append, format=FORMAT_TIME)
    await until(lambda: values)
    await caput('catest', 12.0, wait=True)                # MINOR alarm
    await until(lambda: values[-1] == 12.0)
    value = values[-1]
    read = await caget('catest', format=FORMAT_TIME)
    assert value.severity == read.severity == 1 and value.status == read.status
    # the ring keeps the stamp as a double (0.24 us apart at today's seconds): rounded to the
    # microsecond it may land on the neighbouring one
    assert abs(value.timestamp - read.timestamp) < 2.5e-6
    assert value.raw_stamp[0] == read.raw_stamp[0]
    assert abs(value.raw_stamp[1] - read.raw_stamp[1]) < 1000   # kept as a double in the ring
    assert value.datetime.year >= 2024
    await caput('catest', 1.5, wait=True)
    subscription.close()


async def test_monitor_format_ctrl_and_types():
    values, texts, waves, enums, longs = [], [], [], [], []
    subscriptions = [
        camonitor('catest', values.append, format=FORMAT_CTRL),
        camonitor('castr', texts.append),
        camonitor('cawave', waves.append, count=5),
        camonitor('cabo', enums.append, datatype=DBR_STRING),
        camonitor('aio:text.VAL$', longs.append, datatype=DBR_CHAR_STR),
    ]
    await caput('castr', 'monitored', wait=True)
    await caput('cawave', numpy.arange(20.0), wait=True)
    await caput('cabo', 1, wait=True)
    await caput('aio:text.VAL$', 'a long string ' * 5, datatype=DBR_CHAR_STR, wait=True)
    await until(lambda: values and texts and texts[-1] == 'monitored' and waves
                and len(waves[-1]) == 5 and waves[-1][4] == 4 and enums and enums[-1] == 'Busy'
                and longs and longs[-1] == 'a long string ' * 5)
    assert values[-1].units == 'mm' and values[-1].precision == 4
    assert values[-1].upper_alarm_limit == 20
    assert type(waves[-1]) is dbr.ca_array and waves[-1].dtype == numpy.float64
    assert waves[-1].name == 'cawave' and waves[-1].element_count == 20
    assert type(longs[-1]) is dbr.ca_str
    await caput('cawave', [7.0, 8.0], wait=True)          # fewer elements than the count
    await until(lambda: list(waves[-1][:2]) == [7.0, 8.0])
    for subscription in subscriptions:
        subscription.close()


async def test_ctrl_updates_arrive_while_python_holds_the_gil():
    """FORMAT_CTRL subscriptions, which no MonitorGroup carries, keep libca's thread out of
    Python too: their updates land in a C ring of their own while the loop's thread holds the
    GIL, then reach the callback, every one in order or merged (white box: the ring's count)."""
    every, latest = [], []
    all_subscription = camonitor('aio:fast', every.append, format=FORMAT_CTRL,
                                 all_updates=True)
    merged_subscription = camonitor('aio:fast', latest.append, format=FORMAT_CTRL)
    await until(lambda: len(every) >= 2 and latest)
    queue = all_subscription._feed.queue
    received = queue.received
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)     # no other thread gets the GIL before this one lets it go
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            pass
        arrived = queue.received - received
    finally:
        sys.setswitchinterval(interval)
    assert arrived >= 5, arrived                 # about ten at 10 Hz
    await until(lambda: len(every) > 10 and latest[-1] == every[-1])
    numbers = [int(v) for v in every]
    assert numbers == list(range(numbers[0], numbers[-1] + 1))      # none missing
    assert all(type(v) is dbr.ca_float and v.name == 'aio:fast' and v.ok for v in every)
    assert all(hasattr(v, 'upper_ctrl_limit') and not hasattr(v, 'timestamp') for v in every)
    # merged: one callback for the updates of the busy second
    assert merged_subscription.dropped_callbacks >= 4
    assert all_subscription.dropped_callbacks == 0
    all_subscription.close()
    merged_subscription.close()


async def test_all_updates_delivers_every_update_in_order():
    chid = await burst_channel()
    await caput(BURST, -1, wait=True)
    values = []
    subscription = camonitor(BURST, values.append, all_updates=True)
    await until(lambda: values and values[-1] == -1)
    write_burst(chid, range(500))
    time.sleep(0.5)             # the loop is blocked: the updates gather in the ring
    await until(lambda: values[-1] == 499)
    received = [v for v in values if v >= 0]
    assert received == list(range(500))
    assert subscription.dropped_callbacks == 0
    assert ring_updates(subscription) == len(values)
    subscription.close()
    ca.clear_channel(chid)


# calong's DBR_LONG values on each side of what one int digit holds (|v| < 2**30: made in C,
# the signed digit count written as CPython writes it) and beyond it (made by the class)
INTEGERS = [0, 1, -1, 5, -5, 2**30 - 1, -(2**30 - 1), 2**30, -2**30, 2**31 - 1, -2**31, 0]


def as_class_makes_it(value):
    """The ca_int the class itself makes of `value`'s number, with `value`'s attributes."""
    made = dbr.ca_int(int(value))
    made.__dict__.update(vars(value))
    return made


def check_integer(value, expected, time_fields):
    twin = as_class_makes_it(value)
    assert type(value) is dbr.ca_int and value == expected and int(value) == expected
    assert (value < 0, value == 0, hash(value), repr(value), value + 1, -value, value >> 1,
            value.bit_length(), sys.getsizeof(value)) == (
        expected < 0, expected == 0, hash(expected), repr(expected), expected + 1, -expected,
        expected >> 1, expected.bit_length(), sys.getsizeof(twin))
    assert value.name == 'calong' and value.ok and value.element_count == 1
    assert hasattr(value, 'timestamp') == time_fields
    value.added = [value]                       # its dict is where CPython looks for it
    assert vars(value)['added'][0] is value and 'added' not in vars(twin)
    copied = pickle.loads(pickle.dumps(value))
    assert copied == expected and vars(copied).keys() == vars(value).keys()


async def test_integers_on_each_side_of_one_digit():
    """ca_int values made in C (a list caget's reply, a monitor's update) are the ints, with
    the dicts, that the class makes: zero, signs, one digit and two."""
    values = []
    subscription = camonitor('calong', values.append, format=FORMAT_TIME, all_updates=True)
    await until(lambda: values)
    for number in INTEGERS:
        await caput('calong', number, wait=True)
        for format in (FORMAT_RAW, FORMAT_TIME):
            [read] = await caget(['calong'], format=format)
            check_integer(read, number, format == FORMAT_TIME)
        await until(lambda: values[-1] == number, message='no update to %d' % number)
        check_integer(values[-1], number, True)
    subscription.close()
    del values
    gc.collect()                                # the cycles the checks made go
    await caput('calong', 0, wait=True)


async def monitor_burst(on_update, seen, count, datatype=None):
    """Monitor the burst record (FORMAT_TIME, every update, as `datatype`) while `count`
    numbers are written in a burst that gathers in the ring; seen[-1][0] is the last number
    the callback saw."""
    chid = await burst_channel()
    await caput(BURST, -1, wait=True)
    subscription = camonitor(BURST, on_update, format=FORMAT_TIME, datatype=datatype,
                             all_updates=True)
    await until(lambda: seen and seen[-1][0] == -1)
    write_burst(chid, range(count))
    time.sleep(0.3)             # the updates gather in the ring: batches of many rows
    await until(lambda: seen[-1][0] == count - 1)
    subscription.close()
    ca.clear_channel(chid)


# the kinds of values a member renews: ca_float (native DOUBLE) and ca_int (read as a LONG:
# 0, the sign and one digit are what a renewed int's digit count follows)
RENEWED_KINDS = pytest.mark.parametrize('datatype, cls', [(None, dbr.ca_float),
                                                         (int, dbr.ca_int)])


@RENEWED_KINDS
async def test_values_kept_or_dropped_by_the_callback(datatype, cls):
    """A value its callback drops may be made again for a later update (white box: the
    dispatcher reuses a ca_float or ca_int nothing refers to); none that it keeps, strongly
    or by attribute dict, changes, and weak references to dropped ones die (ca_int takes
    none)."""
    kept, kept_fields, weak, seen = [], [], [], []

    def on_update(value):
        seen.append((float(value), value.timestamp, value.raw_stamp))
        if value < 0:
            return
        if value % 3 == 0:
            kept.append(value)
        elif value % 3 == 1:
            if cls is dbr.ca_float:
                weak.append(weakref.ref(value))
        elif value % 6 == 2:
            kept_fields.append((float(value), vars(value)))

    await monitor_burst(on_update, seen, 300, datatype)
    stamps = {number: (stamp, raw) for number, stamp, raw in seen}
    assert [float(v) for v in kept] == list(range(0, 300, 3))
    for value in kept:
        assert type(value) is cls and value.name == BURST and value.ok
        assert (value.timestamp, value.raw_stamp) == stamps[float(value)]
    assert [number for number, _ in kept_fields] == list(range(2, 300, 6))
    for number, fields in kept_fields:
        assert fields['name'] == BURST and fields['ok'] is True
        assert (fields['timestamp'], fields['raw_stamp']) == stamps[number]
    assert len(weak) == (100 if cls is dbr.ca_float else 0)
    assert all(ref() is None for ref in weak)


@RENEWED_KINDS
async def test_values_changed_then_dropped_by_the_callback(datatype, cls):
    """What a callback does to a value it then drops never shows in a later value (white
    box: the dispatcher may make a dropped value the next one of its PV, after checking its
    attributes field by field), and what it keeps of a dropped value (its attribute dict,
    its stamp tuple, its timestamp) does not change afterwards."""
    seen, kept_dicts, kept_stamps = [], [], []

    def on_update(value):
        number = float(value)
        assert type(value) is cls
        seen.append((number, value.name, value.ok, value.status, value.severity,
                     value.datatype, value.element_count, tuple(value.raw_stamp),
                     value.timestamp, list(vars(value))))
        step = int(number) % 8
        if number < 0 or step == 0:
            return                                  # dropped as it came
        if step == 1:
            value.status = 99 if number % 16 == 1 else 2 ** 70   # and an int no C long holds
        elif step == 2:
            value.extra = 'x'
        elif step == 3:
            del value.severity
            value.severity = 0                      # the same fields, in another order
        elif step == 4:
            vars(value)['name'] = 'other'
        elif step == 5:
            kept_dicts.append((vars(value), dict(vars(value))))
        elif step == 6:
            kept_stamps.append((value.raw_stamp, tuple(value.raw_stamp), value.timestamp,
                                float(value.timestamp)))
        else:
            value.raw_stamp = (0, 0)
            value.timestamp = 0.0

    await monitor_burst(on_update, seen, 400, datatype)
    assert [row[0] for row in seen if row[0] >= 0] == list(range(400))
    datatype, element_count = seen[0][5], seen[0][6]
    previous = 0.0
    for (number, name, ok, status, severity, row_datatype, row_count, (secs, nsec), stamp,
         fields) in seen:
        assert (name, ok, status, severity) == (BURST, True, 0, 0), number
        assert (row_datatype, row_count) == (datatype, element_count), number
        assert fields == ['name', 'ok', 'datatype', 'element_count', 'status', 'severity',
                          'raw_stamp', 'timestamp'], number
        # the stamp of this update, in both forms, not one a callback wrote or an old one
        assert 0 <= nsec < 1000000000 and abs(secs + nsec * 1e-9 - stamp) < 1e-6, number
        assert stamp >= previous, number
        previous = stamp
    assert len(kept_dicts) == 50 and len(kept_stamps) == 50
    for fields, copy in kept_dicts:
        assert fields == copy
    for pair, pair_copy, stamp, stamp_copy in kept_stamps:
        assert pair == pair_copy and stamp == stamp_copy


async def test_dropped_integers_renewed_through_zero_and_sign():
    """A ca_int its callback drops comes back as its PV's next value with any one-digit
    number, zero to zero and sign to sign included (white box: through 3.11 a zero int keeps
    its __dict__ where a non-zero one keeps its digit), its attributes intact."""
    numbers = [0, 0, 0, 7, 7, -7, -7, 0, 0, 2**30 - 1, 2**30, 2**30, -5, 0, 0]
    seen = []

    def on_update(value):
        assert type(value) is dbr.ca_int
        seen.append((int(value), dict(vars(value))))

    chid = await burst_channel()
    await caput(BURST, -1, wait=True)
    subscription = camonitor(BURST, on_update, format=FORMAT_TIME, datatype=int,
                             all_updates=True)
    await until(lambda: seen and seen[-1][0] == -1)
    for number in numbers:              # one at a time: each value renews the one before
        count = len(seen)
        assert ca.put(chid, float(number)) == ECA.NORMAL
        ca.flush_io()
        await until(lambda: len(seen) > count, message='no update to %d' % number)
    subscription.close()
    ca.clear_channel(chid)
    assert [number for number, _ in seen[1:]] == numbers
    for number, fields in seen:
        assert list(fields) == ['name', 'ok', 'datatype', 'element_count', 'status',
                                'severity', 'raw_stamp', 'timestamp'], number
        assert (fields['name'], fields['ok'], fields['element_count']) == (BURST, True, 1)


@RENEWED_KINDS
async def test_alarm_fields_of_dropped_values_follow_the_record(datatype, cls):
    """Values a callback drops come back renewed with each update's own alarm status and
    severity, as they rise and fall (catest: HIGH 10 MINOR, HIHI 20 MAJOR, LOW -10 MINOR)."""
    writes = [1, 12, 13, 25, 2, 3, -15, -16, 5]
    expected = [(0, 0), (4, 1), (4, 1), (3, 2), (0, 0), (0, 0), (6, 1), (6, 1), (0, 0)]
    await caput('catest', 0, wait=True)
    seen = []

    def on_update(value):
        assert type(value) is cls
        seen.append((float(value), value.status, value.severity))

    subscription = camonitor('catest', on_update, format=FORMAT_TIME, datatype=datatype,
                             all_updates=True)
    await until(lambda: seen and seen[-1][0] == 0)
    for number in writes:
        await caput('catest', number, wait=True)
        await until(lambda: seen[-1][0] == number)
    subscription.close()
    await caput('catest', 0, wait=True)
    assert seen[1:] == [(float(n), *alarm) for n, alarm in zip(writes, expected)]


@pytest.mark.parametrize('pv, elements, views', [
    ('cawave', 20, False),              # small rows: each value a copy of its row
    ('cawavehuge', 1000000, True),      # rows of 32 MB: values view the drained store
])
async def test_kept_array_values_stay_intact(pv, elements, views):
    """Array values a callback keeps hold their own data as later updates arrive: copies of
    small rows, or views that keep a big ring's drained store out of the ring's reuse."""
    await caput(pv, numpy.full(elements, -1.0), wait=True)
    values = []
    subscription = camonitor(pv, values.append, all_updates=True)
    await until(lambda: values and values[-1][0] == -1, timeout=20)
    for frame in range(1, 6):
        await caput(pv, numpy.arange(frame, frame + elements, dtype=numpy.float64), wait=True)
    await until(lambda: values[-1][0] == 5, timeout=30)
    subscription.close()
    # the record back at its whole length, for the tests that read its 4M elements
    await caput(pv, numpy.zeros(RECORDS[pv].count), wait=True)
    kept = [v for v in values if v[0] >= 1]
    assert [v[0] for v in kept] == [1, 2, 3, 4, 5]
    for value in kept:
        assert type(value) is dbr.ca_array and value.dtype == numpy.float64
        assert value.shape == (elements,) and value.ok and value.name == pv
        assert numpy.array_equal(value, numpy.arange(value[0], value[0] + elements))
        assert value.flags.owndata is not views and value.flags.c_contiguous


async def test_merged_updates_deliver_the_latest_and_count_the_rest():
    chid = await burst_channel()
    await caput(BURST, -1, wait=True)
    values = []
    subscription = camonitor(BURST, values.append)
    await until(lambda: values and values[-1] == -1)
    before = len(values)
    write_burst(chid, range(500))
    time.sleep(0.5)             # one batch waits for the loop
    await until(lambda: values[-1] == 499)
    delivered = len(values) - before
    assert delivered < 50, delivered          # merged, not 500 callbacks
    assert subscription.dropped_callbacks > 400
    assert len(values) + subscription.dropped_callbacks == ring_updates(subscription)
    assert values[before:] == sorted(values[before:])      # still in order
    subscription.close()
    ca.clear_channel(chid)


async def test_fast_counter_merged_vs_every_update():
    every, latest = [], []
    all_subscription = camonitor('aio:fast', every.append, all_updates=True)
    merged_subscription = camonitor('aio:fast', latest.append)
    await until(lambda: len(every) >= 3)
    time.sleep(1.0)             # about ten updates arrive while the loop is busy
    await until(lambda: every[-1] > every[0] + 6 and latest[-1] == every[-1])
    numbers = [int(v) for v in every]
    assert numbers == list(range(numbers[0], numbers[-1] + 1))       # none missing
    # merged: one callback for the updates of the busy second (a loaded IOC may scan slower)
    assert merged_subscription.dropped_callbacks >= 2
    assert len(latest) + merged_subscription.dropped_callbacks >= len(every) - 1
    all_subscription.close()
    merged_subscription.close()


async def test_coroutine_callbacks_run_one_at_a_time():
    chid = await burst_channel()
    await caput(BURST, -1, wait=True)
    values, running = [], []

    async def slow(value):
        running.append(value)
        assert len(running) == 1, 'two callbacks of one subscription at once'
        await asyncio.sleep(0.001)
        values.append(value)
        running.remove(value)

    subscription = camonitor(BURST, slow, all_updates=True)
    await until(lambda: values and values[-1] == -1)
    write_burst(chid, range(50))
    await until(lambda: values[-1] == 49)
    assert [v for v in values if v >= 0] == list(range(50))
    merged = []

    async def slow_merged(value):
        await asyncio.sleep(0.05)
        merged.append(value)

    merged_subscription = camonitor(BURST, slow_merged)
    await until(lambda: merged)
    write_burst(chid, range(100, 150))
    await until(lambda: merged[-1] == 149)
    assert len(merged) < 20 and merged_subscription.dropped_callbacks > 0
    subscription.close()
    merged_subscription.close()
    ca.clear_channel(chid)


async def test_raising_callback_is_reported_and_goes_on(capfd):
    calls = []

    def fails(value):
        calls.append(value)
        raise RuntimeError('callback failure for the test')

    async def fails_async(value):
        calls.append(value)
        raise ValueError('async callback failure for the test')

    subscription = camonitor('catest', fails)
    async_subscription = camonitor('catest', fails_async)
    await until(lambda: len(calls) >= 2)
    await caput('catest', 3.5, wait=True)
    await until(lambda: calls.count(3.5) == 2, message='the subscriptions stopped')
    err = capfd.readouterr().err
    assert 'Subscription catest callback raised exception' in err
    assert 'callback failure for the test' in err and 'async callback failure' in err
    assert subscription.state == Subscription.OPEN
    subscription.close()
    async_subscription.close()
    await caput('catest', 1.5, wait=True)


async def test_close_inside_the_callback():
    chid = await burst_channel()
    values = []

    def once(value):
        values.append(value)
        subscription.close()

    subscription = camonitor(BURST, once, all_updates=True)
    await until(lambda: values)
    write_burst(chid, range(20))
    time.sleep(0.2)
    await asyncio.sleep(0.3)
    assert len(values) == 1 and subscription.state == Subscription.CLOSED
    ca.clear_channel(chid)


async def test_close_inside_the_callback_with_its_updates_waiting():
    """A callback closes its own subscription and another one while more of their updates
    wait in the same batch: none of those reach a callback."""
    chid = await burst_channel()
    await caput(BURST, -1, wait=True)
    mine, neighbours = [], []

    def closes_both(value):
        mine.append(value)
        if value == 5:
            subscription.close()
            neighbour.close()

    subscription = camonitor(BURST, closes_both, all_updates=True)
    neighbour = camonitor(BURST, neighbours.append, all_updates=True)
    await until(lambda: mine and neighbours and mine[-1] == neighbours[-1] == -1)
    write_burst(chid, range(20))
    time.sleep(0.3)             # the updates gather in the ring: one batch
    await asyncio.sleep(0.3)
    assert [v for v in mine if v >= 0] == list(range(6))
    seen = [v for v in neighbours if v >= 0]
    assert seen == list(range(len(seen))) and 5 <= len(seen) <= 6, seen
    ca.clear_channel(chid)


async def test_resubscribe_inside_the_callback_with_its_updates_waiting():
    """A callback closes its subscription and opens another of the same PV while more of the
    closed one's updates wait in the batch: the new one (which may take the closed one's place
    in the group later) gets none of them, only its own first value."""
    chid = await burst_channel()
    await caput(BURST, -1, wait=True)
    mine, replacement = [], []

    def resubscribes(value):
        mine.append(value)
        if value == 5:
            subscription.close()
            replacements.append(camonitor(BURST, replacement.append, all_updates=True))

    replacements = []
    subscription = camonitor(BURST, resubscribes, all_updates=True)
    await until(lambda: mine and mine[-1] == -1)
    write_burst(chid, range(20))
    time.sleep(0.3)             # the updates gather in the ring: one batch
    await until(lambda: replacement)
    await asyncio.sleep(0.2)
    assert [v for v in mine if v >= 0] == list(range(6))
    assert replacement == [19]
    await caput(BURST, 20, wait=True)
    await until(lambda: replacement[-1] == 20)
    assert replacement == [19, 20]
    replacements[0].close()
    ca.clear_channel(chid)


async def test_subscription_churn_keeps_the_group_small():
    """Subscriptions opened and closed one after another, for as long as a program runs,
    while another stays open (so the group never empties): closed ones' places are taken
    again, and every value reaches the subscription it belongs to."""
    kept = []
    keeper = camonitor('catest', kept.append)
    await until(lambda: kept)
    group = keeper._feed.group
    for cycle in range(300):
        values = []
        subscription = camonitor('calong' if cycle % 2 else 'catest',
                                 lambda value, values=values: values.append(value))
        await until(lambda: values)
        assert values[0].name == ('calong' if cycle % 2 else 'catest')
        subscription.close()
    assert len(group.chids) <= 4, len(group.chids)      # 301 without reuse
    assert group.size == 1
    await caput('catest', 3.5, wait=True)
    await until(lambda: kept[-1] == 3.5)
    keeper.close()
    await caput('catest', 1.5, wait=True)


async def test_connect_timeout_reports_then_waits():
    values = []
    subscription = camonitor('aio:never:there', values.append, connect_timeout=0.2)
    await until(lambda: values)
    assert isinstance(values[0], CANothing) and values[0].errorcode == ECA.TIMEOUT
    assert not values[0].ok
    subscription.close()


async def test_notify_disconnect_across_ioc_restart(restartable_ioc):
    values, quiet, ctrl = [], [], []
    subscription = camonitor('catest', values.append, notify_disconnect=True, format=FORMAT_TIME)
    quiet_subscription = camonitor('catest', quiet.append)
    # FORMAT_CTRL has a DBR ring of its own, which has no connection rows: its disconnection
    # comes from the channel's connection events
    ctrl_subscription = camonitor('catest', ctrl.append, notify_disconnect=True,
                                  format=FORMAT_CTRL)
    await until(lambda: values and quiet and ctrl)
    restartable_ioc.stop()
    await until(lambda: isinstance(values[-1], CANothing), timeout=30,
                message='no disconnection reported')
    nothing = values[-1]
    assert not nothing.ok and nothing.errorcode == ECA.DISCONN and nothing.name == 'catest'
    assert not any(isinstance(v, CANothing) for v in quiet)
    await until(lambda: isinstance(ctrl[-1], CANothing), timeout=10)
    assert ctrl[-1].errorcode == ECA.DISCONN
    # the channel's own state followed (libca's thread queues connection changes in C)
    lost = await connect(['catest', 'castr'], timeout=0.3, throw=False)
    assert [n.errorcode for n in lost] == [ECA.TIMEOUT, ECA.TIMEOUT]
    restartable_ioc.start()
    assert all(n.ok for n in await connect(['catest', 'castr'], timeout=60))
    await until(lambda: not isinstance(values[-1], CANothing), timeout=60,
                message='no value after the reconnection')
    assert values[-1].ok and hasattr(values[-1], 'timestamp')
    await until(lambda: len(quiet) >= 2, timeout=30)
    assert (await caget('catest')) == values[-1]
    await until(lambda: not isinstance(ctrl[-1], CANothing), timeout=30)
    assert ctrl[-1].units == 'mm'
    subscription.close()
    quiet_subscription.close()
    ctrl_subscription.close()


async def test_subscription_lifetimes():
    await connect('catest')
    values = []
    camonitor('catest', values.append, events=DBE_VALUE)      # no reference kept
    gc.collect()
    await until(lambda: values)
    await caput('catest', 4.5, wait=True)
    await until(lambda: values[-1] == 4.5, message='an unreferenced subscription stopped')
    subscription = camonitor('catest', values.append)
    await until(lambda: any(i.name == 'catest' and i.subscriber_count == 2
                            for i in get_channel_infos()))
    reference = weakref.ref(subscription)
    subscription.close()
    del subscription
    await asyncio.sleep(0.05)
    gc.collect()
    assert reference() is None, 'a closed subscription was kept alive'
    await caput('catest', 1.5, wait=True)


async def test_closing_many_subscriptions_flushes_once(monkeypatch):
    """The clear requests of subscriptions closed in one turn of the loop go out with one
    flush at its next turn (a flush each was a system call each: 0.3 s for 5000), and the
    channel goes on serving a new subscription."""
    await connect('catest')
    values = []
    subscriptions = camonitor(['catest'] * 40, lambda value, index: values.append(index))
    await until(lambda: len(set(values)) == 40)
    flushes = []
    flush_io = ca.flush_io
    monkeypatch.setattr(ca, 'flush_io', lambda: flushes.append(1) or flush_io())
    for subscription in subscriptions:
        subscription.close()
    assert flushes == []
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(flushes) == 1
    monkeypatch.undo()
    assert all(s.state == Subscription.CLOSED for s in subscriptions)
    del values[:]
    again = []
    subscription = camonitor('catest', again.append)
    await caput('catest', 2.5, wait=True)
    await until(lambda: again and again[-1] == 2.5)
    assert values == []
    subscription.close()
    await caput('catest', 1.5, wait=True)


COMPARED_FIELDS = ['name', 'ok', 'datatype', 'element_count', 'severity', 'status', 'units',
                   'precision', 'enums', 'upper_disp_limit', 'lower_ctrl_limit', 'ackt', 'acks']


def same_value(a, b):
    if isinstance(a, numpy.ndarray):
        return isinstance(b, numpy.ndarray) and a.dtype == b.dtype and numpy.array_equal(a, b)
    return a == b


@pytest.mark.parametrize('pv, datatype, format, count', [
    ('catest', None, 0, 0), ('catest', None, FORMAT_TIME, 0), ('catest', None, FORMAT_CTRL, 0),
    ('calong', float, FORMAT_TIME, 0), ('catest', DBR_STRING, 0, 0), ('castr', None, 0, 0),
    ('castr', bytes, FORMAT_TIME, 0), ('cabo', None, FORMAT_CTRL, 0),
    ('cabo', aioca.DBR_ENUM_STR, FORMAT_TIME, 0), ('cawave', None, 0, 0),
    ('cawave', None, FORMAT_TIME, 3), ('cawave', aioca.DBR_FLOAT, 0, -1),
    ('cawave', None, FORMAT_CTRL, 0), ('cawaves', None, 0, 0), ('cawaves', str, FORMAT_TIME, 2),
    ('cawavec', None, FORMAT_TIME, 0), ('cawavec', aioca.DBR_CHAR_STR, 0, 0),
    ('cawavec', aioca.DBR_CHAR_BYTES, FORMAT_TIME, 0), ('aio:text.VAL$', None, 0, 0),
    ('aio:text.VAL$', aioca.DBR_CHAR_UNICODE, FORMAT_TIME, 0),
    ('catest', aioca.DBR_STSACK_STRING, 0, 0), ('catest', aioca.DBR_CLASS_NAME, 0, 0),
    ('cawaveh', None, FORMAT_TIME, 10), ('cawavel', int, 0, 5),
])
async def test_monitor_values_match_caget(pv, datatype, format, count):
    """The first value of a monitor is what caget reads: same type, value and fields (the
    rings' path and the callback path against caffi.ca's get)."""
    await caput('cawave', [1.5, 2.5, 3.5], wait=True)
    await caput('cawaves', ['x', 'yy'], wait=True)
    await caput('cawavec', [104, 105], wait=True)
    await caput('cawaveh', list(range(12)), wait=True)
    await caput('cawavel', list(range(7)), wait=True)
    await caput('aio:text.VAL$', 'text', datatype=DBR_CHAR_STR, wait=True)
    read = await caget(pv, datatype=datatype, format=format, count=count)
    values = []
    subscription = camonitor(pv, values.append, datatype=datatype, format=format, count=count)
    await until(lambda: values)
    subscription.close()
    value = values[0]
    assert type(value) is type(read), (value, read)
    assert same_value(value, read), (value, read)
    for field in COMPARED_FIELDS:
        assert hasattr(value, field) == hasattr(read, field), field
        if hasattr(read, field):
            assert same_value(getattr(value, field), getattr(read, field)), field
    assert hasattr(value, 'timestamp') == hasattr(read, 'timestamp')
    if hasattr(read, 'timestamp'):       # the ring's double stamp: to a microsecond
        assert abs(value.timestamp - read.timestamp) < 2.5e-6


async def test_ring_overflow_counts_as_dropped(monkeypatch):
    """A loop that falls so far behind that the group's ring fills: the updates the ring had to
    drop are counted in dropped_callbacks, with all_updates=True too (white box: a small ring
    for the groups of this test's loop)."""
    from caffi.aio import _core
    monkeypatch.setattr(_core, '_RING_ROWS', 16)
    monkeypatch.setattr(_core, '_RING_MIN_ROWS', 16)
    chid = await burst_channel()
    await caput(BURST, -1, wait=True)
    values = []
    subscription = camonitor(BURST, values.append, all_updates=True, format=FORMAT_TIME)
    await until(lambda: values and values[-1] == -1)
    assert subscription._feed.group.depth == 16
    write_burst(chid, range(200))
    time.sleep(0.5)                 # the loop is blocked: the ring keeps the newest 16
    await until(lambda: values[-1] == 199)
    received = ring_updates(subscription)
    assert subscription.dropped_callbacks > 0
    assert len(values) + subscription.dropped_callbacks == received
    assert values[-16:] == list(range(184, 200))       # drop_oldest: the newest survive
    subscription.close()
    ca.clear_channel(chid)


async def test_dispatch_refuses_what_is_not_a_batch_of_its_group():
    """The dispatcher reads a batch's columns through C pointers: anything but the columns its
    group's drain() makes (types, lengths, layout) is a TypeError, never a read out of bounds."""
    from caffi.monitor import GroupBatch, MonitorGroup
    from caffi._aio import GroupDispatch
    group = MonitorGroup([], ca.DBR.TIME_DOUBLE, count=3)
    dispatch = GroupDispatch(group)
    good = group.drain()
    dispatch.dispatch(good)                                  # an empty batch: nothing to do
    columns = dict(zip(GroupBatch._fields, good))
    bad = [dict(columns, index=numpy.zeros(2, numpy.int32)),     # longer than the others
           dict(columns, events=numpy.zeros(0, numpy.int64)),    # another type
           dict(columns, timestamps=[]),                         # not an array
           dict(columns, counts=numpy.zeros((0, 1), numpy.uint32))]  # another shape
    for fields in bad:
        with pytest.raises(TypeError, match='GroupBatch column'):
            dispatch.dispatch(GroupBatch(**fields))
    group.close()
