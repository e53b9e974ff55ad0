"""get(), DBRValue and format_dbr against the reference IOC (API.md §6.4, §7, §9, §10.3, §11.7, §12, §14).

The big matrix reads every record of ``RECORDS`` with every request type 0..38,
with and without callback, with use_numpy False and True, and checks the
result's shape (§9.1 - §9.3).  cawavehuge is read with count 3 here; the full
4M-element read lives in test_big_waveform.py.
"""

import gc
import struct
import time

import numpy
import pytest

import caffi.ca as ca
from caffi.constants import ECA, AlarmCondition, AlarmSeverity
from caffi.dbr import DBR, DBRValue, format_dbr

from ca_client_util import Collector, connect, get_callback, get_value, put_wait
from ioc_harness import RECORDS

STRING, SHORT, FLOAT, ENUM, CHAR, LONG, DOUBLE = range(7)
NUMPY_DTYPE = {SHORT: numpy.int16, FLOAT: numpy.float32, ENUM: numpy.uint16,
               CHAR: numpy.uint8, LONG: numpy.int32, DOUBLE: numpy.float64}
INT_RANGE = {SHORT: (-2**15, 2**15 - 1), ENUM: (0, 2**16 - 1), CHAR: (0, 255),
             LONG: (-2**31, 2**31 - 1)}

HUGE_COUNT = 3          # explicit count for cawavehuge in the matrix

# Values set before the tests (put + wait).  castr holds text the server cannot
# convert to a number, so every numeric read of it fails (GETFAIL).
KNOWN_VALUES = [
    ('catest', 1.5),
    ('cabo', 1),
    ('castr', 'abc'),
    ('calong', 3),
    ('cawave', [1, 2, 3]),
    ('cawavec', 'ab'),
    ('cawaveuc', list(range(1, 11))),
    ('cawaves', ['1', '2']),
    ('cawavef', [1.5, 2.5]),
    ('cawaveh', [-1, 2]),
    ('cawavel', [100000, -5]),
]

GR_KEYS = ['status', 'severity', 'units', 'upper_disp_limit', 'lower_disp_limit',
           'upper_alarm_limit', 'upper_warning_limit', 'lower_alarm_limit',
           'lower_warning_limit']
CTRL_LIMIT_KEYS = ['upper_ctrl_limit', 'lower_ctrl_limit']
LIMIT_KEYS = GR_KEYS[3:] + CTRL_LIMIT_KEYS


def expected_keys(t):
    """§9.2 key order for request type t (None: not a dict)."""
    base = t % 7
    if t <= 6 or t in (35, 36, 38):
        return None
    if 7 <= t <= 13 or t in (21, 28):
        return ['status', 'severity', 'value']
    if 14 <= t <= 20:
        return ['status', 'severity', 'stamp', 'value']
    if t == 37:
        return ['status', 'severity', 'ackt', 'acks', 'value']
    if base == ENUM:
        return ['status', 'severity', 'no_str', 'strs', 'value']
    keys = list(GR_KEYS)
    if base in (FLOAT, DOUBLE):
        keys.append('precision')
    if 28 <= t <= 34:
        keys += CTRL_LIMIT_KEYS
    return keys + ['value']


def expected_failure(record, t):
    """Requests the server rejects (GETFAIL): PUT_ACKT/PUT_ACKS reads, castr ('abc') as a number."""
    return t in (35, 36) or (record == 'castr' and t < 35 and t % 7 != STRING)


def check_scalar(base, x, where, allow_bytes=False):
    if base == STRING:
        allowed = (str, bytes) if allow_bytes else (str,)
        assert type(x) in allowed, '%s: %r is %s, not str' % (where, x, type(x).__name__)
    elif base in (FLOAT, DOUBLE):
        assert type(x) is float, '%s: %r is %s, not float' % (where, x, type(x).__name__)
    else:
        assert type(x) is int, '%s: %r is %s, not int' % (where, x, type(x).__name__)
        low, high = INT_RANGE[base]
        assert low <= x <= high, '%s: %r out of range' % (where, x)


def check_value(base, count, value, use_numpy, where='value', allow_bytes=False):
    """§9.1: scalar for count 1, list (or ndarray for numeric types with numpy) otherwise."""
    if count == 1:
        check_scalar(base, value, where, allow_bytes)
        return
    if base != STRING and use_numpy:
        assert isinstance(value, numpy.ndarray), '%s: %r is not an ndarray' % (where, type(value))
        assert value.ndim == 1 and value.shape == (count,), (where, value.shape)
        assert value.dtype == NUMPY_DTYPE[base], (where, value.dtype)
        assert value.flags.writeable and value.flags.owndata, (where, value.flags)
        return
    assert type(value) is list, '%s: %r is not a list' % (where, type(value))
    assert len(value) == count, (where, len(value), count)
    for i, x in enumerate(value):
        check_scalar(base, x, '%s[%d]' % (where, i), allow_bytes)


def check_limit(base, x, key):
    if base in (FLOAT, DOUBLE):
        assert type(x) is float, (key, x)
    else:
        check_scalar(base, x, key)


def check_dbr_result(t, count, value, use_numpy, rtype):
    """Everything §9 says about the formatted result of request type t with count elements."""
    if t in (35, 36):
        assert value is None
        return
    if t == 38:
        if count == 1:
            assert value == rtype and type(value) is str
        else:
            assert type(value) is list and len(value) == count
            assert value[0] == rtype
            for x in value[1:]:     # not filled by the server: unspecified content
                assert type(x) in (str, bytes)
        return
    base = STRING if t == 37 else t % 7
    keys = expected_keys(t)
    if keys is None:
        check_value(base, count, value, use_numpy)
        return
    assert type(value) is dict
    assert list(value) == keys
    assert isinstance(value['status'], AlarmCondition), value['status']
    assert isinstance(value['severity'], AlarmSeverity), value['severity']
    if 'stamp' in value:
        stamp = value['stamp']
        assert type(stamp) is dict
        assert list(stamp) == ['seconds', 'nanoseconds', 'timestamp']
        assert type(stamp['seconds']) is int and stamp['seconds'] >= 631152000
        assert type(stamp['nanoseconds']) is int and 0 <= stamp['nanoseconds'] < 10**9
        assert type(stamp['timestamp']) is float
        assert stamp['timestamp'] == pytest.approx(
            stamp['seconds'] + stamp['nanoseconds'] / 1e9, abs=1e-6)
    if 'units' in value:
        assert type(value['units']) is str
    for key in LIMIT_KEYS:
        if key in value:
            check_limit(base, value[key], key)
    if 'precision' in value:
        assert type(value['precision']) is int
    if 'no_str' in value:
        assert type(value['no_str']) is int
        assert type(value['strs']) is tuple and len(value['strs']) == value['no_str']
        assert all(type(s) is str for s in value['strs'])
    if 'ackt' in value:
        assert type(value['ackt']) is int
        assert isinstance(value['acks'], AlarmSeverity)
    check_value(base, count, value['value'], use_numpy)


# ---------------------------------------------------------------------------
# Fixtures


# every test of this module runs in pytest's thread with a module-wide preemptive context
pytestmark = pytest.mark.usefixtures('context')


@pytest.fixture(scope='module', autouse=True)
def known_values(chans):
    for name, value in KNOWN_VALUES:
        put_wait(chans[name], value)


@pytest.fixture(scope='module')
def exceptions(context):
    """Collect libca exception reports (failed reads) instead of printing them."""
    collector = Collector()
    assert ca.add_exception_event(collector) == ECA.NORMAL
    yield collector
    ca.add_exception_event(None)


# ---------------------------------------------------------------------------
# The matrix: every record x every request type x callback x use_numpy


@pytest.mark.parametrize('use_numpy', [False, True], ids=['list', 'numpy'])
@pytest.mark.parametrize('t', range(39), ids=lambda t: DBR(t).name)
@pytest.mark.parametrize('record', list(RECORDS))
def test_get_without_callback_matrix(chans, exceptions, record, t, use_numpy):
    rec = RECORDS[record]
    count = HUGE_COUNT if record == 'cawavehuge' else None
    expected_count = HUGE_COUNT if record == 'cawavehuge' else rec.count
    chid = chans[record]
    status, dbrvalue = ca.get(chid, t, count, use_numpy=use_numpy)
    assert status == ECA.NORMAL and isinstance(status, ECA)
    assert isinstance(dbrvalue, DBRValue)
    assert dbrvalue.dbrtype == t
    assert dbrvalue.count == expected_count
    assert bool(dbrvalue.use_numpy) == use_numpy
    if expected_failure(record, t):
        ca.pend_io(0.1)         # the failed read never completes: do not wait long
    else:
        assert ca.pend_io(5.0) == ECA.NORMAL
    check_dbr_result(t, expected_count, dbrvalue.get(), use_numpy, rec.rtype)


@pytest.mark.parametrize('use_numpy', [False, True], ids=['list', 'numpy'])
@pytest.mark.parametrize('t', range(39), ids=lambda t: DBR(t).name)
@pytest.mark.parametrize('record', list(RECORDS))
def test_get_with_callback_matrix(chans, exceptions, record, t, use_numpy):
    rec = RECORDS[record]
    count = HUGE_COUNT if record == 'cawavehuge' else None
    expected_count = HUGE_COUNT if record == 'cawavehuge' else rec.count
    chid = chans[record]
    done = Collector()
    status, none = ca.get(chid, t, count, callback=done, use_numpy=use_numpy)
    assert status == ECA.NORMAL and isinstance(status, ECA)
    assert none is None
    ca.flush_io()
    assert done.wait(1, 5.0), 'read callback not delivered'
    assert len(done) == 1
    result = done.items[0]
    assert type(result) is dict
    assert list(result) == ['chid', 'type', 'count', 'status', 'value']
    assert result['chid'] == chid
    assert isinstance(result['type'], DBR) and result['type'] == t
    assert type(result['count']) is int and result['count'] == expected_count
    assert isinstance(result['status'], ECA)
    if expected_failure(record, t):
        assert result['status'] != ECA.NORMAL
    else:
        assert result['status'] == ECA.NORMAL
    if result['status'] != ECA.NORMAL:
        assert result['value'] is None
    else:
        check_dbr_result(t, expected_count, result['value'], use_numpy, rec.rtype)


# ---------------------------------------------------------------------------
# §9.4 examples


CATEST_EXAMPLES = [
    (DBR.DOUBLE, 1.5),
    (DBR.STRING, '1.5000'),
    (DBR.CHAR, 1),
    (DBR.ENUM, 1),
    (DBR.SHORT, 1),
    (DBR.STS_DOUBLE, {'status': AlarmCondition.No, 'severity': AlarmSeverity.No, 'value': 1.5}),
    (DBR.GR_FLOAT, {'status': AlarmCondition.No, 'severity': AlarmSeverity.No, 'units': 'mm',
                    'upper_disp_limit': 20.0, 'lower_disp_limit': -20.0,
                    'upper_alarm_limit': 20.0, 'upper_warning_limit': 10.0,
                    'lower_alarm_limit': -20.0, 'lower_warning_limit': -10.0,
                    'precision': 4, 'value': 1.5}),
    (DBR.CTRL_CHAR, {'status': AlarmCondition.No, 'severity': AlarmSeverity.No, 'units': 'mm',
                     'upper_disp_limit': 20, 'lower_disp_limit': 236, 'upper_alarm_limit': 20,
                     'upper_warning_limit': 10, 'lower_alarm_limit': 236,
                     'lower_warning_limit': 246, 'upper_ctrl_limit': 0, 'lower_ctrl_limit': 0,
                     'value': 1}),
    (DBR.CTRL_ENUM, {'status': AlarmCondition.No, 'severity': AlarmSeverity.No,
                     'no_str': 0, 'strs': (), 'value': 1}),
    (DBR.CLASS_NAME, 'ao'),
]

CABO_EXAMPLES = [
    (DBR.ENUM, 1),
    (DBR.STRING, 'Busy'),
    (DBR.CTRL_ENUM, {'status': AlarmCondition.State, 'severity': AlarmSeverity.Minor,
                     'no_str': 2, 'strs': ('Done', 'Busy'), 'value': 1}),
]


def read_both_ways(chid, t, count=None, use_numpy=False):
    """The value read without and with callback (asserting both succeeded)."""
    plain = get_value(chid, t, count, use_numpy)
    result = get_callback(chid, t, count, use_numpy)
    assert result['status'] == ECA.NORMAL
    return plain, result['value']


def assert_same(actual, expected):
    """Equal, with the same Python types and the same dict key order."""
    assert actual == expected
    assert type(actual) is type(expected)
    if isinstance(expected, dict):
        assert list(actual.items()) == list(expected.items())
        for key in expected:
            assert type(actual[key]) is type(expected[key]), key


def assert_examples(chid, written, t, expected):
    """After writing *written*, a read of type t gives exactly *expected*, with and without
    callback."""
    put_wait(chid, written)
    for value in read_both_ways(chid, t):
        assert_same(value, expected)


@pytest.mark.parametrize('t, expected', CATEST_EXAMPLES, ids=[t.name for t, _ in CATEST_EXAMPLES])
def test_ao_examples(chans, t, expected):
    assert_examples(chans['catest'], 1.5, t, expected)


def test_ao_time_and_stsack_examples(chans):
    chid = chans['catest']
    put_wait(chid, 1.5)
    for value in read_both_ways(chid, DBR.TIME_LONG):
        assert list(value) == ['status', 'severity', 'stamp', 'value']
        assert value['value'] == 1 and type(value['value']) is int
        assert value['stamp']['seconds'] > 631152000
        assert abs(value['stamp']['timestamp'] - time.time()) < 3600
    for value in read_both_ways(chid, DBR.STSACK_STRING):
        assert list(value) == ['status', 'severity', 'ackt', 'acks', 'value']
        assert value['ackt'] == 1 and type(value['ackt']) is int
        assert isinstance(value['acks'], AlarmSeverity)
        assert value['value'] == '1.5000'


@pytest.mark.parametrize('t, expected', CABO_EXAMPLES, ids=[t.name for t, _ in CABO_EXAMPLES])
def test_bo_examples(chans, t, expected):
    assert_examples(chans['cabo'], 1, t, expected)


def test_waveform_examples(chans):
    chid = chans['cawave']
    put_wait(chid, [1, 2, 3])
    for value in read_both_ways(chid, DBR.DOUBLE, 4):
        assert_same(value, [1.0, 2.0, 3.0, 0.0])
    for value in read_both_ways(chid, DBR.STRING, 4):
        assert_same(value, ['1.0000', '2.0000', '3.0000', ''])
    for value in read_both_ways(chid, DBR.DOUBLE, 4, use_numpy=True):
        assert isinstance(value, numpy.ndarray) and value.dtype == numpy.float64
        assert numpy.array_equal(value, numpy.array([1., 2., 3., 0.]))
    for value in read_both_ways(chid, DBR.STRING, 4, use_numpy=True):
        assert_same(value, ['1.0000', '2.0000', '3.0000', ''])     # strings: always a list


def test_char_waveform_examples(chans):
    chid = chans['cawavec']
    put_wait(chid, 'ab')
    for value in read_both_ways(chid, DBR.CHAR, 4):
        assert_same(value, [97, 98, 0, 0])
    for value in read_both_ways(chid, DBR.CHAR, 4, use_numpy=True):
        assert isinstance(value, numpy.ndarray) and value.dtype == numpy.uint8
        assert numpy.array_equal(value, numpy.array([97, 98, 0, 0], dtype=numpy.uint8))


def test_count_one_is_scalar_with_numpy(chans):
    chid = chans['cawave']
    put_wait(chid, [7, 8, 9])
    for value in read_both_ways(chid, DBR.DOUBLE, 1, use_numpy=True):
        assert_same(value, 7.0)
    for value in read_both_ways(chid, DBR.TIME_DOUBLE, 1, use_numpy=True):
        assert_same(value['value'], 7.0)
    # a dynamic array currently holding one element, read with count 0
    put_wait(chid, [4.5])
    result = get_callback(chid, DBR.DOUBLE, 0, use_numpy=True)
    assert result['count'] == 1
    assert_same(result['value'], 4.5)
    put_wait(chid, [1, 2, 3])


# ---------------------------------------------------------------------------
# get() return forms and DBRValue


def test_get_without_callback_returns_dbrvalue(chans):
    chid = chans['catest']
    put_wait(chid, 1.5)
    status, dbrvalue = ca.get(chid, DBR.TIME_DOUBLE)
    assert status == ECA.NORMAL and isinstance(status, ECA)
    assert isinstance(dbrvalue, DBRValue)
    assert dbrvalue.dbrtype == DBR.TIME_DOUBLE
    assert dbrvalue.count == 1
    assert ca.pend_io(5.0) == ECA.NORMAL
    value = dbrvalue.get()
    assert value['value'] == 1.5
    assert value['stamp']['seconds'] > 631152000


def test_get_native_type_and_count(chans):
    chid = chans['cawave']
    put_wait(chid, [1, 2, 3])
    status, dbrvalue = ca.get(chid)
    assert status == ECA.NORMAL
    assert dbrvalue.dbrtype == DBR.DOUBLE
    assert dbrvalue.count == 20
    assert ca.pend_io(5.0) == ECA.NORMAL
    assert dbrvalue.get() == [1.0, 2.0, 3.0] + [0.0] * 17


def test_get_with_callback_returns_none(chans):
    chid = chans['catest']
    put_wait(chid, 1.5)
    done = Collector()
    status, none = ca.get(chid, callback=done)
    assert status == ECA.NORMAL and isinstance(status, ECA)
    assert none is None
    ca.flush_io()
    assert done.wait(1)
    result = done.items[0]
    assert list(result) == ['chid', 'type', 'count', 'status', 'value']
    assert result['chid'] == chid
    assert result['type'] == DBR.DOUBLE and isinstance(result['type'], DBR)
    assert result['count'] == 1
    assert result['status'] == ECA.NORMAL
    assert result['value'] == 1.5
    time.sleep(0.2)
    assert len(done) == 1       # one-shot


def test_dbrvalue_get_returns_new_objects(chans):
    chid = chans['cawave']
    put_wait(chid, [1, 2, 3])
    for t in (DBR.DOUBLE, DBR.CTRL_DOUBLE, DBR.STRING):
        status, dbrvalue = ca.get(chid, t, 5)
        assert ca.pend_io(5.0) == ECA.NORMAL
        first, second = dbrvalue.get(), dbrvalue.get()
        assert repr(first) == repr(second)      # (NaN limits: compare the text)
        assert first is not second
        if isinstance(first, dict):
            assert first['value'] is not second['value']
            first['value'][0] = 'changed'
            assert dbrvalue.get()['value'][0] != 'changed'
        else:
            first[0] = 'changed'
            assert dbrvalue.get()[0] != 'changed'
    status, dbrvalue = ca.get(chid, DBR.DOUBLE, 5, use_numpy=True)
    assert ca.pend_io(5.0) == ECA.NORMAL
    first, second = dbrvalue.get(), dbrvalue.get()
    assert first is not second
    first[0] = 99.0
    assert dbrvalue.get()[0] == 1.0


def test_dbrvalue_use_numpy_writable(chans):
    chid = chans['cawave']
    put_wait(chid, [1, 2, 3])
    status, dbrvalue = ca.get(chid, DBR.DOUBLE, 4)
    assert ca.pend_io(5.0) == ECA.NORMAL
    assert not dbrvalue.use_numpy
    assert dbrvalue.get() == [1.0, 2.0, 3.0, 0.0]
    dbrvalue.use_numpy = True
    assert dbrvalue.use_numpy
    value = dbrvalue.get()
    assert isinstance(value, numpy.ndarray) and value.dtype == numpy.float64
    assert numpy.array_equal(value, [1.0, 2.0, 3.0, 0.0])
    dbrvalue.use_numpy = False
    assert type(dbrvalue.get()) is list

    status, dbrvalue = ca.get(chid, DBR.TIME_SHORT, 4, use_numpy=True)
    assert ca.pend_io(5.0) == ECA.NORMAL
    assert dbrvalue.use_numpy
    assert dbrvalue.get()['value'].dtype == numpy.int16
    dbrvalue.use_numpy = False
    assert dbrvalue.get()['value'] == [1, 2, 3, 0]


def test_dbrvalue_before_completion_is_zero_filled(chans):
    chid = chans['catest']
    put_wait(chid, 1.5)
    status, dbrvalue = ca.get(chid, DBR.TIME_DOUBLE)
    assert status == ECA.NORMAL
    before = dbrvalue.get()     # not flushed yet: libca cannot have written the buffer
    assert before['value'] == 0.0
    assert before['status'] == AlarmCondition.No and before['severity'] == AlarmSeverity.No
    assert before['stamp'] == {'seconds': 631152000, 'nanoseconds': 0, 'timestamp': 631152000.0}
    assert ca.pend_io(5.0) == ECA.NORMAL
    assert dbrvalue.get()['value'] == 1.5


@pytest.mark.parametrize('chtype', [39, 40, 100, -2, -100, 2**31])
def test_get_bad_type(chans, chtype):
    chid = chans['catest']
    assert ca.get(chid, chtype) == (ECA.BADTYPE, None)
    status = ca.get(chid, chtype, callback=Collector())
    assert status == (ECA.BADTYPE, None)
    assert isinstance(status[0], ECA)
    # libca was not called, so the next pend_io has nothing to wait for
    start = time.monotonic()
    assert ca.pend_io(3.0) == ECA.NORMAL
    assert time.monotonic() - start < 1.0


def test_get_invalid_type(chans):
    chid = chans['catest']
    assert ca.get(chid, DBR.INVALID) == (ECA.BADTYPE, None)
    assert ca.get(chid, -1, callback=Collector()) == (ECA.BADTYPE, None)
    start = time.monotonic()
    assert ca.pend_io(3.0) == ECA.NORMAL
    assert time.monotonic() - start < 1.0


def test_get_disconnected_channel(context):
    status, chid = ca.create_channel('caffi:test:no-such-record')
    assert status == ECA.NORMAL
    try:
        assert ca.pend_io(0.2) == ECA.TIMEOUT
        # native type unknown
        assert ca.get(chid) == (ECA.BADTYPE, None)
        assert ca.get(chid, callback=Collector()) == (ECA.BADTYPE, None)
        # explicit type: libca is called and reports the failure
        status, dbrvalue = ca.get(chid, DBR.DOUBLE)
        assert status == ECA.BADCOUNT
        assert isinstance(dbrvalue, DBRValue)
        done = Collector()
        assert ca.get(chid, DBR.DOUBLE, callback=done) == (ECA.DISCONN, None)
        assert ca.pend_io(1.0) == ECA.NORMAL
        time.sleep(0.2)
        assert len(done) == 0
    finally:
        assert ca.clear_channel(chid) == ECA.NORMAL


def test_get_cleared_channel(context):
    chid = connect('catest')
    assert ca.clear_channel(chid) == ECA.NORMAL
    assert ca.get(chid) == (ECA.BADCHID, None)
    assert ca.get(chid, DBR.DOUBLE) == (ECA.BADCHID, None)
    assert ca.get(chid, DBR.DOUBLE, callback=Collector()) == (ECA.BADCHID, None)
    assert ca.get(None) == (ECA.BADCHID, None)
    assert ca.get(None, DBR.DOUBLE, callback=Collector()) == (ECA.BADCHID, None)
    assert ca.pend_io(1.0) == ECA.NORMAL


def test_ctype_alias(chans):
    chid = chans['catest']
    put_wait(chid, 1.5)
    status, dbrvalue = ca.get(chid, ctype=DBR.STRING)
    assert status == ECA.NORMAL
    assert ca.pend_io(5.0) == ECA.NORMAL
    assert dbrvalue.get() == '1.5000'
    done = Collector()
    assert ca.get(chid, ctype=DBR.STS_DOUBLE, callback=done) == (ECA.NORMAL, None)
    ca.flush_io()
    assert done.wait(1)
    assert done.items[0]['type'] == DBR.STS_DOUBLE
    assert done.items[0]['value']['value'] == 1.5
    with pytest.raises(TypeError):
        ca.get(chid, DBR.STRING, ctype=DBR.STRING)
    with pytest.raises(TypeError):
        ca.get(chid, chtype=DBR.DOUBLE, ctype=DBR.STRING, callback=Collector())
    assert ca.pend_io(1.0) == ECA.NORMAL


# §7: (count, count resolved without callback, count delivered to a callback)
# for cawave (native 20) currently holding 3 elements.
COUNT_RULES = [
    (None, 20, 20),
    (-1, 20, 20),
    (-100, 20, 20),
    (0, 20, 3),
    (1, 1, 1),
    (5, 5, 5),
    (20, 20, 20),
    (21, 20, 20),
    (1000, 20, 20),
    (numpy.int32(5), 5, 5),
    (numpy.int64(0), 20, 3),
]


@pytest.mark.parametrize('count, plain_count, callback_count', COUNT_RULES,
                         ids=[repr(c[0]) for c in COUNT_RULES])
def test_count_rules(chans, count, plain_count, callback_count):
    chid = chans['cawave']
    put_wait(chid, [1, 2, 3])
    status, dbrvalue = ca.get(chid, DBR.DOUBLE, count)
    assert status == ECA.NORMAL
    assert dbrvalue.count == plain_count
    assert ca.pend_io(5.0) == ECA.NORMAL
    expected = ([1.0, 2.0, 3.0] + [0.0] * 17)[:plain_count]
    assert dbrvalue.get() == (expected[0] if plain_count == 1 else expected)
    result = get_callback(chid, DBR.DOUBLE, count)
    assert result['count'] == callback_count
    expected = ([1.0, 2.0, 3.0] + [0.0] * 17)[:callback_count]
    assert result['value'] == (expected[0] if callback_count == 1 else expected)


def test_count_zero_callback_delivers_current_length(chans):
    chid = chans['cawavel']
    put_wait(chid, [5, 6, 7, 8, 9])
    result = get_callback(chid, None, 0)
    assert result['count'] == 5
    assert result['value'] == [5, 6, 7, 8, 9]
    result = get_callback(chid, DBR.TIME_LONG, 0, use_numpy=True)
    assert result['count'] == 5
    assert numpy.array_equal(result['value']['value'], [5, 6, 7, 8, 9])
    put_wait(chid, [100000, -5])


@pytest.mark.parametrize('count', [1.0, 2.5, '3', b'3', [1], (), object()],
                         ids=['1.0', '2.5', 'str', 'bytes', 'list', 'tuple', 'object'])
def test_count_wrong_type(chans, count):
    chid = chans['cawave']
    with pytest.raises(TypeError):
        ca.get(chid, DBR.DOUBLE, count)
    with pytest.raises(TypeError):
        ca.get(chid, DBR.DOUBLE, count, callback=Collector())
    assert ca.pend_io(1.0) == ECA.NORMAL


def test_dropped_dbrvalue_before_pend_io(chans):
    for name, t in (('cawave', DBR.CTRL_DOUBLE), ('cawaveuc', DBR.TIME_CHAR),
                    ('cawaves', DBR.STRING), ('catest', DBR.TIME_DOUBLE)):
        for _ in range(5):
            status, dbrvalue = ca.get(chans[name], t)
            assert status == ECA.NORMAL
            del dbrvalue
    gc.collect()
    # garbage that may reuse freed memory
    junk = [bytearray(b'\xaa' * 4096) for _ in range(200)]
    assert ca.pend_io(5.0) == ECA.NORMAL
    del junk
    gc.collect()
    # the context still works
    assert get_value(chans['catest'], DBR.DOUBLE) == 1.5


# ---------------------------------------------------------------------------
# format_dbr


def _padded(text, size=40):
    return text.ljust(size, b'\0')


FORMAT_CASES = [
    # (type, count, raw bytes, expected with use_numpy False)
    (DBR.DOUBLE, 3, struct.pack('=3d', 1.0, 2.5, -3.0), [1.0, 2.5, -3.0]),
    (DBR.DOUBLE, 1, struct.pack('=d', 1.5), 1.5),
    (DBR.SHORT, 3, struct.pack('=3h', -1, 2, 3), [-1, 2, 3]),
    (DBR.LONG, 2, struct.pack('=2i', -100000, 7), [-100000, 7]),
    (DBR.CHAR, 4, bytes([97, 98, 0, 255]), [97, 98, 0, 255]),
    (DBR.ENUM, 2, struct.pack('=2H', 1, 65535), [1, 65535]),
    (DBR.FLOAT, 2, struct.pack('=2f', 1.1, 2.0), [struct.unpack('=f', struct.pack('=f', 1.1))[0], 2.0]),
    (DBR.STRING, 2, _padded(b'abc') + _padded(b'x' * 40), ['abc', 'x' * 40]),
    (DBR.STS_DOUBLE, 1, struct.pack('=hhid', 4, 1, 0, 12.5),
     {'status': AlarmCondition.High, 'severity': AlarmSeverity.Minor, 'value': 12.5}),
    (DBR.TIME_DOUBLE, 2, struct.pack('=hhIIidd', 0, 0, 100, 500000000, 0, 1.0, 2.0),
     {'status': AlarmCondition.No, 'severity': AlarmSeverity.No,
      'stamp': {'seconds': 631152100, 'nanoseconds': 500000000, 'timestamp': 631152100.5},
      'value': [1.0, 2.0]}),
    (DBR.CLASS_NAME, 1, _padded(b'ao'), 'ao'),
]


@pytest.mark.parametrize('wrap', [bytes, bytearray, memoryview,
                                  lambda b: numpy.frombuffer(b, dtype=numpy.uint8).copy()],
                         ids=['bytes', 'bytearray', 'memoryview', 'ndarray'])
@pytest.mark.parametrize('t, count, raw, expected', FORMAT_CASES,
                         ids=['%s-%d' % (c[0].name, c[1]) for c in FORMAT_CASES])
def test_format_dbr(t, count, raw, expected, wrap):
    value = format_dbr(t, count, wrap(raw), False)
    assert_same(value, expected)
    check_dbr_result(int(t), count, value, False, 'ao')
    with_numpy = format_dbr(t, count, wrap(raw), True)
    check_dbr_result(int(t), count, with_numpy, True, 'ao')


def test_format_dbr_numpy_values():
    raw = struct.pack('=3d', 1.0, 2.5, -3.0)
    value = format_dbr(DBR.DOUBLE, 3, raw, True)
    assert isinstance(value, numpy.ndarray) and value.dtype == numpy.float64
    assert numpy.array_equal(value, [1.0, 2.5, -3.0])
    # a float64 ndarray is just a buffer of the right bytes
    value = format_dbr(DBR.DOUBLE, 3, numpy.array([1.0, 2.5, -3.0]), False)
    assert value == [1.0, 2.5, -3.0]
    value = format_dbr(DBR.CHAR, 3, bytes([1, 2, 255]), True)
    assert value.dtype == numpy.uint8 and list(value) == [1, 2, 255]


@pytest.mark.parametrize('t, count', [(DBR.DOUBLE, 3), (DBR.STRING, 1), (DBR.STS_DOUBLE, 1),
                                      (DBR.CTRL_DOUBLE, 2), (DBR.TIME_CHAR, 10)])
def test_format_dbr_short_buffer(t, count):
    size = ca.dbr_size_n(t, count)
    with pytest.raises(ValueError):
        format_dbr(t, count, bytes(size - 1), False)
    format_dbr(t, count, bytes(size), False)      # exactly large enough is fine


def test_format_dbr_none_and_unknown_types():
    assert format_dbr(DBR.DOUBLE, 1, None, False) is None
    raw = bytes(64)
    for t in (DBR.INVALID, DBR.PUT_ACKT, DBR.PUT_ACKS, 39, 100):
        assert format_dbr(t, 1, raw, False) is None


def test_dbrvalue_without_buffer():
    assert DBRValue(DBR.DOUBLE, 2, None, False).get() is None
    assert DBRValue().get() is None


# ---------------------------------------------------------------------------
# Text that is not UTF-8


def test_non_utf8_text_comes_back_as_bytes(chans):
    chid = chans['castr']
    try:
        put_wait(chid, b'\xff\xfe')
        assert get_value(chid) == b'\xff\xfe'
        assert get_value(chid, DBR.STRING) == b'\xff\xfe'
        assert get_value(chid, DBR.TIME_STRING)['value'] == b'\xff\xfe'
        result = get_callback(chid, DBR.STS_STRING)
        assert result['status'] == ECA.NORMAL
        assert result['value']['value'] == b'\xff\xfe'
        assert get_callback(chid)['value'] == b'\xff\xfe'
        # valid UTF-8 comes back as str
        put_wait(chid, 'h\u00e9')
        assert get_value(chid) == 'h\u00e9'
    finally:
        put_wait(chid, 'abc')


def test_non_utf8_in_string_waveform(chans):
    chid = chans['cawaves']
    try:
        put_wait(chid, [b'ok', b'\xff', 'fine'])
        value = get_value(chid, DBR.STRING, 3)
        assert value == ['ok', b'\xff', 'fine']
    finally:
        put_wait(chid, ['1', '2'])
