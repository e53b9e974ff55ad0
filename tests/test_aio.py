"""caffi.aio against the reference IOC: caget, caput, connect, cainfo and their values.

Monitors are in test_aio_monitor.py; scripts, threads, uvloop and leaks in test_aio_loops.py.
"""
import asyncio
import datetime
import gc
import math
import random
import sys
import time
import weakref

import numpy
import pytest

import pytest_asyncio  # noqa: F401  (a test extra: these tests need it)
from epicscorelibs.ca import cadef, dbr

import caffi.aio as aioca
import caffi.aio._core as _core
import caffi._aio as _aio
import caffi.ca as ca
from caffi.aio import (DBR_CHAR, DBR_CHAR_BYTES, DBR_CHAR_STR, DBR_CHAR_UNICODE, DBR_CLASS_NAME,
                       DBR_DOUBLE, DBR_ENUM, DBR_ENUM_STR, DBR_FLOAT, DBR_LONG, DBR_SHORT,
                       DBR_STRING, DBR_STSACK_STRING, FORMAT_CTRL, FORMAT_RAW, FORMAT_TIME,
                       CANothing, caget, cainfo, caput, connect)
from caffi.constants import ECA

pytestmark = [pytest.mark.usefixtures('ioc'), pytest.mark.asyncio]

MISSING = 'aio:no:such:pv'


async def test_caget_single_and_list():
    await caput('catest', 1.5, wait=True)
    value = await caget('catest')
    assert isinstance(value, dbr.ca_float) and value == 1.5
    assert value.name == 'catest' and value.ok is True
    assert value.datatype == DBR_DOUBLE and value.element_count == 1
    values = await caget(['catest', 'calong', 'castr'])
    assert isinstance(values, list) and len(values) == 3
    assert [v.name for v in values] == ['catest', 'calong', 'castr']
    assert isinstance(values[1], dbr.ca_int) and isinstance(values[2], dbr.ca_str)
    assert await caget(('catest',)) == [1.5]


async def test_list_caget_numbers_stay_out_of_the_cycle_collector():
    """Numbers whose attributes are atoms can be in no cycle: a kept list of them costs the
    collector nothing (and does not fill its oldest generation). Their attributes still
    work, a new attribute can be set, and they are freed by reference counting."""
    values = await caget(['catest', 'calong', 'cabo'] * 10)
    assert not any(gc.is_tracked(v) or gc.is_tracked(v.__dict__) for v in values)
    assert [v.name for v in values[:3]] == ['catest', 'calong', 'cabo']
    one = await caget('catest')
    assert isinstance(one, dbr.ca_float) and one.ok
    values[0].note = 'kept'
    assert values[0].note == 'kept' and values[0] + 0 == float(values[0])
    # nothing but the list holds them (but the last two per PV: each PV's request keeps
    # them for renewal, see test_polled_values_are_renewed_once_nobody_holds_them):
    # reference counting frees them with it
    assert [sys.getrefcount(values[i]) for i in range(24)] == [2] * 24


async def test_caget_missing_pv_throws_and_not():
    started = time.monotonic()
    with pytest.raises(CANothing) as raised:
        await caget(MISSING, timeout=0.5)
    assert 0.4 < time.monotonic() - started < 3
    assert raised.value.name == MISSING and not raised.value.ok
    assert raised.value.errorcode == ECA.TIMEOUT
    nothing = await caget(MISSING, timeout=0.3, throw=False)
    assert isinstance(nothing, CANothing) and not nothing and nothing.errorcode == ECA.TIMEOUT
    assert str(nothing).startswith(MISSING + ': ')


async def test_caget_list_one_timeout_for_the_whole_list():
    started = time.monotonic()
    with pytest.raises(CANothing) as raised:
        await caget(['catest', MISSING + '1', MISSING + '2'], timeout=0.5)
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 1.5          # one timeout, not one per PV after another
    assert raised.value.name == 'Multiple PVs' and raised.value.errorcode == ECA.TIMEOUT
    results = await caget(['catest', MISSING], timeout=0.5, throw=False)
    assert results[0].ok and results[0] == await caget('catest')
    assert isinstance(results[1], CANothing) and results[1].name == MISSING


def _described(value):
    """What a caller can see of a value: its class, its data and its attributes (a NaN limit
    as the text 'nan', so that equal descriptions compare equal)."""
    data = value.tolist() if isinstance(value, numpy.ndarray) else value
    attributes = {key: 'nan' if isinstance(item, float) and item != item else item
                  for key, item in vars(value).items()}
    return type(value), data, attributes


LIST_NAMES = ['catest', 'calong', 'cabo', 'castr', 'cawave', 'cawaves', 'cawavec', 'cawaveuc',
              'aio:text.VAL$']


@pytest.mark.parametrize('format', [FORMAT_RAW, FORMAT_TIME, FORMAT_CTRL])
async def test_list_caget_gives_what_single_cagets_give(format):
    # a list is read in one batch and its values made in C: they must be the single ones
    values = await caget(LIST_NAMES + ['catest'], format=format)
    singles = [await caget(name, format=format) for name in LIST_NAMES + ['catest']]
    assert [_described(v) for v in values] == [_described(v) for v in singles]


TIME_FIELDS = ['name', 'ok', 'datatype', 'element_count', 'status', 'severity', 'raw_stamp',
               'timestamp']


def _ca_time_fields(pv):
    """The DBR_TIME_DOUBLE fields of `pv` as caffi.ca reads them."""
    status, chid = ca.create_channel(pv)                  # in caffi.aio's context (a call above)
    assert status == ECA.NORMAL and ca.pend_io(5) == ECA.NORMAL
    status, read = ca.get(chid, ca.DBR.TIME_DOUBLE)
    assert status == ECA.NORMAL and ca.pend_io(5) == ECA.NORMAL
    ca.clear_channel(chid)
    return read.get()


def _check_time_value(value, pv, fields):
    secs, nsec = fields['stamp']['seconds'], fields['stamp']['nanoseconds']
    assert value.name == pv and list(vars(value)) == TIME_FIELDS
    assert (value.status, value.severity) == (fields['status'], fields['severity'])
    assert value.raw_stamp == (secs, nsec) and type(value.raw_stamp[0]) is int
    assert value.timestamp == round(secs + nsec * 1e-9, 6)
    assert value.datetime == datetime.datetime.fromtimestamp(value.timestamp)


@pytest.mark.parametrize('pv, datatype, cls', [
    ('catest', None, dbr.ca_float), ('catest', int, dbr.ca_int), ('catest', DBR_SHORT, dbr.ca_int),
    ('catest', DBR_FLOAT, dbr.ca_float), ('calong', None, dbr.ca_int),
    ('calong', float, dbr.ca_float), ('cabo', None, dbr.ca_int), ('cabo', DBR_LONG, dbr.ca_int),
])
async def test_time_values_carry_their_replys_alarm_and_stamp(pv, datatype, cls):
    """FORMAT_TIME numbers (made in C from the reply, single and listed) have the alarm and
    stamp of the record as caffi.ca reads them, in aioca's form: raw_stamp (POSIX seconds,
    nanoseconds) and timestamp = round(seconds + nanoseconds * 1e-9, 6)."""
    await caput('catest', 12.0, wait=True)                # HIGH: a MINOR alarm
    single = await caget(pv, format=FORMAT_TIME, datatype=datatype)
    listed = await caget([pv, pv], format=FORMAT_TIME, datatype=datatype)
    fields = _ca_time_fields(pv)      # the record has not processed since the cagets
    await caput('catest', 1.5, wait=True)
    for value in [single] + listed:
        assert type(value) is cls
        _check_time_value(value, pv, fields)
    if pv == 'catest':
        assert (single.status, single.severity) != (0, 0)
    # a listed value holds atoms only: it stays out of the cycle collector's lists
    assert not gc.is_tracked(listed[0]) and not gc.is_tracked(vars(listed[0]))


PLAIN_FIELDS = {'catest': {'name': 'catest', 'ok': True, 'datatype': DBR_DOUBLE,
                           'element_count': 1},
                'calong': {'name': 'calong', 'ok': True, 'datatype': DBR_LONG,
                           'element_count': 1}}


async def test_polled_values_are_renewed_once_nobody_holds_them():
    """A list caget's plain numbers are kept by their request and renewed by a later read
    once nothing else refers to them: `values = await caget(pvs)` in a loop alternates
    between two sets of objects. A value still held never changes; a renewed one is what a
    new one would be, through every digit count and sign of an int."""
    names = ['catest', 'calong']
    await caput('catest', 1.5, wait=True)
    await caput('calong', 7, wait=True)
    first = await caget(names)
    second = await caget(names)
    first_ids = [id(v) for v in first]
    del first
    for number in [3, 0, 0, -3, 2**30 - 1, -2**30 + 1, 0, 5]:     # calong's: one digit or zero
        await caput('catest', number + 0.25, wait=True)
        await caput('calong', number, wait=True)
        polled = await caget(names)
        assert polled == [number + 0.25, number] and second == [1.5, 7]
        assert [type(v) for v in polled] == [dbr.ca_float, dbr.ca_int]
        assert [vars(v) for v in polled] == [PLAIN_FIELDS[name] for name in names]
        assert [list(vars(v)) for v in polled] == [list(PLAIN_FIELDS[name]) for name in names]
        if _aio.READ_VALUES_RENEWED and number == 3:
            assert [id(v) for v in polled] == first_ids    # the first's, which nobody held
        del polled
    await caput('calong', 2**31 - 1, wait=True)          # more digits: an int made new
    assert await caget('calong') == 2**31 - 1
    await caput('catest', 1.5, wait=True)


@pytest.mark.parametrize('keep', ['attribute set', 'attribute deleted and set again',
                                  'attribute changed', 'its dict', 'a weak reference',
                                  'its class changed'])
async def test_dropped_values_seen_by_someone_are_not_renewed(keep):
    """A dropped value that its user changed, or that is still reachable (its dict, a weak
    reference), is never renewed: no later value shows the change, what is reachable never
    changes."""
    class Number(dbr.ca_float):
        pass
    kept = None
    for round_number in range(6):
        await caput('catest', round_number + 0.5, wait=True)
        for _ in range(3):                                # renewing reads, if any may renew
            values = await caget(['catest', 'catest'])
            for value in values:
                assert type(value) is dbr.ca_float and value == round_number + 0.5
                assert list(vars(value).items()) == list(PLAIN_FIELDS['catest'].items())
                assert kept is None or (vars(value) is not kept if keep == 'its dict'
                                        else value is not kept())
        value = values[0]
        if keep == 'attribute set':
            value.note = 'mine'
        elif keep == 'attribute deleted and set again':
            del value.name                               # the dict's order changes
            value.name = 'catest'
        elif keep == 'attribute changed':
            value.ok = False
        elif keep == 'its dict':
            kept = vars(value)
        elif keep == 'a weak reference':
            kept = weakref.ref(value)
        else:
            value.__class__ = Number
        del value, values
        if keep == 'its dict':
            assert kept == PLAIN_FIELDS['catest']
        elif keep == 'a weak reference' and kept() is not None:
            assert kept() == round_number + 0.5           # kept, unchanged, or freed
    await caput('catest', 1.5, wait=True)


async def test_renewed_time_values_carry_their_own_replys_alarm():
    """A renewed FORMAT_TIME value gets this reply's alarm and stamp, also where the value
    it renews had an alarm and this reply has none, and the reverse; a stamp pair or a
    timestamp kept from a dropped value never changes."""
    held = []                                             # (raw_stamp, timestamp, copies)
    for number in [12.0, 12.5, 1.5, 2.5, 13.0, 3.5, 4.5, 14.0]:   # HIGH = 10: a MINOR alarm
        await caput('catest', number, wait=True)
        values = await caget(['catest', 'catest'], format=FORMAT_TIME)
        fields = _ca_time_fields('catest')
        for value in values:
            assert type(value) is dbr.ca_float and value == number
            _check_time_value(value, 'catest', fields)
        assert (values[0].severity != 0) == (number > 10)
        if len(held) < 3:
            stamp, seconds = values[1].raw_stamp, values[1].timestamp
            held.append((stamp, seconds, list(stamp), float(repr(seconds))))
        del value, values                                 # (renewable: nothing refers to them)
    for stamp, seconds, stamp_then, seconds_then in held:
        assert list(stamp) == stamp_then and seconds == seconds_then
    await caput('catest', 1.5, wait=True)


async def test_renewed_time_value_of_a_read_never_answered_in_time():
    """A value made for a read that timed out (its request keeps it, its stamp fields never
    written, its alarm none) is renewed by the next read like any other: that read's alarm
    and stamp."""
    await caput('catest', 12.0, wait=True)                # HIGH = 10: a MINOR alarm
    for attempt in range(3):
        # (a request of its own: catest as a FORMAT_TIME float is read nowhere else) its two
        # kept values held, so that the read that times out makes a new one
        held = [await caget('catest', datatype=float, format=FORMAT_TIME) for _ in range(2)]
        nothing = await caget('catest', datatype=float, format=FORMAT_TIME, timeout=1e-9,
                              throw=False)
        assert isinstance(nothing, CANothing) and nothing.errorcode == ECA.TIMEOUT
        del nothing                    # (its exception's frames hold the batch and its values)
        await asyncio.sleep(0.05)      # its reply came, to its batch only
        for _ in range(2):
            value = await caget('catest', datatype=float, format=FORMAT_TIME)
            assert type(value) is dbr.ca_float and value == 12.0 and value.severity != 0
            _check_time_value(value, 'catest', _ca_time_fields('catest'))
            del value
        del held
    await caput('catest', 1.5, wait=True)


async def test_timestamps_round_as_python_rounds():
    """The C rounding of a TIME value's timestamp is round(seconds, 6), as aioca computes it:
    over random stamps, stamps half a microsecond apart (+- a few ns), exact decimal ties,
    negative and huge numbers (where it falls back on CPython's decimal strings)."""
    rounded = _aio._microseconds_rounded
    generator = random.Random(20261204)
    cases = [0.0, -0.0, 2.5e-7, 1.5e-6, 2.5e-6, 4.6e9, 5e15, 1e300, -1e300, float('inf')]
    for i in range(20000):
        secs = generator.randint(0, 4_000_000_000)
        cases.append(secs + generator.randint(0, 999_999_999) * 1e-9)
        half = generator.randint(0, 999_999) * 1000 + 500 + generator.randint(-3, 3)
        cases.append(secs + half * 1e-9)
        cases.append((i + 0.5) / 1e6)
        cases.append(-generator.random() * 1e9)
    for x in cases:
        expected = round(x, 6)
        assert rounded(x) == expected and math.copysign(1, rounded(x)) == math.copysign(
            1, expected), x


@pytest.mark.parametrize('datatype', [DBR_SHORT, DBR_FLOAT, DBR_ENUM, DBR_CHAR, DBR_LONG,
                                      DBR_DOUBLE, DBR_STRING, float, int, str])
async def test_list_caget_datatypes_give_what_single_cagets_give(datatype):
    await caput('catest', 2.5, wait=True)
    names = ['catest', 'calong', 'cabo']
    for count in (0, -1):
        values = await caget(names, datatype=datatype, count=count)
        singles = [await caget(name, datatype=datatype, count=count) for name in names]
        assert [_described(v) for v in values] == [_described(v) for v in singles], count
    await caput('catest', 1.5, wait=True)


async def test_list_caget_ends_when_its_channels_are_cleared():
    # A read libca drops (its channel cleared before the reply came) is answered at once with
    # ECA_CHANDESTROY, not at the timeout. The clear comes right after the reads leave, so most
    # runs clear them in flight; a reply that wins the race is a value. (Not cawavehuge: a
    # circuit cleared while it carries a 32 MB reply takes libca ~10 s to reconnect.)
    names = ['cawave', 'catest', 'calong']
    await connect(names)
    task = asyncio.ensure_future(caget(names, count=-1, timeout=30, throw=False))
    await asyncio.sleep(0)                 # the task issues its reads and waits
    started = time.monotonic()
    aioca.purge_channel_caches()
    results = await asyncio.wait_for(task, 10)
    assert time.monotonic() - started < 5
    for result in results:
        assert result.ok or result.errorcode == ECA.CHANDESTROY, result
    again = await caget(names[1:], timeout=30)
    assert again == [await caget('catest'), await caget('calong')]


async def test_caput_wait_ends_when_its_channel_is_cleared():
    # A write whose channel is cleared before its completion came is answered at once with
    # ECA_CHANDESTROY, as a read is, not at the timeout. The clear comes in the turn the write
    # was issued in, before the turn's flush (white box: caput's own step for one PV, which
    # issues the write within one turn of a connected channel; caput itself may take more
    # turns to get there, by Python version).
    await connect('catest')
    before = await caget('catest')
    task = asyncio.ensure_future(_core._caput_one('catest', before + 1, None, True))
    await asyncio.sleep(0)                 # the task issues its write and waits
    assert not task.done()
    started = time.monotonic()
    aioca.purge_channel_caches()
    with pytest.raises(CANothing) as raised:
        await asyncio.wait_for(task, 10)
    assert time.monotonic() - started < 5
    assert raised.value.errorcode == ECA.CHANDESTROY
    # a new channel writes again (as after the list's purge: libca may have closed the
    # circuit, and a new one can take a search cycle or more)
    assert (await caput('catest', before, wait=True, timeout=30)).ok
    assert await caget('catest', timeout=30) == before


async def test_list_caget_across_ioc_restart(restartable_ioc):
    names = ['catest', 'calong', 'castr']
    assert all(value.ok for value in await caget(names))
    restartable_ioc.stop()
    down = await caget(names, timeout=1, throw=False)
    assert all(isinstance(value, CANothing) and not value.ok for value in down), down
    with pytest.raises(CANothing):
        await caget(names, timeout=1)
    restartable_ioc.start()
    up = await caget(names, timeout=60)    # the channels' new connections, not the old ones
    assert [value.name for value in up] == names and all(value.ok for value in up)
    assert [type(value) for value in up] == [dbr.ca_float, dbr.ca_int, dbr.ca_str]


async def test_absolute_deadline_timeout():
    with pytest.raises(CANothing):
        await caget(MISSING, timeout=(time.time() + 0.3,))
    assert await caget('catest', timeout=(time.time() + 5,)) is not None
    assert await caget('catest', timeout=None) is not None


async def test_format_time():
    await caput('catest', 12.0, wait=True)       # above HIGH 10: MINOR
    value = await caget('catest', format=FORMAT_TIME)
    assert value == 12.0
    assert value.severity == 1 and value.status == 4     # MINOR, HIGH_ALARM
    secs, nsec = value.raw_stamp
    assert abs(secs - time.time()) < 60 and 0 <= nsec < 10**9
    assert value.timestamp == round(secs + nsec * 1e-9, 6)
    assert isinstance(value.datetime, datetime.datetime)
    await caput('catest', 1.5, wait=True)


async def test_format_ctrl_double_and_enum_and_string():
    value = await caget('catest', format=FORMAT_CTRL)
    assert value.units == 'mm' and value.precision == 4
    assert value.upper_disp_limit == 20 and value.lower_disp_limit == -20
    assert value.upper_alarm_limit == 20 and value.lower_alarm_limit == -20
    assert value.upper_warning_limit == 10 and value.lower_warning_limit == -10
    assert value.upper_ctrl_limit == 0 and value.lower_ctrl_limit == 0
    assert value.severity in (0, 1, 2)
    enum = await caget('cabo', format=FORMAT_CTRL)
    assert enum.enums == ['Done', 'Busy'] and isinstance(enum, dbr.ca_int)
    text = await caget('castr', format=FORMAT_CTRL)      # no CTRL for strings: TIME instead
    assert isinstance(text, dbr.ca_str) and hasattr(text, 'timestamp')
    long_value = await caget('calong', format=FORMAT_CTRL)
    assert long_value.upper_disp_limit == 5 and not hasattr(long_value, 'precision')


@pytest.mark.parametrize('datatype, cls, expected', [
    (DBR_STRING, dbr.ca_str, '2.5000'), (DBR_SHORT, dbr.ca_int, 2), (DBR_FLOAT, dbr.ca_float, 2.5),
    (DBR_ENUM, dbr.ca_int, 2), (DBR_CHAR, dbr.ca_int, 2), (DBR_LONG, dbr.ca_int, 2),
    (DBR_DOUBLE, dbr.ca_float, 2.5), (float, dbr.ca_float, 2.5), (int, dbr.ca_int, 2),
    (str, dbr.ca_str, '2.5000'), (numpy.int16, dbr.ca_int, 2), (bytes, dbr.ca_bytes, b'2.5000'),
])
async def test_datatypes(datatype, cls, expected):
    await caput('catest', 2.5, wait=True)
    for format in (FORMAT_RAW, FORMAT_TIME, FORMAT_CTRL):
        value = await caget('catest', datatype=datatype, format=format)
        assert type(value) is cls and value == expected, (datatype, format, value)
    await caput('catest', 1.5, wait=True)


async def test_enum_str_and_special_types():
    await caput('cabo', 1, wait=True)
    assert await caget('cabo', datatype=DBR_ENUM_STR) == 'Busy'
    assert await caget('catest', datatype=DBR_ENUM_STR) == await caget('catest')  # not an enum
    assert await caget('cabo') == 1
    await caput('cabo', 'Done', wait=True)
    assert await caget('cabo') == 0
    assert await caget('catest', datatype=DBR_CLASS_NAME) == 'ao'
    ack = await caget('catest', datatype=DBR_STSACK_STRING)
    assert isinstance(ack, dbr.ca_str) and hasattr(ack, 'ackt') and hasattr(ack, 'acks')


async def test_char_string_pseudo_types():
    await caput('aio:text.VAL$', 'héllo wörld', datatype=DBR_CHAR_STR, wait=True)
    text = await caget('aio:text.VAL$')           # a CHAR array named ...$: text by default
    assert type(text) is dbr.ca_str and text == 'héllo wörld'
    assert await caget('aio:text.VAL$', datatype=DBR_CHAR_STR) == 'héllo wörld'
    assert await caget('aio:text.VAL$', datatype=DBR_CHAR_UNICODE) == 'héllo wörld'
    raw = await caget('aio:text.VAL$', datatype=DBR_CHAR_BYTES)
    assert type(raw) is dbr.ca_bytes and raw == 'héllo wörld'.encode()
    await caput('cawaveuc', 'abc', datatype=DBR_CHAR_STR, wait=True)
    assert await caget('cawaveuc', datatype=DBR_CHAR_STR) == 'abc'
    array = await caget('cawaveuc', count=-1)
    assert isinstance(array, dbr.ca_array) and array.dtype == numpy.uint8
    assert list(array[:3]) == [97, 98, 99]
    assert await caget('aio:text.VAL$', datatype=DBR_CHAR_STR, format=FORMAT_TIME) == 'héllo wörld'


async def test_waveforms_and_count():
    data = numpy.arange(20, dtype=float)
    await caput('cawave', data, wait=True)
    whole = await caget('cawave')
    assert type(whole) is dbr.ca_array and whole.dtype == numpy.float64
    assert numpy.array_equal(whole, data) and whole.name == 'cawave' and whole.ok
    assert whole.element_count == 20
    first = await caget('cawave', count=5)
    assert numpy.array_equal(first, data[:5])
    assert len(await caget('cawave', count=1)) == 1          # still an array
    assert len(await caget('cawave', count=100)) == 20       # at most the native count
    assert len(await caget('cawave', count=-1)) == 20
    await caput('cawave', [1, 2, 3], wait=True)              # NORD 3
    assert numpy.array_equal(await caget('cawave'), [1, 2, 3])   # count 0: current length
    assert len(await caget('cawave', count=-1)) == 20
    timed = await caget('cawave', format=FORMAT_TIME)
    assert hasattr(timed, 'timestamp') and numpy.array_equal(timed, [1, 2, 3])
    assert (await caget('cawave', format=FORMAT_CTRL)).precision == 4
    floats = await caget('cawavef', datatype=DBR_FLOAT, count=3)
    assert floats.dtype == numpy.float32
    await caput('cawaves', ['a', 'bb', 'ccc'], wait=True)
    strings = await caget('cawaves')
    assert isinstance(strings, dbr.ca_array) and list(strings) == ['a', 'bb', 'ccc']
    raw_strings = await caget('cawaves', datatype=bytes)
    assert list(raw_strings) == [b'a', b'bb', b'ccc']


async def test_caput_forms():
    assert (await caput('catest', 3.25)).ok
    assert await caget('catest') == 3.25
    result = await caput(['catest', 'calong'], [4.5, 7], wait=True)
    assert [r.ok for r in result] == [True, True] and all(isinstance(r, CANothing) for r in result)
    assert await caget(['catest', 'calong']) == [4.5, 7]
    await caput(['catest', 'calong'], 2, repeat_value=True, wait=True)
    assert await caget(['catest', 'calong']) == [2, 2]
    await caput(['castr', 'castr'], 'same text', wait=True)      # a str goes to every PV
    assert await caget('castr') == 'same text'
    await caput('calong', 2.7, wait=True)                         # numpy casting, as aioca
    assert await caget('calong') == 2
    await caput('catest', '6.5', wait=True)                       # text: the server converts
    assert await caget('catest') == 6.5
    await caput('catest', 1.5, wait=True)


async def test_caput_missing_and_failures():
    with pytest.raises(CANothing) as raised:
        await caput(MISSING, 1, timeout=0.3)
    assert raised.value.errorcode == ECA.TIMEOUT
    nothing = await caput(MISSING, 1, timeout=0.3, throw=False)
    assert not nothing.ok
    results = await caput(['catest', MISSING], 1.5, timeout=0.3, throw=False)
    assert results[0].ok and not results[1].ok
    with pytest.raises(CANothing) as raised:
        # RTYP cannot be changed: the server refuses the put it was asked to confirm
        await caput('catest.RTYP', 'bo', wait=True)
    assert raised.value.errorcode == ECA.PUTFAIL
    failed = await caput('catest.RTYP', 'bo', wait=True, throw=False)
    assert isinstance(failed, CANothing) and failed.errorcode == ECA.PUTFAIL


async def test_connect_and_cainfo():
    assert (await connect('catest')).ok
    results = await connect(['catest', MISSING], timeout=0.3, throw=False)
    assert results[0].ok and not results[1].ok
    assert (await connect(MISSING + 'x', wait=False)).ok       # queued, not waited for
    info = await cainfo('cawave')
    assert isinstance(info, aioca.CAInfo) and info.ok and info.name == 'cawave'
    assert info.state == 2 and info.read and info.write
    assert info.count == 20 and info.datatype == DBR_DOUBLE
    assert info.host.startswith('127.0.0.1:') or ':' in info.host
    assert 'State: connected' in str(info) and 'Data type: double' in str(info)
    infos = await cainfo(['catest', 'castr'])
    assert [i.datatype for i in infos] == [DBR_DOUBLE, DBR_STRING]
    never = await cainfo(MISSING, wait=False)
    assert never.state == 0 and never.count == 0 and never.datatype == 7
    names = {info.name: info for info in aioca.get_channel_infos()}
    assert names['catest'].connected and not names[MISSING].connected
    assert all(isinstance(i, aioca.ChannelInfo) for i in names.values())


async def test_list_connect_one_timeout_and_no_listener_left():
    import caffi.aio._core as core
    present = ['catest', 'castr', 'calong', 'catest']            # a name twice is fine
    missing = [MISSING + str(i) for i in range(3)]
    with pytest.raises(CANothing) as raised:
        await connect(present + missing, timeout=0.4)
    assert raised.value.name == 'Multiple PVs' and raised.value.errorcode == ECA.TIMEOUT
    started = time.monotonic()
    results = await connect(missing + present, timeout=0.4, throw=False)
    elapsed = time.monotonic() - started
    assert 0.35 < elapsed < 2.0, elapsed                          # one timeout, not one each
    assert [r.errorcode for r in results] == [ECA.TIMEOUT] * 3 + [ECA.NORMAL] * 4
    assert [r.name for r in results] == missing + present
    infos = await cainfo(present[:2] + missing[:1], timeout=0.3, throw=False)
    assert isinstance(infos[0], aioca.CAInfo) and infos[1].datatype == DBR_STRING
    assert isinstance(infos[2], CANothing) and infos[2].errorcode == ECA.TIMEOUT
    queued = await connect([MISSING + 'q1', MISSING + 'q2'], wait=False)
    assert [q.ok for q in queued] == [True, True]
    # a list wait cancelled or timed out leaves nothing on the channels it waited for
    task = asyncio.ensure_future(connect(missing, timeout=None))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    channels = core._Context.cache().channels
    assert all(not channels[name].connect_listeners for name in missing + present)
    # what a channel keeps is kept off the cycle collector's lists where it can be (a list
    # connect of thousands of PVs otherwise spends half its time in collections)
    assert not gc.is_tracked(channels['catest']._watch)


async def test_cancel_a_task_waiting_in_caget():
    task = asyncio.ensure_future(caget(MISSING, timeout=None))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # a cancelled read of a connected PV: its late completion is dropped quietly
    task = asyncio.ensure_future(caget('cawave', count=-1))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.2)
    assert await caget('catest') == 1.5


async def test_exceptions_are_epicscorelibs_classes():
    assert aioca.CANothing is not cadef.CAException
    assert issubclass(CANothing, Exception)
    nothing = CANothing('x', cadef.ECA_DISCONN)
    assert repr(nothing) == "CANothing('x', 192)" and not nothing
    assert CANothing('x').ok and bool(CANothing('x'))


async def test_types_module_matches_aioca_types():
    # aioca.types is how code typed against aioca names its values and arguments
    # (ophyd-async: `from aioca.types import AugmentedValue, Dbr`)
    import typing

    import aioca.types as reference

    import caffi.aio.types as types
    assert set(types.__all__) == {'Timeout', 'Dbe', 'Dbr', 'Datatype', 'Format', 'Count',
                                  'AugmentedValue'}
    for name in types.__all__:
        if name != 'AugmentedValue':
            assert typing.get_args(getattr(types, name)) == \
                typing.get_args(getattr(reference, name)), name
    assert typing.get_type_hints(types.AugmentedValue) == \
        typing.get_type_hints(reference.AugmentedValue)
    # every request type caffi.aio names is a Dbr, and the Literal names no other
    request_types = {getattr(aioca, name) for name in aioca.__all__
                     if name.startswith('DBR_')}
    assert set(typing.get_args(types.Dbr)) == request_types
    assert set(typing.get_args(types.Format)) == {FORMAT_RAW, FORMAT_TIME, FORMAT_CTRL}


async def test_public_names_match_aioca():
    expected = {
        'Subscription', 'caput', 'caget', 'camonitor', 'connect', 'cainfo', 'CAInfo',
        'CANothing', 'ChannelInfo', 'get_channel_infos', 'purge_channel_caches', 'run',
        '__version__', 'DBE_VALUE', 'DBE_LOG', 'DBE_ALARM', 'DBE_PROPERTY', 'DBR_STRING',
        'DBR_SHORT', 'DBR_FLOAT', 'DBR_ENUM', 'DBR_CHAR', 'DBR_LONG', 'DBR_DOUBLE',
        'DBR_CHAR_STR', 'DBR_CHAR_UNICODE', 'DBR_ENUM_STR', 'DBR_CHAR_BYTES', 'DBR_PUT_ACKT',
        'DBR_PUT_ACKS', 'DBR_STSACK_STRING', 'DBR_CLASS_NAME', 'FORMAT_RAW', 'FORMAT_TIME',
        'FORMAT_CTRL', 'ca_extra_fields'}
    assert set(aioca.__all__) == expected
    for name in expected:
        assert getattr(aioca, name) is not None
    assert aioca.DBR_CHAR_STR == dbr.DBR_CHAR_STR and aioca.DBE_VALUE == cadef.DBE_VALUE
