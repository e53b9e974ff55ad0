"""caffi.monitor.Monitor against the reference IOC: buffered subscriptions drained in batches.

Sequence tests pace the publisher with put-callback completion (put_wait): the IOC coalesces
array updates (it drops an event while one is still queued for the client) and may coalesce
scalar ones under flow control, so only paced puts give an exact expected sequence.  "Delivered
by the server" is stats()['updates'] (every libca delivery with data); what the ring lost to
overflow is stats()['dropped'].
"""

import gc
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import numpy
import pytest

import caffi._ca as _ca
import caffi._monitor as _monitor
import caffi.ca as ca
from caffi.constants import ECA, AlarmCondition, AlarmSeverity, ChannelState
from caffi.dbr import DBR
from caffi.monitor import Batch, Monitor, Update

from ca_client_util import TIMEOUT, RECONNECT_TIMEOUT, connect, put_wait, wait_for

# every test of this module runs in pytest's thread with a module-wide preemptive context
pytestmark = pytest.mark.usefixtures('context')

LEAK_UPDATES = int(os.environ.get('CAFFI_MONITOR_LEAK_UPDATES', '100000'))
LEAK_WARMUP = 20000


@pytest.fixture
def monitors():
    """Monitors to close after the test (closing twice is fine)."""
    opened = []
    yield opened
    for monitor in opened:
        monitor.close()


def open_monitor(opened, chid, *args, **kwargs):
    monitor = Monitor(chid, *args, **kwargs)
    opened.append(monitor)
    ca.flush_io()           # the subscription request leaves with the next flush
    return monitor


def settle(monitor, quiet=0.3, timeout=10.0):
    """Wait until stats()['updates'] stops changing for `quiet` seconds; returns the stats."""
    deadline = time.monotonic() + timeout
    last = monitor.stats()['updates']
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now = monitor.stats()['updates']
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return monitor.stats()


def wait_updates(monitor, n, timeout=TIMEOUT):
    return wait_for(lambda: monitor.stats()['updates'] >= n, timeout)


def terminated(values):
    """String elements up to their NUL terminator (see test_string_values_end_at_terminator)."""
    return [v.split(b'\0', 1)[0] if isinstance(v, bytes) else v for v in values]


def waveform_of(i, width=20):
    """The waveform put as update `i`: element 0 carries the counter."""
    value = numpy.arange(width, dtype=numpy.float64) * 0.5
    value[0] = i
    return value


class Thread(threading.Thread):
    """A daemon thread whose exception is re-raised by join_checked()."""

    def __init__(self, target, *args, name='caffi-test-monitor'):
        super().__init__(name=name, daemon=True)
        self._target_fn, self._args = target, args
        self.error = None
        self.result = None

    def run(self):
        try:
            self.result = self._target_fn(*self._args)
        except BaseException as exc:
            self.error = exc

    def join_checked(self, timeout=30.0):
        self.join(timeout)
        assert not self.is_alive(), '%s did not finish' % self.name
        if self.error is not None:
            raise self.error
        return self.result


def with_context(context, body, *args):
    """Run body(*args) with `context` attached to the calling thread."""
    assert ca.attach_context(context) == ECA.NORMAL
    try:
        return body(*args)
    finally:
        ca.detach_context()


def hammer(chid, stop, flush_every=20):
    """Put an increasing counter (modulo 1000) as fast as possible until `stop` is set."""
    i = 0
    while not stop.is_set():
        i += 1
        assert ca.put(chid, float(i % 1000)) == ECA.NORMAL
        if i % flush_every == 0:
            ca.flush_io()
            time.sleep(0)
    ca.flush_io()
    return i


# ---------------------------------------------------------------------------
# Sequences: a consumer that keeps up, a stalled consumer with either overflow policy

SEQUENCE_SUBJECTS = [
    # record, request type, value to put for counter i, counter read back from a values row
    pytest.param('calong', DBR.TIME_LONG, lambda i: i, lambda row: int(row[0]), id='calong'),
    pytest.param('cawave', DBR.DOUBLE, waveform_of, lambda row: int(row[0]), id='cawave[0]'),
]


@pytest.mark.parametrize('record, chtype, make, counter', SEQUENCE_SUBJECTS)
def test_consumer_keeping_up_gets_every_value_once_in_order(chans, context, monitors,
                                                            record, chtype, make, counter):
    chid = chans[record]
    n = 300
    put_wait(chid, make(0))
    # deeper than the sequence: on a loaded machine the consumer may stall for many round trips
    # (the stalled-consumer tests below are the ones about overflow)
    monitor = open_monitor(monitors, chid, chtype, depth=512)
    first = monitor.get(TIMEOUT)
    assert counter([first.value] if numpy.ndim(first.value) == 0 else first.value) == 0

    def publish():
        # each write once the server has sent the previous one: the IOC replaces an array event
        # still queued for the client by the next one, so only then is the sequence exact
        for i in range(1, n + 1):
            put_wait(chid, make(i))
            wait_updates(monitor, i + 1)

    publisher = Thread(with_context, context, publish, name='caffi-test-publisher')
    publisher.start()
    seen = []
    deadline = time.monotonic() + 60.0
    while (not seen or seen[-1] != n) and time.monotonic() < deadline:
        if monitor.wait(0.5):
            batch = monitor.drain()
            assert isinstance(batch, Batch)
            seen.extend(counter(row) for row in batch.values)
    publisher.join_checked()
    assert seen == list(range(1, n + 1))
    stats = settle(monitor, quiet=0.2)
    assert stats['dropped'] == 0
    assert stats['failures'] == 0
    assert stats['updates'] == n + 1
    assert stats['pending'] == 0 and monitor.pending == 0
    assert monitor.drain().values.shape == (0, monitor.width)


@pytest.mark.parametrize('overflow', ['drop_oldest', 'drop_newest'])
@pytest.mark.parametrize('record, chtype, make, counter', SEQUENCE_SUBJECTS)
def test_stalled_consumer_accounts_for_every_update(chans, monitors, record, chtype, make, counter,
                                                    overflow):
    chid = chans[record]
    n, depth = 100, 16
    put_wait(chid, make(0))
    monitor = open_monitor(monitors, chid, chtype, depth=depth, overflow=overflow)
    assert monitor.depth == depth
    assert wait_updates(monitor, 1)
    for i in range(1, n + 1):
        put_wait(chid, make(i))
    assert wait_updates(monitor, n + 1)
    stats = settle(monitor)
    assert stats['updates'] == n + 1            # paced puts: the server sent each one
    assert stats['pending'] == depth
    batch = monitor.drain()
    arrived = [counter(row) for row in batch.values]
    assert len(arrived) + stats['dropped'] == stats['updates']
    assert stats['dropped'] == n + 1 - depth
    assert monitor.stats()['dropped'] == stats['dropped']       # drain does not reset it
    if overflow == 'drop_oldest':
        assert arrived == list(range(n + 1 - depth, n + 1))      # the newest `depth`
    else:
        assert arrived == list(range(depth))                     # the first `depth`
    assert monitor.pending == 0


def test_drain_in_pieces_and_wraparound(chans, monitors):
    chid = chans['calong']
    put_wait(chid, 0)
    monitor = open_monitor(monitors, chid, DBR.LONG, depth=5)
    assert wait_updates(monitor, 1)
    seen = [monitor.get(TIMEOUT).value]
    for i in range(1, 23):
        put_wait(chid, i)
        if i % 3 == 0:      # the ring's start moves around: batches cross its end
            assert wait_updates(monitor, i + 1)
            batch = monitor.drain(2)
            assert len(batch.values) == 2
            seen.extend(batch.values[:, 0].tolist())
            seen.extend(monitor.drain().values[:, 0].tolist())
    assert wait_updates(monitor, 23)
    seen.extend(int(u.value) for u in (monitor.get(TIMEOUT) for _ in range(monitor.pending)))
    assert seen == list(range(23))
    assert monitor.stats()['dropped'] == 0
    assert monitor.drain(0).values.shape == (0, 1)
    assert monitor.drain(-3).values.shape == (0, 1)


def test_two_consumers_share_the_updates(chans, monitors):
    """Concurrent drains split the updates: each exactly once, each consumer's share in order."""
    chid = chans['calong']
    n = 200
    put_wait(chid, 0)
    monitor = open_monitor(monitors, chid, DBR.LONG, depth=n + 8)
    stop = threading.Event()

    def consume():
        taken = []
        while not (stop.is_set() and monitor.pending == 0):
            if monitor.wait(0.05):
                taken.extend(monitor.drain(3).values[:, 0].tolist())
        return taken

    consumers = [Thread(consume, name='caffi-test-consumer-%d' % i) for i in range(2)]
    for consumer in consumers:
        consumer.start()
    for i in range(1, n + 1):
        put_wait(chid, i)
    assert wait_updates(monitor, n + 1)
    stop.set()
    shares = [consumer.join_checked() for consumer in consumers]
    assert sorted(shares[0] + shares[1]) == list(range(n + 1))
    for share in shares:
        assert share == sorted(share)
    assert monitor.stats()['dropped'] == 0


# ---------------------------------------------------------------------------
# drain() hands out the ring's own slots: the callback's memcpy is the only copy

def store_of(array):
    """The object whose memory an array of a Batch views (a RingBlock for a zero-copy batch)."""
    while isinstance(array, numpy.ndarray) and array.base is not None:
        array = array.base
    return array.obj if isinstance(array, memoryview) else array


def data_address(array):
    return array.__array_interface__['data'][0]


def put_counters(monitor, chid, first, last):
    for i in range(first, last + 1):
        put_wait(chid, waveform_of(i))
    assert wait_updates(monitor, last + 1)


def test_drain_hands_out_the_slots_and_reuses_released_stores(chans, monitors):
    chid = chans['cawave']
    put_wait(chid, waveform_of(0))
    monitor = open_monitor(monitors, chid, DBR.TIME_DOUBLE, depth=8)
    assert wait_updates(monitor, 1)              # subscribed: the first update came
    put_counters(monitor, chid, 1, 3)
    a = monitor.drain()
    assert a.values[:, 0].tolist() == [0, 1, 2, 3]
    assert a.values[1].tolist() == waveform_of(1).tolist()
    block = store_of(a.values)
    assert type(block).__name__ == 'RingBlock'
    assert all(store_of(field) is block for field in a)          # values and metadata: one store
    assert a.values.flags.writeable and a.values.flags.c_contiguous
    assert a.timestamps.dtype == numpy.float64 and a.counts.tolist() == [20] * 4

    # a batch held on to keeps its rows while the ring goes on in another store
    put_counters(monitor, chid, 4, 7)
    b = monitor.drain()
    assert b.values[:, 0].tolist() == [4, 5, 6, 7]
    assert a.values[:, 0].tolist() == [0, 1, 2, 3]
    assert store_of(b.values) is not block
    assert not numpy.shares_memory(a.values, b.values)
    first_store = data_address(a.values)

    # released first, a's store is the spare the ring takes at the next drain (b's is freed:
    # one spare is kept), so it comes out again at the drain after that
    del a, block
    del b
    put_counters(monitor, chid, 8, 8)
    c = monitor.drain()
    assert c.values[:, 0].tolist() == [8]
    del c
    put_counters(monitor, chid, 9, 10)
    d = monitor.drain()
    assert d.values[:, 0].tolist() == [9, 10]
    assert data_address(d.values) == first_store
    assert monitor.stats()['dropped'] == 0


def test_drained_arrays_take_no_stray_references(chans, monitors):
    """A batch's arrays are made through numpy's C API, which takes a reference to their dtype
    and to their base: drains and releases leave the dtypes' counts where they were, and the
    base (the RingBlock) goes with the last array on it."""
    chid = chans['cawave']
    put_wait(chid, waveform_of(0))
    monitor = open_monitor(monitors, chid, DBR.TIME_DOUBLE, depth=8)
    assert wait_updates(monitor, 1)
    first = monitor.drain()
    dtypes = list({array.dtype for array in first})
    del first
    before = [sys.getrefcount(dtype) for dtype in dtypes]
    for i in range(1, 41):
        put_counters(monitor, chid, i, i)
        batch = monitor.drain()
        assert batch.values[:, 0].tolist() == [i]
        if i == 40:
            break
        del batch
        monitor.drain()                          # and empty batches of no rows
    block = store_of(batch.values)
    # the arrays (5) and this name; no other holder
    assert sys.getrefcount(block) - 1 == 1 + len(batch)
    del batch, block
    assert [sys.getrefcount(dtype) for dtype in dtypes] == before


def test_partial_and_wrapped_drains_copy_into_a_batch_of_their_own(chans, monitors):
    """drain(n) of a part, and a ring that overflowed around its end, copy the slots: the
    batch must not change when the ring goes on."""
    chid = chans['cawave']
    put_wait(chid, waveform_of(0))
    monitor = open_monitor(monitors, chid, DBR.DOUBLE, depth=4, overflow='drop_oldest')
    assert wait_updates(monitor, 1)              # subscribed: the first update came
    put_counters(monitor, chid, 1, 5)            # 6 updates into 4 slots: the ring wrapped
    wrapped = monitor.drain()
    assert wrapped.values[:, 0].tolist() == [2, 3, 4, 5]
    put_counters(monitor, chid, 6, 8)
    part = monitor.drain(2)
    assert part.values[:, 0].tolist() == [6, 7]
    put_counters(monitor, chid, 9, 11)           # these reuse the slots `part` came from
    assert monitor.drain().values[:, 0].tolist() == [8, 9, 10, 11]
    assert part.values[:, 0].tolist() == [6, 7]
    assert wrapped.values[:, 0].tolist() == [2, 3, 4, 5]
    assert monitor.stats()['dropped'] == 2


def test_batch_outlives_its_monitor(chans):
    chid = chans['cawave']
    put_wait(chid, waveform_of(41))
    monitor = Monitor(chid, DBR.DOUBLE, depth=4)
    ca.flush_io()
    assert monitor.wait(TIMEOUT)
    batch = monitor.drain()
    monitor.close()
    del monitor
    gc.collect()
    assert batch.values[0].tolist() == waveform_of(41).tolist()
    batch.values[0] += 1.0                       # the batch's memory is the caller's now
    assert batch.values[0, 0] == 42.0


def test_get_returns_a_value_of_its_own(chans, monitors):
    """get() copies an array value out, so a kept Update does not keep a store of the ring."""
    chid = chans['cawave']
    put_wait(chid, waveform_of(7))
    monitor = open_monitor(monitors, chid, DBR.DOUBLE, depth=64)
    update = monitor.get(TIMEOUT)
    assert update.value.tolist() == waveform_of(7).tolist()
    assert update.value.flags.owndata


def test_get_timeout_and_iteration(chans, monitors):
    chid = chans['calong']
    put_wait(chid, 7)
    monitor = open_monitor(monitors, chid, DBR.TIME_LONG)
    update = monitor.get(TIMEOUT)
    assert isinstance(update, Update)
    assert update.value == 7 and type(update.value) is int
    assert update.count == 1
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        monitor.get(0.2)
    assert 0.15 < time.monotonic() - t0 < 2.0
    assert monitor.wait(0) is False
    for i in (8, 9, 10):
        put_wait(chid, i)
    assert wait_updates(monitor, 4)
    values = []
    for update in monitor:
        values.append(update.value)
        if len(values) == 3:
            break
    assert values == [8, 9, 10]


# ---------------------------------------------------------------------------
# Time stamps and alarm fields


def time_get(chid, chtype):
    status, dbrvalue = ca.get(chid, chtype)
    assert status == ECA.NORMAL
    assert ca.pend_io(TIMEOUT) == ECA.NORMAL
    return dbrvalue.get()


@pytest.mark.parametrize('value, condition, severity', [
    (15.0, AlarmCondition.High, AlarmSeverity.Minor),
    (25.0, AlarmCondition.HiHi, AlarmSeverity.Major),
    (-12.5, AlarmCondition.Low, AlarmSeverity.Minor),
    (1.0, AlarmCondition.No, AlarmSeverity.No),
])
def test_stamp_and_alarm_match_time_get(chans, monitors, value, condition, severity):
    chid = chans['catest']
    put_wait(chid, 0.5)
    monitor = open_monitor(monitors, chid, DBR.TIME_DOUBLE)
    monitor.get(TIMEOUT)
    put_wait(chid, value)
    update = monitor.get(TIMEOUT)
    reference = time_get(chid, DBR.TIME_DOUBLE)          # the same update: no processing since
    assert reference['value'] == value == update.value
    assert (reference['status'], reference['severity']) == (condition, severity)
    assert (update.status, update.severity) == (condition, severity)
    stamp = reference['stamp']
    assert update.timestamp == stamp['seconds'] + stamp['nanoseconds'] * 1e-9
    assert int(update.timestamp) == stamp['seconds']
    assert abs((update.timestamp - stamp['seconds']) * 1e9 - stamp['nanoseconds']) < 1000
    assert abs(update.timestamp - time.time()) < 5.0


def test_stamp_and_alarm_in_batches(chans, monitors):
    """A drained batch carries one (stamp, status, severity) per update, as TIME_ gets see them."""
    chid = chans['catest']
    put_wait(chid, 0.0)
    monitor = open_monitor(monitors, chid, DBR.TIME_DOUBLE)
    assert wait_updates(monitor, 1)
    monitor.drain()
    references = []
    for value in (12.0, 21.0, 3.0):
        put_wait(chid, value)
        assert wait_updates(monitor, len(references) + 2)
        references.append(time_get(chid, DBR.TIME_DOUBLE))
    batch = monitor.drain()
    assert batch.values[:, 0].tolist() == [12.0, 21.0, 3.0]
    assert batch.status.dtype == numpy.int16 and batch.severity.dtype == numpy.int16
    assert batch.timestamps.dtype == numpy.float64 and batch.counts.dtype == numpy.uint32
    assert batch.status.tolist() == [r['status'] for r in references] == [
        AlarmCondition.High, AlarmCondition.HiHi, AlarmCondition.No]
    assert batch.severity.tolist() == [r['severity'] for r in references] == [
        AlarmSeverity.Minor, AlarmSeverity.Major, AlarmSeverity.No]
    assert batch.timestamps.tolist() == [
        r['stamp']['seconds'] + r['stamp']['nanoseconds'] * 1e-9 for r in references]
    assert numpy.all(numpy.diff(batch.timestamps) > 0)
    assert batch.counts.tolist() == [1, 1, 1]


def test_time_string_alarm_fields(chans, monitors):
    chid = chans['cabo']
    put_wait(chid, 0)
    monitor = open_monitor(monitors, chid, DBR.TIME_STRING)
    assert terminated([monitor.get(TIMEOUT).value]) == [b'Done']
    put_wait(chid, 1)                     # OSV MINOR: the change to Busy raises a STATE alarm
    update = monitor.get(TIMEOUT)
    reference = time_get(chid, DBR.TIME_STRING)
    assert terminated([update.value]) == [b'Busy'] == [reference['value'].encode()]
    assert (update.status, update.severity) == (reference['status'], reference['severity'])
    assert update.severity == AlarmSeverity.Minor
    stamp = reference['stamp']
    assert update.timestamp == stamp['seconds'] + stamp['nanoseconds'] * 1e-9
    put_wait(chid, 0)


@pytest.mark.parametrize('chtype', [DBR.DOUBLE, DBR.STRING, DBR.LONG])
def test_plain_request_type_gets_receipt_time_and_no_alarm(chans, monitors, chtype):
    chid = chans['catest']
    put_wait(chid, 15.0)                  # in alarm: a plain type does not carry it
    monitor = open_monitor(monitors, chid, chtype)
    monitor.get(TIMEOUT)
    before = time.time()
    put_wait(chid, 16.0)
    update = monitor.get(TIMEOUT)
    after = time.time()
    assert (update.status, update.severity) == (0, 0)
    assert before - 0.01 <= update.timestamp <= after + 0.01
    assert monitor.stats()['last_update'] == pytest.approx(update.timestamp, abs=1e-6)
    put_wait(chid, 0.0)


# ---------------------------------------------------------------------------
# Strings and every numeric type: dtypes and values

TYPE_CASES = [
    # record, request type, value put, expected numpy dtype, expected delivered elements
    ('castr', DBR.TIME_STRING, 'hello monitor', 'S40', [b'hello monitor']),
    ('castr', DBR.STRING, 'x' * 39, 'S40', [b'x' * 39]),
    ('cawaves', DBR.TIME_STRING, ['a', 'bc', 'def'], 'S40', [b'a', b'bc', b'def']),
    ('cawaveh', DBR.TIME_SHORT, [-32768, -1, 0, 1, 32767], 'int16', [-32768, -1, 0, 1, 32767]),
    ('cawaveh', DBR.SHORT, list(range(150)), 'int16', list(range(150))),
    ('cawavef', DBR.TIME_FLOAT, [1.5, -2.25, 3e5], 'float32', [1.5, -2.25, 3e5]),
    ('cawavef', DBR.FLOAT, [0.125] * 7, 'float32', [0.125] * 7),
    ('cabo', DBR.TIME_ENUM, 1, 'uint16', [1]),
    ('cabo', DBR.ENUM, 0, 'uint16', [0]),
    ('cawavec', DBR.TIME_CHAR, [1, 2, 3, 4, 5], 'uint8', [1, 2, 3, 4, 5]),
    ('cawaveuc', DBR.CHAR, [0, 127, 128, 255], 'uint8', [0, 127, 128, 255]),
    ('calong', DBR.TIME_LONG, -123456789, 'int32', [-123456789]),
    ('cawavel', DBR.LONG, [2**31 - 1, -2**31, 5], 'int32', [2**31 - 1, -2**31, 5]),
    ('catest', DBR.TIME_DOUBLE, 3.25, 'float64', [3.25]),
    ('cawave', DBR.DOUBLE, [1e-300, -7.5, 1e300], 'float64', [1e-300, -7.5, 1e300]),
    # converted by the server to the requested type
    ('catest', DBR.TIME_STRING, 3.25, 'S40', [b'3.2500']),
    ('catest', DBR.LONG, 3.0, 'int32', [3]),
    ('cabo', DBR.STRING, 1, 'S40', [b'Busy']),
    ('cawavel', DBR.TIME_DOUBLE, [1, 2, 3], 'float64', [1.0, 2.0, 3.0]),
]


@pytest.mark.parametrize('record, chtype, value, dtype, expected', TYPE_CASES,
                         ids=['%s-%s' % (c[0], c[1].name) for c in TYPE_CASES])
def test_types_and_values(chans, monitors, record, chtype, value, dtype, expected):
    chid = chans[record]
    native_count = ca.element_count(chid)
    put_wait(chid, value)
    monitor = open_monitor(monitors, chid, chtype, depth=8)
    assert monitor.dtype == numpy.dtype(dtype)
    assert monitor.request_type == chtype and isinstance(monitor.request_type, DBR)
    assert monitor.width == native_count
    assert wait_updates(monitor, 1)
    batch = monitor.drain()
    n = len(expected)
    assert batch.values.dtype == numpy.dtype(dtype)
    assert batch.values.shape == (1, native_count)
    assert batch.counts.tolist() == [n]        # count 0 asked: the server's current length
    assert terminated(batch.values[0, :n].tolist()) == expected
    # the rest of the row is zero-filled (its bytes: numpy before 2 has no any() of strings)
    assert not batch.values[0, n:].view(numpy.uint8).any()
    if not chtype.name.startswith('TIME_'):
        assert batch.status.tolist() == [0] and batch.severity.tolist() == [0]
    # the same through get() of a second monitor's first update: a scalar for one-element monitors
    update = open_monitor(monitors, chid, chtype).get(TIMEOUT)
    assert update.count == n
    if native_count == 1:
        assert not isinstance(update.value, numpy.ndarray)
        assert terminated([update.value]) == expected
    else:
        assert isinstance(update.value, numpy.ndarray) and update.value.dtype == numpy.dtype(dtype)
        assert terminated(update.value.tolist()) == expected


@pytest.mark.parametrize('record, chtype, value, expected', [
    ('cabo', DBR.STRING, 1, [b'Busy']),
    ('catest', DBR.TIME_STRING, 3.25, [b'3.2500']),
    ('castr', DBR.TIME_STRING, 'ab', [b'ab']),
    ('cawaves', DBR.STRING, ['x', 'yz'], [b'x', b'yz']),
], ids=['cabo-STRING', 'catest-TIME_STRING', 'castr-TIME_STRING', 'cawaves-STRING'])
def test_string_values_end_at_terminator(chans, monitors, record, chtype, value, expected):
    chid = chans[record]
    put_wait(chid, value)
    batched = open_monitor(monitors, chid, chtype)
    single = open_monitor(monitors, chid, chtype)
    assert wait_updates(batched, 1)
    rows = batched.drain().values.view(numpy.uint8).reshape(-1, 40)
    for row, string in zip(rows, expected):
        assert bytes(row[:len(string)]) == string
        assert not row[len(string):].any(), bytes(row)
    value = single.get(TIMEOUT).value
    assert (value.tolist() if isinstance(value, numpy.ndarray) else [value]) == expected


def test_explicit_count_truncates_and_pads(chans, monitors):
    chid = chans['cawavel']
    put_wait(chid, list(range(10, 20)))
    short = open_monitor(monitors, chid, DBR.LONG, count=4)
    assert short.width == 4
    update = short.get(TIMEOUT)
    assert update.count == 4 and update.value.tolist() == [10, 11, 12, 13]
    wide = open_monitor(monitors, chid, DBR.LONG, count=150)
    batch = wide.drain() if wide.wait(TIMEOUT) else None
    assert batch is not None and batch.counts.tolist() == [150]
    assert batch.values[0, :10].tolist() == list(range(10, 20))


# ---------------------------------------------------------------------------
# Disconnection, closing, threads, cleared channels


def test_updates_resume_after_ioc_restart(chans, monitors, restartable_ioc):
    chid = chans['calong']
    put_wait(chid, 4)
    monitor = open_monitor(monitors, chid, DBR.TIME_LONG, depth=64)
    assert monitor.get(TIMEOUT).value == 4
    put_wait(chid, 5)
    assert monitor.get(TIMEOUT).value == 5
    restartable_ioc.stop()
    assert wait_for(lambda: ca.state(chid) == ChannelState.PREV_CONN, 30.0)
    before = monitor.stats()
    assert before['updates'] == 2
    assert not monitor.closed
    assert monitor.wait(0.2) is False
    restartable_ioc.start()
    update = monitor.get(RECONNECT_TIMEOUT)
    assert update.value == 0                        # the restarted IOC starts from 0
    for i in range(1, 21):
        put_wait(chid, i)
    assert wait_updates(monitor, before['updates'] + 21)
    assert [monitor.get(TIMEOUT).value for _ in range(20)] == list(range(1, 21))
    after = settle(monitor, quiet=0.2)
    assert after['updates'] == before['updates'] + 21    # the counters kept counting
    assert after['first_update'] == before['first_update']
    assert after['last_update'] > before['last_update']
    assert after['bytes'] == after['updates'] * 4
    assert after['dropped'] == 0
    assert after['failures'] == 0


def test_close_while_updates_arrive(chans, context):
    chid = chans['catest']
    for attempt in range(4):
        consumed = open_monitor([], chid, DBR.TIME_DOUBLE, depth=256)
        stalled = open_monitor([], chid, DBR.DOUBLE, depth=32)
        stop = threading.Event()
        publisher = Thread(with_context, context, hammer, chid, stop, name='caffi-test-hammer')
        publisher.start()
        received = []
        reader = Thread(lambda: [received.append(u.value) for u in consumed],
                        name='caffi-test-iterate')
        reader.start()
        try:
            assert wait_updates(consumed, 50) and wait_updates(stalled, 50)
            time.sleep(0.05 * attempt)
            t0 = time.monotonic()
            consumed.close()
            stalled.close()
            assert time.monotonic() - t0 < 5.0
            assert consumed.closed and stalled.closed
            reader.join_checked(10.0)              # iteration ends at close
            frozen = (consumed.stats()['updates'], stalled.stats()['updates'])
            time.sleep(0.1)                         # the publisher is still putting
            assert (consumed.stats()['updates'], stalled.stats()['updates']) == frozen
            assert publisher.is_alive()
        finally:
            stop.set()
            publisher.join_checked()
        assert len(received) + consumed.pending + consumed.stats()['dropped'] == frozen[0]
        # what is left in the ring can still be taken, then the monitor is at its end
        left = stalled.pending
        assert left == 32
        assert len(list(stalled)) == left
        for monitor in (consumed, stalled):
            monitor.drain()
            assert monitor.wait(0.1) is False
            assert monitor.wait(None) is False
            with pytest.raises(EOFError):
                monitor.get(0.1)
            with pytest.raises(EOFError):
                monitor.get()
            assert list(monitor) == []
            monitor.close()                         # idempotent
            assert ca.clear_subscription(monitor) == ECA.BADCHID


def test_get_returns_what_is_left_after_close(chans, monitors):
    chid = chans['calong']
    put_wait(chid, 0)
    monitor = open_monitor(monitors, chid, DBR.LONG)
    for i in (1, 2, 3):
        put_wait(chid, i)
    assert wait_updates(monitor, 4)
    with monitor:
        pass                                        # the context manager closes it
    assert monitor.closed
    put_wait(chid, 4)
    assert [monitor.get(1.0).value for _ in range(4)] == [0, 1, 2, 3]
    with pytest.raises(EOFError):
        monitor.get(1.0)


def test_close_wakes_a_blocked_consumer(chans, monitors):
    chid = chans['calong']
    monitor = open_monitor(monitors, chid, DBR.LONG)
    monitor.get(TIMEOUT)
    results = {}

    def block():
        t0 = time.monotonic()
        results['wait'] = monitor.wait(None)
        results['seconds'] = time.monotonic() - t0

    waiter = Thread(block)
    waiter.start()
    time.sleep(0.3)
    assert waiter.is_alive()
    monitor.close()
    waiter.join_checked(5.0)
    assert results['wait'] is False and results['seconds'] < 5.0


def test_many_monitors_in_parallel_threads(chans, context):
    records = ['catest', 'cacalc'] * 4
    chids = {name: chans[name] for name in set(records)}
    barrier = threading.Barrier(len(records) + 1)

    def subscribe_and_read(name):
        monitor = Monitor(chids[name], DBR.TIME_DOUBLE, depth=4096)
        ca.flush_io()
        try:
            barrier.wait(TIMEOUT)
            values = []
            deadline = time.monotonic() + 15.0
            while len(values) < 3 and time.monotonic() < deadline:
                if monitor.wait(0.5):
                    values.extend(monitor.drain().values[:, 0].tolist())
            return name, values, monitor.stats()
        finally:
            monitor.close()

    threads = [Thread(with_context, context, subscribe_and_read, name, name='caffi-test-%d' % i)
               for i, name in enumerate(records)]
    for thread in threads:
        thread.start()
    barrier.wait(TIMEOUT)
    stop = threading.Event()
    publisher = Thread(with_context, context, hammer, chids['catest'], stop, 5)
    publisher.start()
    try:
        results = [thread.join_checked(30.0) for thread in threads]
    finally:
        stop.set()
        publisher.join_checked()
    for name, values, stats in results:
        assert len(values) >= 3, (name, values)
        assert stats['failures'] == 0
        if name == 'cacalc':                        # the 1 Hz counter counts up by one
            assert numpy.all(numpy.diff(values) == 1), values
        else:
            assert stats['dropped'] == 0
            assert stats['updates'] >= len(values)


def test_close_after_clear_channel(monitors):
    chid = connect('calong')
    monitor = open_monitor(monitors, chid, DBR.LONG)
    assert monitor.get(TIMEOUT) is not None
    waiter = Thread(monitor.wait, None)
    waiter.start()
    assert ca.clear_channel(chid) == ECA.NORMAL
    assert waiter.join_checked(5.0) is False        # a blocked wait notices the cleared channel
    assert monitor.closed
    assert monitor.wait(0.1) is False
    with pytest.raises(EOFError):
        monitor.get(0.1)
    assert monitor.drain().values.shape == (0, 1)
    assert monitor.stats()['updates'] == 1
    monitor.close()
    monitor.close()
    assert ca.clear_subscription(monitor) == ECA.BADCHID
    assert 'closed' in repr(monitor)
    del monitor
    monitors.clear()
    gc.collect()


def test_clear_subscription_of_a_monitor(chans, monitors):
    chid = chans['calong']
    put_wait(chid, 1)
    monitor = open_monitor(monitors, chid, DBR.LONG)
    assert monitor.get(TIMEOUT).value == 1
    assert ca.clear_subscription(monitor) == ECA.NORMAL
    assert monitor.closed
    put_wait(chid, 2)
    time.sleep(0.2)
    assert monitor.pending == 0 and monitor.stats()['updates'] == 1
    assert monitor.wait(0.1) is False
    with pytest.raises(EOFError):
        monitor.get(0.1)
    assert ca.clear_subscription(monitor) == ECA.BADCHID
    monitor.close()


def test_monitor_and_callback_subscription_side_by_side(chans, monitors):
    from ca_client_util import Collector
    chid = chans['calong']
    put_wait(chid, 0)
    monitor = open_monitor(monitors, chid, DBR.LONG)
    updates = Collector()
    status, evid = ca.create_subscription(chid, updates, chtype=DBR.LONG)
    assert status == ECA.NORMAL
    ca.flush_io()
    try:
        for i in range(1, 6):
            put_wait(chid, i)
        assert updates.wait(6)
        assert wait_updates(monitor, 6)
        assert monitor.drain().values[:, 0].tolist() == [u['value'] for u in updates.items]
        assert _ca.subscription_counters(evid)['updates'] == monitor.stats()['updates'] == 6
    finally:
        assert ca.clear_subscription(evid) == ECA.NORMAL


# ---------------------------------------------------------------------------
# Bad arguments


@pytest.mark.parametrize('chtype', [DBR.CTRL_DOUBLE, DBR.GR_DOUBLE, DBR.STS_DOUBLE, DBR.STS_STRING,
                                    DBR.CTRL_STRING, DBR.PUT_ACKT, DBR.STSACK_STRING,
                                    DBR.CLASS_NAME, -1, 39, 100])
def test_bad_request_type(chans, chtype):
    with pytest.raises(ValueError):
        Monitor(chans['catest'], chtype)


@pytest.mark.parametrize('kwargs, error', [
    ({'overflow': 'x'}, ValueError),
    ({'overflow': None}, ValueError),
    ({'depth': 0}, ValueError),
    ({'depth': -5}, ValueError),
    ({'count': 0}, ValueError),
    ({'count': -1}, ValueError),
    ({'notify': 42}, TypeError),
])
def test_bad_arguments(chans, kwargs, error):
    with pytest.raises(error):
        Monitor(chans['catest'], **kwargs)


def test_bad_notify_leaves_no_subscription(chans):
    gc.collect()
    before = sum(1 for o in gc.get_objects() if isinstance(o, Monitor) and not o.closed)
    with pytest.raises(TypeError):
        Monitor(chans['catest'], notify=42)
    gc.collect()
    after = [o for o in gc.get_objects() if isinstance(o, Monitor) and not o.closed]
    assert len(after) == before


def test_bad_chid():
    with pytest.raises(ValueError):
        Monitor(None)
    with pytest.raises(ValueError):
        Monitor('catest')
    chid = connect('catest')
    assert ca.clear_channel(chid) == ECA.NORMAL
    with pytest.raises(ValueError):
        Monitor(chid)                       # stale


def test_objects_not_made_by_their_constructors_raise():
    """Monitor.__new__ without __init__, and a RingBlock not from drain(): exceptions, no crash."""
    monitor = Monitor.__new__(Monitor)
    for call in (monitor.drain, lambda: monitor.wait(0), monitor.stats, monitor.close):
        with pytest.raises(ValueError, match='not made by Monitor'):
            call()
    assert monitor.pending == 0 and monitor.closed
    with pytest.raises(ValueError, match='holds nothing'):
        numpy.frombuffer(_monitor.RingBlock())


def test_drain_bounds(chans, monitors):
    chid = chans['calong']
    put_wait(chid, 5)
    monitor = open_monitor(monitors, chid, DBR.LONG, depth=4)
    assert monitor.wait(TIMEOUT)
    assert monitor.drain(10 ** 30).values[:, 0].tolist() == [5]      # more than fits: all
    with pytest.raises(TypeError):
        monitor.drain(1.5)


def test_unconnected_channel_needs_explicit_count(monitors):
    status, chid = ca.create_channel('caffi:monitor:nowhere')
    assert status == ECA.NORMAL
    try:
        with pytest.raises(ValueError):
            Monitor(chid)                   # native count unknown
        monitor = open_monitor(monitors, chid, DBR.DOUBLE, count=3)
        assert monitor.width == 3 and monitor.dtype == numpy.float64
        assert monitor.wait(0.1) is False
        monitor.close()
    finally:
        ca.clear_channel(chid)


# ---------------------------------------------------------------------------
# notify


def test_notify_batches_at_most_every_interval(chans, context):
    chid = chans['catest']
    interval, window = 0.2, 1.6
    calls = []

    def notify(batch):
        calls.append((time.monotonic(), len(batch.values)))

    put_wait(chid, 0.0)
    monitor = Monitor(chid, DBR.TIME_DOUBLE, depth=65536, notify=notify,
                      notify_interval=interval)
    ca.flush_io()
    stop = threading.Event()
    publisher = Thread(with_context, context, hammer, chid, stop, 5)
    try:
        assert wait_for(lambda: calls)
        t0 = time.monotonic()
        publisher.start()
        time.sleep(window)
        stop.set()
        publisher.join_checked()
        stats = settle(monitor)
        # all accounted for: notified, or lost to overflow if the notifier fell behind
        assert wait_for(lambda: monitor.pending == 0
                        and sum(n for _, n in calls) + stats['dropped'] == stats['updates'])
        assert stats['dropped'] < stats['updates'] / 10
        in_window = [t for t, _ in calls if t0 <= t <= t0 + window]
        assert len(in_window) <= window / interval + 1
        assert len(in_window) >= window / interval / 2
        gaps = numpy.diff([t for t, _ in calls])
        assert gaps.min() >= interval * 0.9
        assert stats['updates'] > 2 * len(calls)    # batches, not one call per update
    finally:
        stop.set()
        monitor.close()
    assert wait_for(lambda: not [t for t in threading.enumerate()
                                 if t.name == 'caffi-monitor-notifier'], 2.0)


def test_notify_exception_is_reported_and_notifications_continue(chans, monkeypatch):
    chid = chans['calong']
    reports = []
    monkeypatch.setattr(sys, 'unraisablehook', reports.append)
    received, calls = [], []

    def notify(batch):
        calls.append(len(batch.values))
        received.extend(batch.values[:, 0].tolist())
        raise ZeroDivisionError('notify failed')

    put_wait(chid, 0)
    monitor = Monitor(chid, DBR.LONG, notify=notify, notify_interval=0.05)
    ca.flush_io()
    try:
        for i in range(1, 6):
            put_wait(chid, i)
            assert wait_for(lambda: received and received[-1] == i)
    finally:
        monitor.close()
    assert received == list(range(6))
    assert len(calls) >= 3                   # every put waited for its notification
    assert len(reports) == len(calls)
    assert all(r.exc_type is ZeroDivisionError for r in reports)
    report = reports[0]
    assert isinstance(report.exc_value, ZeroDivisionError)
    assert report.exc_traceback is not None
    # reported as every callback's exception is: "Exception ignored in: <notify>"
    assert report.object is notify


def test_close_from_notify(chans):
    chid = chans['calong']
    closed = threading.Event()

    def notify(batch):
        monitor.close()
        closed.set()

    monitor = Monitor(chid, DBR.LONG, notify=notify, notify_interval=0.05)
    ca.flush_io()
    assert closed.wait(TIMEOUT)
    assert monitor.closed
    assert wait_for(lambda: not [t for t in threading.enumerate()
                                 if t.name == 'caffi-monitor-notifier'], 2.0)


# ---------------------------------------------------------------------------
# Memory: RSS stays flat over many updates (in a child process)

LEAK_CHILD = textwrap.dedent('''
    import json, os, sys, time
    import caffi.ca as ca
    from caffi.monitor import Monitor

    updates, warmup, pv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

    def rss():
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')

    assert ca.create_context(True) == ca.ECA.NORMAL
    status, chid = ca.create_channel(pv)
    assert ca.pend_io(5) == ca.ECA.NORMAL
    elements = ca.element_count(chid)
    if elements == 1:       # a scalar: many updates per drain
        depth, flush_every, frame = 4096, 100, None
    else:                   # a big waveform: one slot, every frame written whole
        import numpy
        depth, flush_every, frame = 1, 1, numpy.zeros(elements)
    monitor = Monitor(chid, ca.DBR.TIME_DOUBLE, depth=depth)
    ca.flush_io()
    taken, i, marks, batch = 0, 0, {}, None
    deadline = time.monotonic() + 600
    # Warm-up touches every page the run can use: each store the ring cycles through (the
    # batch held, the ring's, the spare) filled to its last slot once, as a loop that falls
    # behind fills them. Otherwise RSS steps up (by up to the stores' ~0.3 MB) whenever the
    # loop first falls that far behind, which is a page first touched, not a leak. (A
    # one-slot ring of frames is filled by each of them.)
    for _ in range(4 if frame is None else 0):
        while monitor.stats()['pending'] < depth:
            for _ in range(100):
                i += 1
                ca.put(chid, float(i % 1000))
            ca.flush_io()
            time.sleep(0.002)
            if time.monotonic() > deadline:
                sys.exit('the warm-up never filled the ring')
        batch = monitor.drain()
        taken += len(batch.values)
    while 'before' not in marks or taken < marks['taken_before'] + updates:
        for _ in range(flush_every):
            i += 1
            if frame is None:
                ca.put(chid, float(i % 1000))
            else:
                frame[0] = i
                ca.put(chid, frame)
        ca.flush_io()
        if frame is not None:
            monitor.wait(5.0)
        # the previous batch is still held while the next is drained, as in a loop that
        # rebinds `batch`: the ring then cycles through three stores
        batch = monitor.drain()
        batch.values.sum()
        taken += len(batch.values)
        if 'before' not in marks and taken >= warmup:
            marks['before'], marks['taken_before'] = rss(), taken
        if time.monotonic() > deadline:
            sys.exit('timed out after %d updates' % taken)
    marks['after'] = rss()
    stats = monitor.stats()
    monitor.close()
    print(json.dumps(dict(marks, taken=taken, puts=i, updates=stats['updates'],
                          dropped=stats['dropped'])))
    ca.clear_channel(chid)
    ca.destroy_context()
''')


def leak_run(updates, pv='catest', warmup=LEAK_WARMUP):
    # the repository's caffi/ source directory must not shadow the installed package
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, '-c', LEAK_CHILD, str(updates), str(warmup), pv],
                          cwd=tempfile.gettempdir(), env=os.environ, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    import json
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    growth = (result['after'] - result['before']) / result['before']
    sys.stderr.write('monitor RSS: %d updates in %.1f s, %.1f MB -> %.1f MB (%+.3f%%), '
                     '%d dropped\n' % (result['taken'] - result['taken_before'],
                                       time.monotonic() - t0, result['before'] / 1e6,
                                       result['after'] / 1e6, growth * 100, result['dropped']))
    assert result['taken'] - result['taken_before'] >= updates
    assert growth < 0.01, result


def test_no_leak_over_many_updates(ioc):
    leak_run(LEAK_UPDATES)


def test_no_leak_with_a_32_mb_waveform(ioc):
    """Stores of 32 MB drained whole and released: RSS stays where the warm-up left it."""
    leak_run(150, pv='cawavehuge', warmup=20)


@pytest.mark.soak
def test_no_leak_soak(ioc, request):
    if 'soak' not in (request.config.getoption('markexpr', '') or ''):
        pytest.skip('soak test: select it with `pytest -m soak`')
    leak_run(int(os.environ.get('CAFFI_MONITOR_SOAK_UPDATES', '2000000')))


# ---------------------------------------------------------------------------
# The README's DAQ example (examples/monitor_daq.py), run as a user would

DAQ_EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           'examples', 'monitor_daq.py')


def test_daq_example_acquires_every_frame_in_order(ioc):
    result = subprocess.run([sys.executable, DAQ_EXAMPLE, 'cawave', '-n', '300', '--write',
                             '--batch-ms', '20'],
                            cwd=tempfile.gettempdir(), env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout
    assert ('cawave: 300/300 frames of 20 elements into a (300, 20) array; 0 dropped by the '
            'ring, 0 failed deliveries') in result.stdout, result.stdout
    assert 'frame counters: 1..300, each once, in order' in result.stdout, result.stdout
