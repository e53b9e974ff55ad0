"""put() against the reference IOC (API.md §6.5, §7, §8, §10.4, §12, §14 array-like writes).

Every value written is read back with a get (callback, count 0 = the server's
current length, unless a row says otherwise).
"""

import array
import decimal
import fractions
import math
import time

import numpy
import pytest

import caffi.ca as ca
from caffi.constants import ECA, CA_OP, AlarmSeverity
from caffi.dbr import DBR

from ca_client_util import Collector, get_callback, get_value, put_wait, read_back


# every test of this module runs in pytest's thread with a module-wide preemptive context
pytestmark = pytest.mark.usefixtures('context')


def put_ok(chid, value, chtype=None, count=None):
    """Plain put (no callback) that must return NORMAL.

    A later read on the same circuit is answered after the server processed the put.
    """
    status = ca.put(chid, value, chtype, count)
    assert status == ECA.NORMAL and isinstance(status, ECA), status
    ca.flush_io()


def assert_float_list(actual, expected):
    assert type(actual) is list and len(actual) == len(expected), actual
    for a, e in zip(actual, expected):
        assert type(a) is float
        assert a == pytest.approx(e)


# ---------------------------------------------------------------------------
# §8 reference outcomes


@pytest.mark.parametrize('value, expected', [(1.23, 1.23), ('1.23', 1.23), (True, 1.0)],
                         ids=['float', 'text', 'bool'])
def test_double_scalar(chans, value, expected):
    chid = chans['catest']
    put_wait(chid, -7.0)
    put_ok(chid, value)
    result = read_back(chid)
    assert type(result) is float and result == pytest.approx(expected)


def test_double_scalar_from_list_writes_first_element(chans):
    chid = chans['catest']
    put_wait(chid, -7.0)
    put_ok(chid, [1, 2, 3, 4])
    assert read_back(chid) == 1.0


def test_double_scalar_bad_text(chans):
    chid = chans['catest']
    put_wait(chid, -7.0)
    with pytest.raises(ValueError):
        ca.put(chid, 'abc')
    assert read_back(chid) == -7.0


def test_double_waveform_scalar(chans):
    chid = chans['cawave']
    put_wait(chid, [9, 9, 9, 9])
    put_ok(chid, 1)
    result = get_callback(chid, None, 0)
    assert result['count'] == 1 and result['value'] == 1.0
    assert get_value(chid, None, 3) == [1.0, 0.0, 0.0]


def test_double_waveform_text(chans):
    chid = chans['cawave']
    put_wait(chid, [9, 9, 9, 9])
    put_ok(chid, '1.23')
    result = get_callback(chid, None, 0)
    assert result['count'] == 1 and result['value'] == pytest.approx(1.23)


def test_double_waveform_count_above_native(chans):
    chid = chans['cawave']
    put_wait(chid, [9])
    put_ok(chid, [float(i) for i in range(20)], count=22)
    result = get_callback(chid, None, 0)
    assert result['count'] == 20
    assert result['value'] == [float(i) for i in range(20)]
    put_ok(chid, [0.0] * 20, count=22)
    result = get_callback(chid, None, 0)
    assert result['count'] == 20 and result['value'] == [0.0] * 20


def test_long(chans):
    chid = chans['calong']
    put_wait(chid, 0)
    put_ok(chid, 2)
    assert read_back(chid) == 2
    with pytest.raises(TypeError):
        ca.put(chid, 2.7)
    with pytest.raises(TypeError):
        ca.put(chid, '12')
    assert read_back(chid) == 2


def test_short_overflow(chans):
    chid = chans['cawaveh']
    put_wait(chid, [5])
    with pytest.raises(OverflowError):
        ca.put(chid, 70000)
    with pytest.raises(OverflowError):
        ca.put(chid, [1, 70000])
    assert read_back(chid) == 5


@pytest.mark.parametrize('chtype', [None, DBR.STRING], ids=['native', 'STRING'])
def test_enum_by_name(chans, chtype):
    chid = chans['cabo']
    put_wait(chid, 0)
    put_ok(chid, 'Busy', chtype)
    assert read_back(chid) == 1
    assert read_back(chid, DBR.STRING) == 'Busy'
    put_ok(chid, b'Done', chtype)
    assert read_back(chid) == 0


def test_enum_by_index(chans):
    chid = chans['cabo']
    put_wait(chid, 0)
    put_ok(chid, 1)
    assert read_back(chid) == 1
    put_wait(chid, 0)
    with pytest.raises(TypeError):
        ca.put(chid, 1.0)
    with pytest.raises(TypeError):
        ca.put(chid, ['Busy'])
    assert read_back(chid) == 0


def test_enum_unknown_state(chans, exceptions):
    chid = chans['cabo']
    put_wait(chid, 1)
    status = ca.put(chid, 'NoSuchState')
    assert status == ECA.NORMAL
    ca.flush_io()
    assert exceptions.wait(1), 'no exception report for the rejected put'
    report = exceptions.items[0]
    assert list(report) == ['chid', 'type', 'count', 'addr', 'stat', 'op', 'ctx', 'file', 'lineNo']
    assert report['stat'] == ECA.PUTFAIL
    assert report['op'] == CA_OP.PUT
    assert report['chid'] == chid
    assert report['type'] == DBR.STRING
    assert read_back(chid) == 1


@pytest.mark.parametrize('value, count, expected', [
    ('1.23', None, [49, 46, 50, 51, 0]),
    ('abcdefgh', None, [97, 98, 99, 100, 101]),
    ('1234', 3, [49, 50, 51]),
    ([1, 2, 3], None, [1, 2, 3]),
    (b'ab', None, [97, 98, 0]),
], ids=['text', 'truncated', 'count3', 'list', 'bytes'])
def test_char_waveform(chans, value, count, expected):
    chid = chans['cawavec']
    put_wait(chid, [7, 7, 7, 7, 7])
    put_ok(chid, value, count=count)
    result = get_callback(chid, None, 0)
    assert result['count'] == len(expected)
    assert result['value'] == expected


def test_string_waveform(chans):
    chid = chans['cawaves']
    put_ok(chid, ['1', '2', '3', '4'])
    assert read_back(chid) == ['1', '2', '3']
    put_ok(chid, '1')
    assert get_value(chid, None, 3) == ['1', '', '']
    assert get_callback(chid, None, 0)['count'] == 1
    put_ok(chid, ['a', 'b', 'c'])
    put_ok(chid, ['1', '2', '3'], DBR.STRING, 1)
    assert read_back(chid) == '1'
    assert get_value(chid, None, 3) == ['1', '', '']


def test_string_from_one_element_list(chans):
    chid = chans['castr']
    put_wait(chid, 'before')
    put_ok(chid, ['a'])
    assert read_back(chid) == 'a'
    put_ok(chid, (b'tuple',))
    assert read_back(chid) == 'tuple'


def test_string_too_long(chans):
    chid = chans['castr']
    put_wait(chid, 'before')
    assert ca.put(chid, 'x' * 40) == ECA.BADSTR
    assert ca.put(chid, 'x' * 41) == ECA.BADSTR
    assert ca.put(chid, b'x' * 100) == ECA.BADSTR
    assert ca.put(chid, '\u00e9' * 20) == ECA.BADSTR      # 20 characters, 40 bytes
    assert ca.put(chid, ['x' * 40]) == ECA.BADSTR
    assert read_back(chid) == 'before'
    put_ok(chid, 'y' * 39)
    assert read_back(chid) == 'y' * 39
    put_ok(chid, '\u00e9' * 19)
    assert read_back(chid) == '\u00e9' * 19


def test_enum_text_too_long(chans):
    chid = chans['cabo']
    assert ca.put(chid, 'x' * 41) == ECA.BADSTR
    assert ca.put(chid, 'x' * 40) == ECA.BADSTR


def test_string_from_number(chans):
    chid = chans['castr']
    with pytest.raises(TypeError):
        ca.put(chid, 1.5)
    with pytest.raises(TypeError):
        ca.put(chid, 1)
    with pytest.raises(TypeError):
        ca.put(chid, [1])
    with pytest.raises(TypeError):
        ca.put(chans['cawaves'], ['a', 2])


def test_non_writable_type(chans):
    chid = chans['catest']
    for t in [DBR.STS_DOUBLE, DBR.TIME_DOUBLE, DBR.GR_DOUBLE, DBR.CTRL_DOUBLE, DBR.STS_STRING,
              DBR.TIME_STRING, DBR.CTRL_STRING, DBR.STSACK_STRING, DBR.CLASS_NAME, DBR.INVALID,
              39, 100, -2]:
        assert ca.put(chid, 1.0, t) == ECA.BADTYPE, t
        assert ca.put(chid, 1.0, t, callback=Collector()) == ECA.BADTYPE, t


@pytest.mark.parametrize('record', ['catest', 'castr', 'cabo', 'calong', 'cawave', 'cawavec', 'cawaves'])
@pytest.mark.parametrize('value', [None, {}, {'a': 1}, object(), {1, 2}],
                         ids=['None', 'emptydict', 'dict', 'object', 'set'])
def test_unsupported_value(chans, record, value):
    assert ca.put(chans[record], value) == ECA.BADTYPE
    assert ca.put(chans[record], value, callback=Collector()) == ECA.BADTYPE


def test_disconnected(context):
    status, chid = ca.create_channel('caffi:test:no-such-record')
    assert status == ECA.NORMAL
    try:
        assert ca.pend_io(0.2) == ECA.TIMEOUT
        assert ca.put(chid, 1.0) == ECA.BADTYPE
        assert ca.put(chid, 1.0, callback=Collector()) == ECA.BADTYPE
        assert ca.put(chid, 1.0, DBR.DOUBLE) == ECA.DISCONN
        assert ca.put(chid, 1.0, DBR.DOUBLE, callback=Collector()) == ECA.DISCONN
    finally:
        ca.clear_channel(chid)


def test_cleared_channel(context):
    status, chid = ca.create_channel('catest')
    ca.pend_io(5.0)
    assert ca.clear_channel(chid) == ECA.NORMAL
    assert ca.put(chid, 1.0) == ECA.BADCHID
    assert ca.put(chid, 1.0, DBR.DOUBLE, callback=Collector()) == ECA.BADCHID
    assert ca.put(None, 1.0) == ECA.BADCHID


def test_text_elements_to_double_array(chans):
    with pytest.raises(TypeError):
        ca.put(chans['cawave'], ['1', '2'])
    with pytest.raises(TypeError):
        ca.put(chans['cawave'], [1.0, b'2'])


def test_put_acks(chans):
    chid = chans['catest']
    put_wait(chid, 0.0)
    put_wait(chid, 3, DBR.PUT_ACKS)         # start clean: earlier tests may leave alarms unacked
    put_wait(chid, 1, DBR.PUT_ACKT)         # transient alarms must be acknowledged
    put_wait(chid, 15.0)                    # HIGH: MINOR alarm
    put_wait(chid, 0.0)                     # alarm gone, still unacknowledged
    value = read_back(chid, DBR.STSACK_STRING)
    assert value['severity'] == AlarmSeverity.No
    assert value['acks'] == AlarmSeverity.Minor
    assert value['ackt'] == 1
    put_ok(chid, 3, DBR.PUT_ACKS)
    value = read_back(chid, DBR.STSACK_STRING)
    assert value['acks'] == AlarmSeverity.No
    assert isinstance(value['acks'], AlarmSeverity)


def test_put_ackt(chans):
    chid = chans['catest']
    try:
        put_ok(chid, 0, DBR.PUT_ACKT)
        value = read_back(chid, DBR.STSACK_STRING)
        assert value['ackt'] == 0 and type(value['ackt']) is int
        put_ok(chid, True, DBR.PUT_ACKT)
        assert read_back(chid, DBR.STSACK_STRING)['ackt'] == 1
        with pytest.raises(OverflowError):
            ca.put(chid, 65536, DBR.PUT_ACKT)
        with pytest.raises(OverflowError):
            ca.put(chid, -1, DBR.PUT_ACKS)
        with pytest.raises(TypeError):
            ca.put(chid, 1.0, DBR.PUT_ACKT)
    finally:
        put_wait(chid, 1, DBR.PUT_ACKT)
        put_wait(chid, 1.5)


# ---------------------------------------------------------------------------
# §8 step 3 element conversion failures and edge cases


@pytest.mark.parametrize('record, value', [
    ('catest', 1 + 2j),
    ('cawave', [1.0, None]),
    ('cawave', [1.0, 'x']),
    ('cawave', [1.0, b'x']),
    ('cawave', [1.0, 2j]),
    ('cawavef', [None]),
], ids=['complex', 'None-in-list', 'str-in-list', 'bytes-in-list', 'complex-in-list', 'float-None'])
def test_real_type_errors(chans, record, value):
    with pytest.raises(TypeError):
        ca.put(chans[record], value)


@pytest.mark.parametrize('record, value', [
    ('calong', 2.0),
    ('calong', numpy.float64(2.0)),
    ('calong', numpy.float32(2.0)),
    ('cawavel', [1, 2.0]),
    ('cawaveh', [1.5]),
    ('cawavec', [1, 2, 3.0]),
    ('cabo', 0.0),
    ('calong', '2'),
], ids=['float', 'np.float64', 'np.float32', 'float-in-list', 'short', 'char', 'enum', 'text'])
def test_integer_type_errors(chans, record, value):
    with pytest.raises(TypeError):
        ca.put(chans[record], value)


@pytest.mark.parametrize('record, value', [
    ('cawaveh', 32768), ('cawaveh', -32769),
    ('calong', 2**31), ('calong', -2**31 - 1),
    ('cabo', -1), ('cabo', 65536),
    ('cawavec', 256), ('cawavec', -1), ('cawaveuc', [0, 300]),
    ('calong', 2**100),
])
def test_integer_overflow(chans, record, value):
    with pytest.raises(OverflowError):
        ca.put(chans[record], value)


@pytest.mark.parametrize('record, value, expected', [
    ('cawaveh', [-32768, 32767], [-32768, 32767]),
    ('calong', -2**31, -2**31),
    ('calong', 2**31 - 1, 2**31 - 1),
    ('cawavec', [0, 255], [0, 255]),
    ('calong', True, 1),
    ('calong', numpy.int64(-5), -5),
    ('calong', decimal.Decimal('2.7'), 2),
    ('calong', fractions.Fraction(7, 2), 3),
    ('calong', decimal.Decimal('-2.7'), -2),
], ids=['short-range', 'long-min', 'long-max', 'char-range', 'bool', 'np.int64', 'Decimal',
        'Fraction', 'negative-Decimal'])
def test_integer_accepted(chans, record, value, expected):
    chid = chans[record]
    put_ok(chid, value)
    assert read_back(chid) == expected


@pytest.mark.parametrize('value, expected', [
    (decimal.Decimal('1.25'), 1.25),
    (fractions.Fraction(1, 4), 0.25),
    (numpy.float32(1.5), 1.5),
    (numpy.int16(3), 3.0),
    (False, 0.0),
], ids=['Decimal', 'Fraction', 'np.float32', 'np.int16', 'bool'])
def test_real_accepted(chans, value, expected):
    chid = chans['catest']
    put_ok(chid, value)
    result = read_back(chid)
    assert type(result) is float and result == expected


def test_float32_storage_and_overflow(chans):
    chid = chans['cawavef']
    put_ok(chid, [1.1, 1e300, -1e300])
    result = read_back(chid)
    assert result[0] == numpy.float32(1.1).item() == 1.100000023841858
    assert result[1] == math.inf and result[2] == -math.inf


def test_empty_list(chans):
    chid = chans['cawave']
    put_wait(chid, [1, 2])
    assert ca.put(chid, []) == ECA.NORMAL
    result = get_callback(chid, None, 0)
    assert result['count'] == 0 and result['value'] == []
    put_wait(chid, ())
    put_wait(chid, [1, 2, 3])


# ---------------------------------------------------------------------------
# put with callback (§10.4)


def test_put_callback_success(chans):
    chid = chans['catest']
    done = Collector()
    assert ca.put(chid, 2.25, callback=done) == ECA.NORMAL
    ca.flush_io()
    assert done.wait(1)
    result = done.items[0]
    assert type(result) is dict
    assert list(result) == ['chid', 'type', 'count', 'status']
    assert 'value' not in result
    assert result['chid'] == chid
    assert result['type'] is DBR.INVALID
    assert result['count'] == 0 and type(result['count']) is int
    assert result['status'] is ECA.NORMAL
    time.sleep(0.2)
    assert len(done) == 1       # one-shot
    assert read_back(chid) == 2.25
    put_wait(chid, 1.5)


def test_put_callback_failure(chans, exceptions):
    chid = chans['cabo']
    put_wait(chid, 0)
    done = Collector()
    assert ca.put(chid, 'NoSuchState', callback=done) == ECA.NORMAL
    ca.flush_io()
    assert done.wait(1)
    result = done.items[0]
    assert list(result) == ['chid', 'type', 'count', 'status']
    assert result['chid'] == chid
    assert result['status'] == ECA.PUTFAIL and isinstance(result['status'], ECA)
    # libca passes 0xFFFFFFFF, not a DBR member: kept as a plain int
    assert result['type'] == 0xFFFFFFFF and type(result['type']) is int
    assert type(result['count']) is int
    assert read_back(chid) == 0


def test_put_callback_non_callable(chans):
    chid = chans['calong']
    assert ca.put(chid, 4, callback=42) == ECA.NORMAL
    ca.flush_io()
    assert read_back(chid) == 4


# ---------------------------------------------------------------------------
# Array-like writes (§14)


NUMPY_CASES = [
    # (record, dtype, data)
    ('cawave', numpy.float64, [1.5, -2.25, 3.0]),
    ('cawavef', numpy.float32, [1.5, -2.25, 3.0]),
    ('cawaveh', numpy.int16, [-32768, 0, 32767]),
    ('cawavel', numpy.int32, [-2**31, 0, 2**31 - 1]),
    ('cawaveuc', numpy.uint8, [0, 128, 255]),
    ('cawavec', numpy.uint8, [1, 2, 255]),
    ('cawavec', numpy.bool_, [True, False, True]),
    # non-matching dtypes
    ('cawave', numpy.float32, [1.5, -2.25, 3.0]),
    ('cawave', numpy.int16, [-5, 6, 7]),
    ('cawave', numpy.int64, [2**40, 0, -1]),
    ('cawave', numpy.bool_, [True, False, True]),
    ('cawave', numpy.uint8, [0, 200, 255]),
    ('cawavef', numpy.float64, [1.5, -2.25, 3.0]),
    ('cawavef', numpy.int32, [1, 2, 3]),
    ('cawaveh', numpy.int32, [-32768, 1, 32767]),
    ('cawaveh', numpy.uint8, [0, 1, 255]),
    ('cawaveh', numpy.int64, [-1, 0, 1]),
    ('cawavel', numpy.uint8, [0, 1, 255]),
    ('cawavel', numpy.int16, [-3, 4, 5]),
    ('cawavel', numpy.uint16, [65535, 0, 1]),
    ('cawavel', numpy.bool_, [True, True, False]),
    ('cawaveuc', numpy.int64, [0, 1, 255]),
    ('cawaves', numpy.float64, None),       # numbers to STRING: TypeError
]


@pytest.mark.parametrize('record, dtype, data', NUMPY_CASES,
                         ids=['%s-%s' % (c[0], numpy.dtype(c[1]).name) for c in NUMPY_CASES])
def test_numpy_array_write(chans, record, dtype, data):
    chid = chans[record]
    if data is None:
        with pytest.raises(TypeError):
            ca.put(chid, numpy.array([1.0, 2.0], dtype=dtype))
        return
    arr = numpy.array(data, dtype=dtype)
    put_wait(chid, arr)
    result = get_callback(chid, None, 0)
    assert result['count'] == len(data)
    assert result['value'] == pytest.approx([type(result['value'][0])(x) for x in data])
    # the same as writing the equivalent list
    put_wait(chid, [0] * len(data))
    put_wait(chid, arr.tolist())
    assert get_callback(chid, None, 0)['value'] == result['value']


def test_numpy_array_non_contiguous(chans):
    chid = chans['cawavel']
    arr = numpy.arange(10, dtype=numpy.int32)[::2]
    put_wait(chid, arr)
    assert read_back(chid) == [0, 2, 4, 6, 8]
    arr = numpy.arange(10, dtype=numpy.float64)[::-3]
    put_wait(chans['cawave'], arr)
    assert read_back(chans['cawave']) == [9.0, 6.0, 3.0, 0.0]


@pytest.mark.parametrize('record, dtype', [
    ('cawavel', numpy.float64), ('cawaveh', numpy.float32), ('cawavec', numpy.float64),
    ('cawaveuc', numpy.float16), ('calong', numpy.float64), ('cabo', numpy.float64),
])
def test_numpy_float_array_to_integer_type(chans, record, dtype):
    with pytest.raises(TypeError):
        ca.put(chans[record], numpy.array([1.0, 2.0], dtype=dtype))


@pytest.mark.parametrize('record, arr', [
    ('cawaveh', numpy.array([1, 70000], dtype=numpy.int32)),
    ('cawaveh', numpy.array([40000], dtype=numpy.uint16)),
    ('cawavec', numpy.array([-1, 2], dtype=numpy.int16)),
    ('cawaveuc', numpy.array([300], dtype=numpy.uint16)),
    ('cawavel', numpy.array([2**31], dtype=numpy.int64)),
    ('cawavel', numpy.array([2**32 - 1], dtype=numpy.uint32)),
], ids=['short-int32', 'short-uint16', 'char-int16', 'uchar-uint16', 'long-int64', 'long-uint32'])
def test_numpy_out_of_range(chans, record, arr):
    with pytest.raises(OverflowError):
        ca.put(chans[record], arr)


def test_numpy_2d_array(chans):
    with pytest.raises(TypeError):
        ca.put(chans['cawave'], numpy.zeros((2, 3)))
    with pytest.raises(TypeError):
        ca.put(chans['cawavel'], numpy.zeros((2, 2), dtype=numpy.int32))


def test_numpy_empty_array(chans):
    chid = chans['cawave']
    put_wait(chid, [1, 2])
    assert ca.put(chid, numpy.array([], dtype=numpy.float64)) == ECA.NORMAL
    result = get_callback(chid, None, 0)
    assert result['count'] == 0


@pytest.mark.parametrize('record, make', [
    ('cawavel', lambda: range(5, 15)),
    ('cawave', lambda: range(-3, 3)),
    ('cawavel', lambda: array.array('i', [1, -2, 3])),
    ('cawaveh', lambda: array.array('h', [1, -2, 3])),
    ('cawave', lambda: array.array('d', [1.5, -2.5])),
    ('cawavef', lambda: array.array('f', [1.5, -2.5])),
    ('cawavec', lambda: bytearray(b'\x01\x02\xff')),
    ('cawaveuc', lambda: bytearray(b'hello')),
    ('cawave', lambda: bytearray(b'\x01\x02')),
], ids=['range-long', 'range-double', 'array-i', 'array-h', 'array-d', 'array-f',
        'bytearray-char', 'bytearray-uchar', 'bytearray-double'])
def test_sequence_like_equals_list(chans, record, make):
    chid = chans[record]
    put_wait(chid, list(make()))
    expected = get_callback(chid, None, 0)
    put_wait(chid, [0])
    put_wait(chid, make())
    actual = get_callback(chid, None, 0)
    assert actual['count'] == expected['count'] == len(make())
    assert actual['value'] == expected['value']


def test_array_array_of_floats_to_integer(chans):
    with pytest.raises(TypeError):
        ca.put(chans['cawavel'], array.array('d', [1.0, 2.0]))


def test_scalar_record_from_array(chans):
    chid = chans['catest']
    put_wait(chid, numpy.array([4.5, 5.5]))
    assert read_back(chid) == 4.5
    put_wait(chid, 1.5)
