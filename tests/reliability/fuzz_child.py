"""Hypothesis fuzz of caffi.ca's argument handling, run as a child process by test_fuzz.py.

usage: python fuzz_child.py MAX_EXAMPLES [--seed N] [--trace FILE]

Needs the reference IOC (the EPICS_CA_* variables come from the parent's environment).
Every example performs one caffi.ca call with random arguments and checks the outcome against
API.md §6/§7/§8/§10/§12: a documented return form (ECA member, (ECA, obj/None) tuple, DBF,
ChannelState, str, bool, int) or one of TypeError / ValueError / OverflowError. Any other
exception, a wrong return form or value fails the example. Callback dicts (§10) are validated
on libca's threads; anything found there, and any exception the binding reports through
sys.unraisablehook other than the ones raised by the fuzz's own callbacks, is reported at the
end. A crash or hang kills the process (faulthandler prints the Python stacks; --trace FILE
always holds the call under way).

Last stdout line on success: ``FUZZ-SUMMARY {json}``.
"""

import argparse
import array
import collections
import faulthandler
import gc
import json
import math
import numbers
import os
import reprlib
import sys
import threading
import time
import traceback
from decimal import Decimal
from fractions import Fraction

import numpy as np
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import HypothesisException
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import caffi.ca as ca
from caffi.constants import CA_OP, ECA, AlarmCondition, AlarmSeverity, ChannelState
from caffi.dbr import DBF, DBR, DBRValue

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ioc_harness import RECORDS  # noqa: E402  (only the record table; no context created)

ALLOWED_EXC = (TypeError, ValueError, OverflowError)
HOUSEKEEPING_INTERVAL = 100     # examples between pend_io/sg_block rounds
EXAMPLE_WATCHDOG = 30.0          # seconds one example may take before the stacks are dumped
CONNECT_TIMEOUT = 10.0

# cawavehuge (4M doubles) is left out: a default-count read of it is 32 MB per call.
FUZZ_RECORDS = [r for r in RECORDS.values() if r.name != 'cawavehuge']
NO_RESTORE = ('cacalc',)         # scanned counter, writes are pointless to restore

# Documented status sets (API.md §6).
GET_STATUSES = {ECA.NORMAL, ECA.BADTYPE, ECA.BADCHID, ECA.BADCOUNT, ECA.GETFAIL, ECA.NORDACCESS,
                ECA.ALLOCMEM, ECA.DISCONN}
PUT_STATUSES = {ECA.NORMAL, ECA.BADCHID, ECA.BADTYPE, ECA.BADCOUNT, ECA.BADSTR, ECA.STRTOBIG,
                ECA.NOWTACCESS, ECA.ALLOCMEM, ECA.DISCONN}
SUB_STATUSES = {ECA.NORMAL, ECA.BADCHID, ECA.BADTYPE, ECA.BADFUNCPTR, ECA.BADMASK, ECA.ALLOCMEM,
                ECA.ADDFAIL}
SG_GET_STATUSES = {ECA.NORMAL, ECA.BADSYNCGRP, ECA.BADCHID, ECA.BADCOUNT, ECA.BADTYPE,
                   ECA.GETFAIL, ECA.DISCONN}
SG_PUT_STATUSES = {ECA.NORMAL, ECA.BADSYNCGRP, ECA.BADCHID, ECA.BADTYPE, ECA.BADCOUNT,
                   ECA.STRTOBIG, ECA.PUTFAIL, ECA.DISCONN, ECA.BADSTR, ECA.NOWTACCESS,
                   ECA.ALLOCMEM}
WRITABLE_TYPES = {0, 1, 2, 3, 4, 5, 6, 35, 36}
NP_DTYPES = {1: np.int16, 2: np.float32, 3: np.uint16, 4: np.uint8, 5: np.int32, 6: np.float64}

_repr = reprlib.Repr()
_repr.maxstring = 80
_repr.maxother = 120
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 8
_repr.maxlevel = 3


def short(obj):
    try:
        return _repr.repr(obj)
    except Exception as exc:  # a repr that fails is the object's business
        return '<repr failed: %s>' % type(exc).__name__


# ---------------------------------------------------------------------------------------------
# Junk objects with readable reprs (they appear in Hypothesis' falsifying examples).

class Indexable(object):
    """Has __index__, like numpy integers."""
    def __init__(self, n):
        self.n = n

    def __index__(self):
        return self.n

    def __repr__(self):
        return 'Indexable(%d)' % self.n


class Floatable(object):
    """Has __float__ only: not a numbers.Number."""
    def __init__(self, x):
        self.x = x

    def __float__(self):
        return self.x

    def __repr__(self):
        return 'Floatable(%r)' % self.x


class FakeNumber(object):
    """Registered as numbers.Number but convertible to nothing."""
    def __repr__(self):
        return 'FakeNumber()'


numbers.Number.register(FakeNumber)


class MySeq(collections.abc.Sequence):
    """A user-defined Sequence (not list/tuple)."""
    def __init__(self, items):
        self.items = list(items)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]

    def __repr__(self):
        return 'MySeq(%r)' % (self.items,)


class Opaque(object):
    def __init__(self, tag):
        self.tag = tag

    def __repr__(self):
        return 'Opaque(%r)' % self.tag


class IntSub(int):
    def __repr__(self):
        return 'IntSub(%d)' % int(self)


class StrSub(str):
    def __repr__(self):
        return 'StrSub(%s)' % str.__repr__(self)


# ---------------------------------------------------------------------------------------------
# Findings made outside the Hypothesis test function (callbacks, unraisable hook).

FINDINGS = []
COUNTS = collections.Counter()
_lock = threading.Lock()


def finding(text):
    with _lock:
        if len(FINDINGS) < 200:
            FINDINGS.append(text)


class FuzzCallbackError(Exception):
    """Raised on purpose by RaisingCB; the binding must print and swallow it (§11.5)."""


def _unraisable_hook(unraisable):
    exc = unraisable.exc_value
    obj = unraisable.object
    if isinstance(exc, FuzzCallbackError) or getattr(obj, '_fuzz_cb', False):
        COUNTS['unraisable_expected_%s_%s' % (type(exc).__name__, getattr(obj, '__name__', type(obj).__name__))] += 1
        return
    finding('unraisable exception reported by the binding: %s: %s (object %s)\n%s' % (
        type(exc).__name__, exc, short(obj),
        ''.join(traceback.format_exception(unraisable.exc_type, exc, unraisable.exc_traceback))))


# ---------------------------------------------------------------------------------------------
# Shape checks for formatted read data (§9).

def _scalar_ok(base, x):
    if base == 0:
        return type(x) in (str, bytes)
    if base in (2, 6):
        return type(x) is float
    if base == 4:
        return type(x) is int and 0 <= x <= 255
    return type(x) is int


def check_value(base, count, value, use_numpy, where):
    """§9.1: count 1 -> scalar; otherwise list (or ndarray for numeric types with use_numpy)."""
    if count == 1:
        assert _scalar_ok(base, value), '%s: count 1, base %d: bad scalar %s (%s)' % (
            where, base, short(value), type(value).__name__)
        return
    if use_numpy and base != 0:
        assert isinstance(value, np.ndarray), '%s: use_numpy, count %d: %s' % (
            where, count, type(value).__name__)
        assert value.ndim == 1 and value.shape[0] == count, (where, value.shape, count)
        assert value.dtype == NP_DTYPES[base], (where, value.dtype, base)
        assert value.flags.writeable, where
        return
    assert type(value) is list, '%s: count %d: expected list, got %s' % (
        where, count, type(value).__name__)
    assert len(value) == count, (where, len(value), count)
    for x in value[:64]:
        assert _scalar_ok(base, x), '%s: bad element %s' % (where, short(x))


_LIMITS = ['upper_disp_limit', 'lower_disp_limit', 'upper_alarm_limit', 'upper_warning_limit',
           'lower_alarm_limit', 'lower_warning_limit']


def expected_keys(t):
    if 7 <= t <= 13 or t in (21, 28):
        return ['status', 'severity', 'value']
    if 14 <= t <= 20:
        return ['status', 'severity', 'stamp', 'value']
    if t in (24, 31):
        return ['status', 'severity', 'no_str', 'strs', 'value']
    if 21 <= t <= 27:
        return (['status', 'severity', 'units'] + _LIMITS
                + (['precision'] if t in (23, 27) else []) + ['value'])
    if 28 <= t <= 34:
        return (['status', 'severity', 'units'] + _LIMITS
                + (['precision'] if t in (30, 34) else [])
                + ['upper_ctrl_limit', 'lower_ctrl_limit', 'value'])
    if t == 37:
        return ['status', 'severity', 'ackt', 'acks', 'value']
    return None


def check_formatted(dbrtype, count, value, use_numpy, where):
    t = int(dbrtype)
    assert 0 <= t <= 38, (where, dbrtype)
    if t in (35, 36):
        assert value is None, '%s: PUT_ACK* read formatted as %s' % (where, short(value))
        return
    if t <= 6:
        check_value(t, count, value, use_numpy, where)
        return
    if t == 38:
        check_value(0, count, value, False, where)
        return
    keys = expected_keys(t)
    assert type(value) is dict, '%s: type %d: expected dict, got %s' % (where, t, short(value))
    assert list(value) == keys, '%s: type %d keys %s' % (where, t, list(value))
    assert isinstance(value['status'], (AlarmCondition, int)), (where, value['status'])
    assert isinstance(value['severity'], (AlarmSeverity, int)), (where, value['severity'])
    if 'stamp' in value:
        stamp = value['stamp']
        assert list(stamp) == ['seconds', 'nanoseconds', 'timestamp'], (where, stamp)
        assert type(stamp['seconds']) is int and type(stamp['nanoseconds']) is int, (where, stamp)
        assert type(stamp['timestamp']) is float, (where, stamp)
    if 'strs' in value:
        assert type(value['strs']) is tuple and type(value['no_str']) is int, (where, value)
        assert len(value['strs']) == min(max(value['no_str'], 0), 16), (where, value)
    if 'units' in value:
        assert type(value['units']) in (str, bytes), (where, value['units'])
    if 'precision' in value:
        assert type(value['precision']) is int, (where, value['precision'])
    if t == 37:
        assert type(value['ackt']) is int, (where, value['ackt'])
        assert isinstance(value['acks'], (AlarmSeverity, int)), (where, value['acks'])
    base = 0 if t in (21, 28, 37) else t % 7
    for k in _LIMITS + ['upper_ctrl_limit', 'lower_ctrl_limit']:
        if k in value:
            assert _scalar_ok(base, value[k]), (where, k, value[k])
    check_value(base, count, value['value'], use_numpy, where)


# ---------------------------------------------------------------------------------------------
# Callbacks that validate what they receive (§10), on libca's threads.

class _CB(object):
    _fuzz_cb = True

    def __init__(self, desc, chid=None):
        self.desc = desc
        self.chid = chid
        self.calls = 0

    def __repr__(self):
        return '%s()' % type(self).__name__

    def __call__(self, arg):
        self.calls += 1
        COUNTS['cb_' + type(self).__name__] += 1
        try:
            self.check(arg)
        except AssertionError as exc:
            finding('%s callback dict violates the spec: %s\n  dict: %s\n  created by: %s' % (
                type(self).__name__, exc, short(arg), self.desc))
        except Exception:
            finding('%s validator error on %s (created by %s):\n%s' % (
                type(self).__name__, short(arg), self.desc, traceback.format_exc()))

    def check_chid(self, arg):
        if self.chid is not None:
            assert arg['chid'] == self.chid, 'chid %r != %r' % (arg['chid'], self.chid)


class ReadCB(_CB):
    """get() callback or subscription callback: §10.3."""
    def __init__(self, desc, chid=None, use_numpy=False, once=True):
        super(ReadCB, self).__init__(desc, chid)
        self.use_numpy = use_numpy
        self.once = once

    def check(self, arg):
        assert type(arg) is dict, type(arg)
        assert list(arg) == ['chid', 'type', 'count', 'status', 'value'], list(arg)
        self.check_chid(arg)
        assert isinstance(arg['status'], ECA), 'status %r is not ECA' % (arg['status'],)
        assert type(arg['count']) is int and arg['count'] >= 0, arg['count']
        assert isinstance(arg['type'], (DBR, int)), arg['type']
        if self.once:
            assert self.calls == 1, 'one-shot read callback called %d times' % self.calls
        if arg['status'] != ECA.NORMAL:
            assert arg['value'] is None, 'status %r but value %s' % (arg['status'], short(arg['value']))
        else:
            check_formatted(arg['type'], arg['count'], arg['value'], bool(self.use_numpy),
                            'callback')


class WriteCB(_CB):
    """put() completion callback: §10.4."""
    def check(self, arg):
        assert type(arg) is dict, type(arg)
        assert list(arg) == ['chid', 'type', 'count', 'status'], list(arg)
        self.check_chid(arg)
        assert isinstance(arg['status'], ECA), arg['status']
        assert type(arg['count']) is int or isinstance(arg['count'], int), arg['count']
        assert self.calls == 1, 'put callback called %d times' % self.calls


class ConnCB(_CB):
    """Connection handler: §10.1."""
    def check(self, arg):
        assert type(arg) is dict and list(arg) == ['chid', 'op'], short(arg)
        self.check_chid(arg)
        assert arg['op'] in (CA_OP.CONN_UP, CA_OP.CONN_DOWN) and isinstance(arg['op'], CA_OP), arg


class AccessCB(_CB):
    """Access-rights handler: §10.2."""
    def check(self, arg):
        assert type(arg) is dict and list(arg) == ['chid', 'read_access', 'write_access'], short(arg)
        self.check_chid(arg)
        assert type(arg['read_access']) is bool and type(arg['write_access']) is bool, arg


class ExcCB(_CB):
    """Exception handler: §10.5."""
    def check(self, arg):
        assert type(arg) is dict, type(arg)
        assert list(arg) == ['chid', 'type', 'count', 'addr', 'stat', 'op', 'ctx', 'file',
                             'lineNo'], list(arg)
        assert isinstance(arg['stat'], ECA), arg['stat']
        assert isinstance(arg['op'], (CA_OP, int)), arg['op']
        assert type(arg['ctx']) is str and type(arg['file']) is str, arg
        assert type(arg['lineNo']) is int and type(arg['count']) is int, arg
        assert arg['addr'] is None or type(arg['addr']) is int, arg


class RaisingCB(_CB):
    def __call__(self, arg):
        COUNTS['cb_RaisingCB'] += 1
        raise FuzzCallbackError('raised on purpose by the fuzz')


def _no_args_callback():          # wrong signature: the binding reports the TypeError
    pass


_no_args_callback._fuzz_cb = True


# ---------------------------------------------------------------------------------------------
# Strategies

SPECIAL_INTS = [0, 1, -1, 2, 5, 6, 7, 35, 36, 38, 39, 99, 100, 255, 256, -2**15 - 1, -2**15,
                2**15 - 1, 2**15, 2**16 - 1, 2**16, -2**31 - 1, -2**31, 2**31 - 1, 2**31,
                2**32 - 1, 2**32, 2**32 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -2**63,
                -2**63 - 1, 10**30, -10**30, 2**1000]
SPECIAL_FLOATS = [0.0, -0.0, 1.5, 2.0, -2.7, math.nan, math.inf, -math.inf, 1e308, -1e308,
                  5e-324, 3.4028234663852886e38, 3.5e38, 1e-50, 1.1]
SPECIAL_TEXT = ['', 'Busy', 'Done', '1.23', '12', '-3', ' 4.5 ', 'nan', 'inf', '-inf', '1e400',
                '0x10', 'abc', 'a\x00b', '\x00', '\udc80', 'x\ud800y', 'é' * 20, '€' * 13, '€' * 14,
                'x' * 39, 'x' * 40, 'x' * 41, 'x' * 10000, 'NoSuchState', '\U0001F600' * 10]
SPECIAL_BYTES = [b'', b'\xff\xfe', b'\x80' * 40, b'a\x00b', b'1.5', b'Busy', b'x' * 39, b'x' * 40,
                 b'\xc3', b'\xed\xa0\x80', b'x' * 5000]

ints = st.one_of(st.integers(-5, 300), st.sampled_from(SPECIAL_INTS), st.integers())
floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(SPECIAL_FLOATS))
texts = st.one_of(st.text(max_size=50), st.sampled_from(SPECIAL_TEXT),
                  st.text(alphabet='xé€', min_size=36, max_size=44))
byte_strings = st.one_of(st.binary(max_size=50), st.sampled_from(SPECIAL_BYTES))
np_scalar_types = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
                   np.uint64, np.float16, np.float32, np.float64, np.longdouble, np.complex64,
                   np.bool_]


@st.composite
def np_scalars(draw):
    t = draw(st.sampled_from(np_scalar_types))
    if np.issubdtype(t, np.integer):
        info = np.iinfo(t)
        return t(draw(st.integers(int(info.min), int(info.max))))
    if t is np.bool_:
        return np.bool_(draw(st.booleans()))
    x = draw(floats)
    with np.errstate(all='ignore'):         # float16/float32 overflow to inf is intended
        return t(x)


junk_objects = st.sampled_from([
    object(), Opaque('x'), Indexable(3), Indexable(-1), Indexable(2**40), Floatable(1.5),
    FakeNumber(), {}, {'a': 1}, set(), {1, 2}, frozenset(), Ellipsis, NotImplemented, type,
    len, np, Exception('x'), memoryview(b'abc'), DBR.DOUBLE, ECA.NORMAL, ChannelState.CONN,
    IntSub(7), StrSub('Busy'), np.str_('1.5'), np.bytes_(b'Busy'), np.datetime64('2020-01-01'),
    1 + 2j, complex(math.nan, 0), Decimal('NaN'), Decimal('sNaN'), Decimal('Infinity'),
    Decimal('-1e400'), Decimal('2.5'), Decimal(7), Fraction(7, 2), Fraction(-3), slice(1, 2),
    range(0), range(5), range(10**6), range(0, 2**70, 2**60)])

scalars = st.one_of(
    st.none(), st.booleans(), ints, floats, texts, byte_strings, np_scalars(), junk_objects,
    st.complex_numbers(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=True, places=3), st.fractions(max_denominator=100))

array_dtypes = st.sampled_from(['i1', 'u1', 'i2', 'u2', 'i4', 'u4', 'i8', 'u8', 'f2', 'f4', 'f8',
                                '>f8', '>i4', 'c8', 'c16', '?', 'U5', 'S5', 'M8[s]', 'm8[s]'])


@st.composite
def np_arrays(draw):
    kind = draw(st.integers(0, 5))
    if kind == 0:       # generic, 0-3 dims
        return draw(hnp.arrays(draw(array_dtypes),
                               hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)))
    if kind == 1:       # long 1-D numeric
        dtype = draw(st.sampled_from(['u1', 'i2', 'i4', 'f4', 'f8', 'i8']))
        n = draw(st.integers(0, 220))
        return (np.arange(n) % 100).astype(dtype)
    if kind == 2:       # non-contiguous / read-only / Fortran
        a = np.arange(60, dtype=draw(st.sampled_from(['f8', 'i4', 'u1', 'i2'])))
        variant = draw(st.integers(0, 3))
        if variant == 0:
            return a[::3]
        if variant == 1:
            a.flags.writeable = False
            return a
        if variant == 2:
            return np.asfortranarray(a.reshape(6, 10))
        return a[::-1]
    if kind == 3:       # object array
        return np.array(draw(st.lists(scalars, max_size=5)) + [None], dtype=object)[:-1]
    if kind == 4:       # structured
        return np.zeros(draw(st.integers(0, 4)), dtype=[('a', 'i4'), ('b', 'f8')])
    return np.array(draw(st.lists(st.text(max_size=45), max_size=5)), dtype=object)


@st.composite
def sequences(draw):
    kind = draw(st.integers(0, 8))
    if kind == 0:
        return draw(st.lists(scalars, max_size=8))
    if kind == 1:
        return tuple(draw(st.lists(scalars, max_size=8)))
    if kind == 2:
        return draw(st.lists(st.integers(-300, 300), max_size=200))
    if kind == 3:
        return draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=200))
    if kind == 4:
        return draw(st.lists(texts, max_size=5))
    if kind == 5:
        return [draw(st.lists(scalars, max_size=3)) for _ in range(draw(st.integers(0, 3)))]
    if kind == 6:
        code = draw(st.sampled_from('bBhHiIlLqQfd'))
        if code in 'fd':
            items = draw(st.lists(st.floats(width=32), max_size=30))
        else:
            items = draw(st.lists(st.integers(0, 100), max_size=30))
        return array.array(code, items)
    if kind == 7:
        return bytearray(draw(st.binary(max_size=200)))
    return MySeq(draw(st.lists(scalars, max_size=5)))


values = st.one_of(scalars, scalars, sequences(), np_arrays())

chtypes = st.one_of(
    st.none(), st.integers(-5, 45), st.integers(-5, 45), st.sampled_from(list(DBR)),
    st.sampled_from(list(DBF)),
    st.sampled_from([2**31, 2**31 - 1, -2**31, 2**63, -2**63 - 1, 2**64, 10**30, 1.0, 6.0,
                     math.nan, '6', b'6', 'DOUBLE', object(), [], [6], np.int64(6), np.uint8(0),
                     np.float64(6), True, False, Indexable(6), Indexable(99), Decimal(6),
                     Fraction(6), IntSub(14), complex(6)]))

counts = st.one_of(
    st.none(), st.integers(-5, 200), st.integers(-5, 5),
    st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**63 - 1, 2**63,
                     2**64, -2**63, -2**63 - 1, 10**30, -10**30, 1.5, 3.0, math.nan, math.inf,
                     '3', b'3', [3], np.int32(3), np.int64(-4), np.uint64(2**64 - 1),
                     np.float64(3), True, False, Indexable(2), Indexable(-7), Indexable(2**70),
                     Decimal(3), Fraction(3), object(), IntSub(4)]))

# Masks that reach the server use DBE bits only: the IOC fails to add a subscription whose mask
# has other bits below 0x10000 ("no memory to add subscription to db") and then drops the
# whole TCP circuit, disconnecting every channel (server behaviour, not the binding's).
masks = st.one_of(
    st.none(), st.integers(0, 15),
    st.integers(0x10000, 0x1FFFF), st.integers(-2**40, -1),
    st.sampled_from([0, 1, 2, 4, 5, 8, 15, 0x10000, 0x10001, 0x1000F, 2**31 - 1, 2**31,
                     2**32 + 5, 2**63 - 1, 2**63, 2**64, -1, -2**63 - 1, 10**30, 1.0, 5.0, '5',
                     object(), Indexable(5), np.int16(5), True, None]))

use_numpys = st.one_of(st.booleans(),
                       st.sampled_from([0, 1, None, 'x', '', object(), np.bool_(True), [], [0]]))

priorities = st.one_of(st.integers(0, 99), st.integers(-3, 120),
                       st.sampled_from([0, 99, 100, -1, 2**31 - 1, 2**31, 2**32, 2**63, 2**64,
                                        -2**63, 1.5, '1', None, object(), Indexable(20), True]))

timeouts = st.one_of(st.floats(0.001, 0.2), st.sampled_from([0.01, 1e-9, 0.05]))

JUNK_HANDLES = [0, 1, -1, 2**64, 1.5, 'catest', b'catest', object(), Opaque('chid'), [], (),
                {}, Indexable(1), True, ECA.NORMAL, ca, type]


# ---------------------------------------------------------------------------------------------
# The fuzzer: pools of handles in known states.

class Handle(object):
    """A chid plus what the fuzz knows about it."""
    def __init__(self, kind, chid, record=None, name=None):
        self.kind = kind            # 'conn' 'disc' 'stale' 'fresh' 'none' 'junk'
        self.chid = chid
        self.record = record        # RECORDS entry for 'conn'
        self.name = name

    def __repr__(self):
        if self.kind in ('none', 'junk'):
            return '%s:%s' % (self.kind, short(self.chid))
        return '%s:%s' % (self.kind, self.name)


def is_index(x):
    """True for the objects §7 calls integers (anything with __index__)."""
    if isinstance(x, (float, complex, str, bytes, Decimal, Fraction)):
        return False
    try:
        x.__index__()
    except Exception:
        return False
    return True


def as_int(x):
    return x.__index__()


class Fuzzer(object):

    def __init__(self, trace_path):
        self.trace_file = open(trace_path, 'w') if trace_path else None
        self.context = ca.current_context()
        self.conn = []
        for record in FUZZ_RECORDS:
            status, chid = ca.create_channel(record.name)
            assert status == ECA.NORMAL, (record.name, status)
            self.conn.append(Handle('conn', chid, record, record.name))
        assert ca.pend_io(CONNECT_TIMEOUT) == ECA.NORMAL, 'channels did not connect'
        for h in self.conn:
            assert ca.state(h.chid) == ChannelState.CONN, h
        self.by_name = {h.name: h for h in self.conn}
        cb = ConnCB('setup: disconnected channel')
        name = 'caffi:fuzz:no-such-record'
        status, chid = ca.create_channel(name, cb)
        assert status == ECA.NORMAL
        self.disc = [Handle('disc', chid, name=name)]
        self.stale = []
        status, chid = ca.create_channel('catest')
        ca.pend_io(CONNECT_TIMEOUT)
        ca.clear_channel(chid)
        self.stale.append(Handle('stale', chid, name='catest'))
        foreign_chid, foreign_evid, foreign_ctx = self._foreign_handles()
        self.stale.append(Handle('stale', foreign_chid, name='calong'))
        self.fresh = []
        self.stale_evids = [foreign_evid]
        self.evids = []               # (evid, handle, desc)
        status, evid = ca.create_subscription(self.conn[0].chid, None)
        assert status == ECA.NORMAL
        assert ca.clear_subscription(evid) == ECA.NORMAL
        self.stale_evids.append(evid)
        self.junk_handles = JUNK_HANDLES + [foreign_ctx, self.context, foreign_evid, evid]
        self.gids = []
        self.dead_gids = []
        for _ in range(2):
            status, gid = ca.sg_create()
            assert status == ECA.NORMAL
            self.gids.append(gid)
        self.dbrvalues = []           # (DBRValue, desc) read without callback, checked after pend_io
        self.examples = 0
        self.calls = 0
        self.last_call = None
        self.fail_fast = False
        self.failures = {}            # keep-going mode: distinct failure -> count and examples
        self.op_time = collections.Counter()
        self.slow = []                # the slowest examples (seconds, last call)
        self.outcomes = collections.Counter()

    @staticmethod
    def _foreign_handles():
        """A chid, evid and context from a context that has been destroyed (§12)."""
        out = {}

        def body():
            assert ca.create_context(True) == ECA.NORMAL
            ctx = ca.current_context()
            status, chid = ca.create_channel('calong')
            ca.pend_io(CONNECT_TIMEOUT)
            status, evid = ca.create_subscription(chid, None)
            assert status == ECA.NORMAL, status
            ca.destroy_context()
            out['h'] = (chid, evid, ctx)

        t = threading.Thread(target=body)
        t.start()
        t.join(30)
        return out['h']

    # -- tracing -------------------------------------------------------------------------------

    def trace(self, desc):
        if self.trace_file is not None:
            f = self.trace_file
            f.seek(0)
            f.write('example %d call %d: %s\n' % (self.examples, self.calls, desc))
            f.truncate()
            f.flush()

    def call(self, fn, *args, **kwargs):
        """Run one caffi call; returns ('ret', value) or ('exc', exception)."""
        self.calls += 1
        desc = '%s(%s)' % (fn.__name__, ', '.join(
            [short(a) for a in args] + ['%s=%s' % (k, short(v)) for k, v in kwargs.items()]))
        self.trace(desc)
        self.last_call = desc
        try:
            result = fn(*args, **kwargs)
        except ALLOWED_EXC as exc:
            self.outcomes['%s:%s' % (fn.__name__, type(exc).__name__)] += 1
            return 'exc', exc, desc
        # any other exception propagates: Hypothesis reports it as a failure
        tag = result[0] if isinstance(result, tuple) and result else result
        self.outcomes['%s:%s' % (fn.__name__, getattr(tag, 'name', type(tag).__name__))] += 1
        return 'ret', result, desc

    # -- handle drawing ------------------------------------------------------------------------

    # Hypothesis requires the sequence of draws to depend on drawn data only, never on the
    # pools' current contents: pools are indexed with a drawn integer modulo their length, and
    # an empty pool falls back without drawing.
    @staticmethod
    def pick(data, pool, label):
        i = data.draw(st.integers(0, 2**16 - 1), label=label + ' index')
        return pool[i % len(pool)] if pool else None

    def draw_chid(self, data):
        kinds = ['conn'] * 6 + ['disc', 'stale', 'none', 'junk', 'fresh']
        kind = data.draw(st.sampled_from(kinds), label='chid kind')
        if kind == 'fresh':
            h = self.pick(data, self.fresh, 'fresh chid')
            if h is not None:
                return h
            kind = 'disc'
        if kind == 'conn':
            return data.draw(st.sampled_from(self.conn), label='chid')
        if kind == 'disc':
            return self.disc[0]
        if kind == 'stale':
            return self.pick(data, self.stale, 'stale chid')
        if kind == 'none':
            return Handle('none', None)
        return Handle('junk', data.draw(st.sampled_from(self.junk_handles), label='chid'))

    def draw_callback(self, data, cls, desc, chid=None, **kw):
        kind = data.draw(st.sampled_from(['valid', 'valid', 'valid', 'none', 'raising',
                                          'noargs', 'noncallable']), label='callback kind')
        if kind == 'valid':
            return cls(desc, chid, **kw)
        if kind == 'none':
            return None
        if kind == 'raising':
            return RaisingCB(desc)
        if kind == 'noargs':
            return _no_args_callback
        return data.draw(st.sampled_from([0, 'callback', Opaque('cb'), [None]]),
                         label='non-callable')

    def draw_gid(self, data):
        kind = data.draw(st.sampled_from(['live', 'live', 'live', 'dead', 'int', 'junk']),
                         label='gid kind')
        if kind in ('live', 'dead'):
            gid = self.pick(data, self.dead_gids if kind == 'dead' else self.gids, 'gid')
            return gid if gid is not None else self.gids[0]
        if kind == 'int':
            return data.draw(st.one_of(st.integers(0, 2**32 - 1), st.integers(-3, 20)), label='gid')
        return data.draw(st.sampled_from([None, 1.5, '1', 2**32, 2**64, -2**63 - 1, object(),
                                          Indexable(1), [1]]), label='gid')

    def gid_state(self, gid):
        """'live', 'invalid' (an integer that names no live group) or 'junk'.

        Integers are what §7 calls integers: anything with __index__ (numpy integers too)."""
        if is_index(gid) and 0 <= as_int(gid) < 2**32:
            return 'live' if as_int(gid) in self.gids else 'invalid'
        return 'junk'

    # -- expectations --------------------------------------------------------------------------

    @staticmethod
    def type_class(chtype):
        """'none', 'valid' (0..38), 'badint' (int outside -1..38 but small), 'bigint', 'junk'."""
        if chtype is None:
            return 'none'
        if not is_index(chtype):
            return 'junk'
        t = as_int(chtype)
        if 0 <= t <= 38:
            return 'valid'
        if -2**62 < t < 2**62:
            return 'badint'
        return 'bigint'

    @staticmethod
    def resolved_count(count, native, zero_asks_server):
        if count is None:
            return native
        n = as_int(count)
        if n == 0 and zero_asks_server:
            return 0
        if n <= 0 or n > native:
            return native
        return n

    def check_info(self, h):
        """The info functions on one handle (§6.3, §12)."""
        chid = h.chid
        for fn in (ca.field_type, ca.element_count, ca.name, ca.state, ca.host_name,
                   ca.read_access, ca.write_access):
            kind, r, desc = self.call(fn, chid)
            fname = fn.__name__
            if h.kind == 'none':
                if fname == 'state':
                    assert kind == 'ret' and r is ChannelState.NEVER_SEARCH, (desc, r)
                else:
                    assert kind == 'exc' and isinstance(r, TypeError), (desc, r)
                continue
            if kind == 'exc':
                assert h.kind == 'junk' and isinstance(r, TypeError), (desc, r)
                continue
            # return types
            if fname == 'field_type':
                assert isinstance(r, DBF) or type(r) is int, (desc, r)
            elif fname == 'element_count':
                assert type(r) is int and r >= 0, (desc, r)
            elif fname in ('name', 'host_name'):
                assert type(r) is str, (desc, r)
            elif fname == 'state':
                assert isinstance(r, ChannelState), (desc, r)
            else:
                assert type(r) is bool, (desc, r)
            if h.kind == 'stale':
                expected = {'field_type': DBF.INVALID, 'element_count': 0, 'name': h.name,
                            'state': ChannelState.CLOSED, 'host_name': '',
                            'read_access': False, 'write_access': False}[fname]
                assert r == expected, '%s on a stale chid: %r, expected %r (§12)' % (
                    desc, r, expected)
            elif h.kind == 'conn':
                rec = h.record
                expected = {'field_type': DBF[rec.dbf], 'element_count': rec.count,
                            'name': rec.name, 'state': ChannelState.CONN,
                            'read_access': True, 'write_access': True}.get(fname)
                if expected is not None:
                    assert r == expected, (desc, r, expected)
                if fname == 'host_name':
                    assert ':' in r, (desc, r)
            elif h.kind == 'disc':
                expected = {'field_type': DBF.INVALID, 'element_count': 0, 'name': h.name,
                            'state': ChannelState.NEVER_CONN}.get(fname)
                if expected is not None:
                    assert r == expected, (desc, r, expected)
            elif h.kind == 'fresh' and fname == 'name':
                assert r == h.name, (desc, r)

    @staticmethod
    def check_ret_tuple(r, desc, statuses):
        assert type(r) is tuple and len(r) == 2, '%s returned %s, not a 2-tuple' % (desc, short(r))
        assert isinstance(r[0], ECA), '%s: status %r is not an ECA member' % (desc, r[0])
        assert r[0] in statuses, '%s: undocumented status %r' % (desc, r[0])

    def check_dbrvalue(self, dv, desc, expected_type=None, expected_count=None):
        assert isinstance(dv, DBRValue), (desc, dv)
        if expected_type is not None:
            assert int(dv.dbrtype) == expected_type, (desc, dv.dbrtype, expected_type)
        if expected_count is not None:
            assert dv.count == expected_count, '%s: DBRValue.count %r, expected %r (§7)' % (
                desc, dv.count, expected_count)
        value = dv.get()
        check_formatted(dv.dbrtype, dv.count, value, bool(dv.use_numpy), desc + ' .get()')

    # -- operations ----------------------------------------------------------------------------

    def op_get(self, data):
        h = self.draw_chid(data)
        chtype = data.draw(chtypes, label='chtype')
        count = data.draw(counts, label='count')
        use_numpy = data.draw(use_numpys, label='use_numpy')
        with_cb = data.draw(st.booleans(), label='with callback')
        kw = {}
        if data.draw(st.booleans(), label='keywords'):
            kw = dict(chtype=chtype, count=count, use_numpy=use_numpy)
            args = (h.chid,)
        else:
            args = (h.chid, chtype, count)
        cb = None
        if with_cb:
            cb = self.draw_callback(data, ReadCB, 'get %r' % (h,), h.chid if h.kind == 'conn' else None,
                                    use_numpy=use_numpy)
            if isinstance(cb, ReadCB):
                cb.desc = 'get(%r, chtype=%s, count=%s, use_numpy=%s)' % (
                    h, short(chtype), short(count), short(use_numpy))
            kw['callback'] = cb
            if 'use_numpy' not in kw:
                kw['use_numpy'] = use_numpy
        elif 'use_numpy' not in kw:
            kw['use_numpy'] = use_numpy
        kind, r, desc = self.call(ca.get, *args, **kw)
        desc = '%s [%r]' % (desc, h)
        tclass = self.type_class(chtype)
        if h.kind in ('none', 'stale'):
            assert kind == 'ret' and r == (ECA.BADCHID, None), \
                '%s: expected (BADCHID, None) (§6.4 step 1), got %s' % (desc, short(r))
            return
        if kind == 'exc':
            return
        self.check_ret_tuple(r, desc, GET_STATUSES)
        status, second = r
        if callable(cb):
            assert second is None, '%s: callback get returned %s' % (desc, short(second))
        if h.kind == 'junk':
            assert r == (ECA.BADCHID, None), (desc, r)
            return
        if tclass == 'badint' or (tclass == 'none' and h.kind == 'disc'):
            assert r == (ECA.BADTYPE, None), '%s: expected (BADTYPE, None) (§6.4/§12), got %s' % (
                desc, short(r))
            return
        if h.kind != 'conn':
            if second is not None:
                self.check_dbrvalue(second, desc)
            return
        # connected channel
        if tclass in ('junk', 'bigint'):
            raise AssertionError('%s: chtype %s accepted, returned %s' % (desc, short(chtype), short(r)))
        if count is not None and not is_index(count):
            raise AssertionError('%s: count %s accepted (§7: TypeError)' % (desc, short(count)))
        t = as_int(chtype) if tclass == 'valid' else DBF[h.record.dbf].value
        n = self.resolved_count(count, h.record.count, callable(cb))
        assert status == ECA.NORMAL, '%s: status %r on a connected channel' % (desc, status)
        if not callable(cb):
            self.check_dbrvalue(second, desc, t, n)
            self.dbrvalues.append((second, desc, t, n))

    def op_put(self, data, group=False):
        h = self.draw_chid(data)
        value = data.draw(values, label='value')
        chtype = data.draw(chtypes, label='chtype')
        count = data.draw(counts, label='count')
        if group:
            gid = self.draw_gid(data)
            kind, r, desc = self.call(ca.sg_put, gid, h.chid, value, chtype, count)
        else:
            cb = None
            if data.draw(st.booleans(), label='with callback'):
                cb = self.draw_callback(data, WriteCB, 'put %r value %s chtype %s count %s' % (
                    h, short(value), short(chtype), short(count)),
                    h.chid if h.kind == 'conn' else None)
            kind, r, desc = self.call(ca.put, h.chid, value, chtype, count, callback=cb)
        desc = '%s [%r]' % (desc, h)
        gstate = self.gid_state(gid) if group else 'live'
        if h.kind in ('none', 'stale') and gstate != 'junk':
            assert kind == 'ret' and r is ECA.BADCHID, \
                '%s: expected BADCHID (§6.5), got %s' % (desc, short(r))
            return
        expect_badtype = None      # why BADTYPE is the only documented outcome, if it is
        if h.kind == 'conn' and gstate != 'junk' and count is None:
            t = chtype if chtype is not None else DBF[h.record.dbf].value
            tclass = self.type_class(t)
            if tclass in ('valid', 'badint') and as_int(t) not in WRITABLE_TYPES:
                expect_badtype = 'a non-writable chtype gives BADTYPE (§8 step 1, §12)'
            elif tclass == 'valid' and (value is None or isinstance(value, (dict, set, Opaque))):
                expect_badtype = 'None/dict/set/object values give BADTYPE (§8 step 2)'
        if h.kind == 'disc' and chtype is None and gstate != 'junk':
            expect_badtype = 'chtype None on a disconnected channel gives BADTYPE (§12)'
        if kind == 'exc':
            assert expect_badtype is None, '%s raised %r; %s' % (desc, r, expect_badtype)
            return
        assert isinstance(r, ECA), '%s returned %s, not an ECA member' % (desc, short(r))
        assert r in (SG_PUT_STATUSES if group else PUT_STATUSES), \
            '%s: undocumented status %r' % (desc, r)
        if expect_badtype is not None:
            assert r is ECA.BADTYPE, '%s returned %r; %s' % (desc, r, expect_badtype)
        if h.kind == 'junk':
            assert r is ECA.BADCHID, (desc, r)
            return
        if h.kind != 'conn' or (group and gstate == 'invalid'):
            return
        assert gstate != 'junk', '%s: gid %s accepted (caffi/cffi raised TypeError, C4)' % (
            desc, short(gid))
        if chtype is None and count is None and isinstance(value, (int, float, Decimal, Fraction)) \
                and h.record.dbf == 'STRING':
            raise AssertionError('%s: a number written to a STRING channel gave %r (§8: TypeError)'
                                 % (desc, r))

    def op_sg_get(self, data):
        gid = self.draw_gid(data)
        h = self.draw_chid(data)
        chtype = data.draw(chtypes, label='chtype')
        count = data.draw(counts, label='count')
        use_numpy = data.draw(use_numpys, label='use_numpy')
        kind, r, desc = self.call(ca.sg_get, gid, h.chid, chtype, count, use_numpy)
        desc = '%s [%r]' % (desc, h)
        gstate = self.gid_state(gid)
        if h.kind in ('none', 'stale') and gstate != 'junk':
            assert kind == 'ret' and r == (ECA.BADCHID, None), (desc, short(r))
            return
        if kind == 'exc':
            if gstate != 'junk' and h.kind == 'conn':
                assert self.type_class(chtype) in ('junk', 'bigint') or \
                    (count is not None and not is_index(count)), \
                    '%s raised %r with a valid chtype and count' % (desc, r)
            return
        self.check_ret_tuple(r, desc, SG_GET_STATUSES)
        status, dv = r
        if status != ECA.NORMAL:
            assert dv is None, '%s: status %r with a DBRValue (§6.8)' % (desc, status)
        if h.kind == 'junk':
            assert r == (ECA.BADCHID, None), (desc, r)
            return
        tclass = self.type_class(chtype)
        if h.kind == 'disc' and tclass == 'none' and gstate == 'live':
            assert r == (ECA.DISCONN, None), '%s: expected (DISCONN, None) (§6.8)' % desc
            return
        if tclass == 'badint' and gstate == 'live':
            assert r == (ECA.BADTYPE, None), '%s: expected (BADTYPE, None) (§6.8)' % desc
            return
        if h.kind != 'conn':
            if dv is not None:
                self.check_dbrvalue(dv, desc)
            return
        assert gstate != 'junk', '%s: gid %s accepted (caffi/cffi raised TypeError, C4)' % (
            desc, short(gid))
        if gstate == 'invalid':
            assert r in ((ECA.BADSYNCGRP, None), (ECA.BADTYPE, None)), \
                '%s: expected (BADSYNCGRP, None)' % desc
            return
        assert tclass in ('none', 'valid'), '%s: chtype %s accepted' % (desc, short(chtype))
        assert count is None or is_index(count), '%s: count %s accepted (§7)' % (desc, short(count))
        assert status == ECA.NORMAL, '%s: %r on a connected channel and live group' % (desc, status)
        t = as_int(chtype) if tclass == 'valid' else DBF[h.record.dbf].value
        self.check_dbrvalue(dv, desc, t, self.resolved_count(count, h.record.count, False))

    def op_subscribe(self, data):
        h = self.draw_chid(data)
        chtype = data.draw(chtypes, label='chtype')
        count = data.draw(counts, label='count')
        mask = data.draw(masks, label='mask')
        use_numpy = data.draw(use_numpys, label='use_numpy')
        cb = self.draw_callback(data, ReadCB, '', h.chid if h.kind == 'conn' else None,
                                use_numpy=use_numpy, once=False)
        if isinstance(cb, ReadCB):
            cb.desc = 'create_subscription(%r, chtype=%s, count=%s, mask=%s, use_numpy=%s)' % (
                h, short(chtype), short(count), short(mask), short(use_numpy))
        kind, r, desc = self.call(ca.create_subscription, h.chid, cb, chtype, count, mask, use_numpy)
        desc = '%s [%r]' % (desc, h)
        if h.kind in ('none', 'stale'):
            assert kind == 'ret' and r == (ECA.BADCHID, None), (desc, short(r))
            return
        if kind == 'exc':
            return
        self.check_ret_tuple(r, desc, SUB_STATUSES)
        status, evid = r
        if status == ECA.NORMAL:
            assert evid, '%s: evid %r is not truthy' % (desc, evid)
            hash(evid)
            self.evids.append((evid, h, desc))
        else:
            assert evid is None, (desc, r)
        if h.kind == 'junk':
            assert r == (ECA.BADCHID, None), (desc, r)
            return
        tclass = self.type_class(chtype)
        if tclass == 'badint' or (tclass == 'none' and h.kind == 'disc'):
            assert r == (ECA.BADTYPE, None), '%s: expected (BADTYPE, None)' % desc
            return
        if h.kind != 'conn':
            return
        assert tclass in ('none', 'valid'), '%s: chtype %s accepted' % (desc, short(chtype))
        assert count is None or is_index(count), '%s: count %s accepted (§7)' % (desc, short(count))
        m = 5 if mask is None else (as_int(mask) if is_index(mask) else None)
        if m is not None and -2**63 <= m < 2**63:
            if (m & 0xFFFF) == 0 or (m & ~0xFFFF):
                assert status == ECA.BADMASK, '%s: mask %#x gave %r (§6.6: BADMASK)' % (desc, m, status)
            else:
                assert status == ECA.NORMAL, '%s: %r' % (desc, status)

    def op_clear_subscription(self, data):
        kind = data.draw(st.sampled_from(['live', 'live', 'stale', 'none', 'junk']), label='evid kind')
        i = data.draw(st.integers(0, 2**16 - 1), label='evid index')
        if kind == 'live' and self.evids:
            evid, h, created = self.evids.pop(i % len(self.evids))
            channel_alive = h.kind in ('conn', 'disc') or h in self.fresh
            k, r, desc = self.call(ca.clear_subscription, evid)
            expected = ECA.NORMAL if channel_alive else ECA.BADCHID
            assert k == 'ret' and r is expected, '%s (created by %s): got %s, expected %r' % (
                desc, created, short(r), expected)
            self.stale_evids.append(evid)
            del self.stale_evids[:-20]
        elif kind == 'stale' or kind == 'live':
            evid = self.stale_evids[i % len(self.stale_evids)]
            k, r, desc = self.call(ca.clear_subscription, evid)
            assert k == 'ret' and r is ECA.BADCHID, '%s on a stale evid: %s (§6.6/§12)' % (desc, short(r))
        elif kind == 'none':
            k, r, desc = self.call(ca.clear_subscription, None)
            assert k == 'exc' and isinstance(r, TypeError), '%s: %s (§6.6: TypeError)' % (desc, short(r))
        else:
            junk = data.draw(st.sampled_from(self.junk_handles + [self.conn[0].chid]), label='evid')
            k, r, desc = self.call(ca.clear_subscription, junk)
            assert (k == 'ret' and r is ECA.BADCHID) or (k == 'exc' and isinstance(r, TypeError)), \
                (desc, short(r))

    def op_create_channel(self, data):
        name = data.draw(st.one_of(
            st.sampled_from([r.name for r in FUZZ_RECORDS]),
            st.sampled_from([r.name.encode() for r in FUZZ_RECORDS]),
            st.sampled_from(['', b'', 'caffi:fuzz:none', 'catest.VAL', 'catest.DESC', 'cabo.ZNAM',
                             'a\x00b', 'x' * 500, 'é', b'\xff\xfe', StrSub('catest'),
                             None, 1, 1.5, ['catest'], object(), bytearray(b'catest')]),
            st.text(max_size=30)), label='name')
        cb = self.draw_callback(data, ConnCB, 'create_channel(%s)' % short(name))
        priority = data.draw(priorities, label='priority')
        args = (name, cb, priority) if data.draw(st.booleans(), label='positional') else (name,)
        kwargs = {} if len(args) == 3 else dict(callback=cb, priority=priority)
        kind, r, desc = self.call(ca.create_channel, *args, **kwargs)
        valid_priority = is_index(priority) and 0 <= as_int(priority) <= 99
        if kind == 'exc':
            if isinstance(name, str) and name and '\x00' not in name and valid_priority:
                raise AssertionError('%s raised %r for a valid name and priority' % (desc, r))
            if not isinstance(name, (str, bytes)) and not isinstance(r, TypeError):
                raise AssertionError('%s: non-text name raised %r (§6.2: TypeError)' % (desc, r))
            if is_index(priority) and as_int(priority) < 0 and not isinstance(r, (OverflowError, TypeError)):
                raise AssertionError('%s: negative priority raised %r (§6.2)' % (desc, r))
            return
        assert type(r) is tuple and len(r) == 2 and isinstance(r[0], ECA), (desc, short(r))
        status, chid = r
        assert is_index(priority), \
            '%s: priority %s accepted (caffi/cffi raised TypeError, C4)' % (desc, short(priority))
        assert not isinstance(name, (int, float, list, type(None))) or isinstance(name, bool), \
            '%s: non-text name accepted (§6.2: TypeError)' % desc
        if status == ECA.NORMAL:
            assert chid, (desc, chid)
            hash(chid)
            text = name.decode('utf-8', 'replace') if isinstance(name, (bytes, bytearray)) else name
            h = Handle('fresh', chid, name=str(text))
            if isinstance(cb, ConnCB):
                cb.chid = chid
            if isinstance(name, bytes) and not name.decode('utf-8', 'ignore') == name.decode('utf-8', 'replace'):
                h.name = None       # undecodable name: its str form is implementation-defined
            self.fresh.append(h)
            if len(self.fresh) > 12:
                self._retire(self.fresh[0])
        else:
            assert chid is None, (desc, r)
        if is_index(priority) and 100 <= as_int(priority) < 2**31 and isinstance(name, str) and name:
            assert r == (ECA.BADPRIORITY, None), '%s: expected (BADPRIORITY, None) (§6.2)' % desc
        if name in ('', b'') and is_index(priority) and 0 <= as_int(priority) <= 99:
            assert r == (ECA.BADSTR, None), '%s: expected (BADSTR, None) (§6.2)' % desc

    def _retire(self, h):
        k, r, desc = self.call(ca.clear_channel, h.chid)
        assert k == 'ret' and r is ECA.NORMAL, '%s on a live channel: %s' % (desc, short(r))
        self.fresh.remove(h)
        h.kind = 'stale'
        if h.name is not None:
            self.stale.append(h)
            del self.stale[2:-10]      # keep the two setup handles and the latest 10

    def op_clear_channel(self, data):
        kinds = ['stale', 'none', 'junk'] + ['fresh'] * 3
        kind = data.draw(st.sampled_from(kinds), label='clear kind')
        i = data.draw(st.integers(0, 2**16 - 1), label='chid index')
        if kind == 'fresh' and self.fresh:
            self._retire(self.fresh[i % len(self.fresh)])
            return
        if kind in ('stale', 'fresh'):
            h = self.stale[i % len(self.stale)]
            k, r, desc = self.call(ca.clear_channel, h.chid)
            assert k == 'ret' and r is ECA.BADCHID, '%s on a stale chid: %s (§6.2)' % (desc, short(r))
            return
        if kind == 'none':
            k, r, desc = self.call(ca.clear_channel, None)
            assert k == 'ret' and r is ECA.BADCHID, '%s: %s (§6.2: BADCHID for None)' % (desc, short(r))
            return
        junk = data.draw(st.sampled_from(self.junk_handles), label='chid')
        k, r, desc = self.call(ca.clear_channel, junk)
        assert (k == 'ret' and r is ECA.BADCHID) or (k == 'exc' and isinstance(r, TypeError)), \
            (desc, short(r))

    def op_info(self, data):
        self.check_info(self.draw_chid(data))

    def op_events(self, data):
        h = self.draw_chid(data)
        which = data.draw(st.sampled_from(['conn', 'access']), label='which')
        if which == 'conn':
            cb = self.draw_callback(data, ConnCB, 'change_connection_event(%r)' % (h,),
                                    h.chid if h.kind != 'junk' else None)
            k, r, desc = self.call(ca.change_connection_event, h.chid, cb)
        else:
            cb = self.draw_callback(data, AccessCB, 'replace_access_rights_event(%r)' % (h,),
                                    h.chid if h.kind != 'junk' else None)
            before = cb.calls if isinstance(cb, AccessCB) else None
            k, r, desc = self.call(ca.replace_access_rights_event, h.chid, cb)
            if isinstance(cb, AccessCB) and h.kind == 'conn':
                assert cb.calls == before + 1, \
                    '%s: handler not called synchronously on a connected channel (§6.2)' % desc
        desc = '%s [%r]' % (desc, h)
        if h.kind in ('none', 'stale'):
            assert k == 'ret' and r is ECA.BADCHID, '%s: %s (expected BADCHID)' % (desc, short(r))
        elif h.kind == 'junk':
            assert (k == 'ret' and r is ECA.BADCHID) or (k == 'exc' and isinstance(r, TypeError)), \
                (desc, short(r))
        else:
            assert k == 'ret' and r is ECA.NORMAL, (desc, short(r))

    def op_sg_misc(self, data):
        which = data.draw(st.sampled_from(['block', 'test', 'reset', 'create', 'delete']),
                          label='sg op')
        if which == 'create':
            k, r, desc = self.call(ca.sg_create)
            assert k == 'ret' and type(r) is tuple and r[0] is ECA.NORMAL and type(r[1]) is int, (desc, r)
            self.gids.append(r[1])
            if r[1] in self.dead_gids:
                self.dead_gids.remove(r[1])
            return
        gid = self.draw_gid(data)
        state = self.gid_state(gid)
        if which == 'delete':
            if state == 'live' and len(self.gids) <= 2:
                return                 # keep two live groups
            k, r, desc = self.call(ca.sg_delete, gid)
            if state == 'live':
                assert k == 'ret' and r is ECA.NORMAL, (desc, short(r))
                self.gids.remove(as_int(gid))
                self.dead_gids.append(as_int(gid))
            elif state == 'invalid':
                assert k == 'ret' and r is ECA.BADSYNCGRP, (desc, short(r))
            else:
                if k == 'ret' and r is ECA.NORMAL and isinstance(gid, float) \
                        and int(gid) in self.gids:
                    # the junk gid was truncated to a live group, which is now gone
                    self.gids.remove(int(gid))
                    self.dead_gids.append(int(gid))
                    while len(self.gids) < 2:
                        self.gids.append(ca.sg_create()[1])
                assert k == 'exc', '%s accepted a junk gid: %s' % (desc, short(r))
            return
        if which == 'block':
            timeout = data.draw(timeouts, label='timeout')
            k, r, desc = self.call(ca.sg_block, gid, timeout)
            ok = {ECA.NORMAL, ECA.TIMEOUT}
        elif which == 'test':
            k, r, desc = self.call(ca.sg_test, gid)
            ok = {ECA.IODONE, ECA.IOINPROGRESS}
        else:
            k, r, desc = self.call(ca.sg_reset, gid)
            ok = {ECA.NORMAL}
        if state == 'live':
            assert k == 'ret' and r in ok, (desc, short(r))
        elif state == 'invalid':
            assert k == 'ret' and r is ECA.BADSYNCGRP, (desc, short(r))
        else:
            assert k == 'exc', '%s accepted a junk gid: %s' % (desc, short(r))

    def housekeeping(self):
        """Complete outstanding reads and check the DBRValues they filled."""
        # A fresh channel without connection handler that has not connected would make
        # pend_io wait for its whole timeout.
        for h in list(self.fresh):
            if ca.state(h.chid) != ChannelState.CONN:
                self._retire(h)
        # libca never completes a read or group request the server rejected (e.g. a PUT_ACKT
        # read, or a write of an unknown enum string): pend_io / sg_block then time out. So the
        # timeouts are short; successful requests complete within milliseconds on loopback.
        k, r, desc = self.call(ca.pend_io, 0.3)
        assert k == 'ret' and r in (ECA.NORMAL, ECA.TIMEOUT), (desc, short(r))
        for dv, d, t, n in self.dbrvalues:
            self.check_dbrvalue(dv, d + ' after pend_io', t, n)
        self.dbrvalues = []
        for gid in list(self.gids):
            k, r, desc = self.call(ca.sg_block, gid, 0.2)
            assert k == 'ret' and r in (ECA.NORMAL, ECA.TIMEOUT), (desc, short(r))
            if r == ECA.TIMEOUT:
                k, r, desc = self.call(ca.sg_reset, gid)
                assert k == 'ret' and r is ECA.NORMAL, (desc, short(r))
        while len(self.evids) > 30:
            evid, h, created = self.evids.pop(0)
            alive = h.kind in ('conn', 'disc') or h in self.fresh
            k, r, desc = self.call(ca.clear_subscription, evid)
            assert k == 'ret' and r is (ECA.NORMAL if alive else ECA.BADCHID), (desc, created, r)

    OPS = (['get'] * 6 + ['put'] * 6 + ['sg_get'] * 3 + ['sg_put'] * 3 + ['subscribe'] * 3
           + ['clear_subscription'] * 2 + ['create_channel'] * 2 + ['clear_channel'] * 2
           + ['info'] * 3 + ['events'] + ['sg_misc'])

    def example(self, data):
        faulthandler.dump_traceback_later(EXAMPLE_WATCHDOG, exit=True)
        self.examples += 1
        op = data.draw(st.sampled_from(self.OPS), label='operation')
        self.last_call = None
        t0 = time.monotonic()
        try:
            if op == 'sg_put':
                self.op_put(data, group=True)
            else:
                getattr(self, 'op_' + op)(data)
            if self.examples % HOUSEKEEPING_INTERVAL == 0:
                t1 = time.monotonic()
                self.housekeeping()
                self.op_time['housekeeping'] += time.monotonic() - t1
        except HypothesisException:
            raise
        except Exception as exc:
            if self.fail_fast:
                raise
            self.record_failure(exc)
        finally:
            dt = time.monotonic() - t0
            self.op_time[op] += dt
            if dt > 0.1:
                self.slow.append((round(dt, 2), self.last_call))
                self.slow.sort(key=lambda slow: slow[0], reverse=True)   # calls may not compare
                del self.slow[5:]

    def record_failure(self, exc):
        """Keep-going mode: one entry per distinct failure (assert line, or exception type and
        caffi function), with the first few reproducing calls."""
        tb = traceback.extract_tb(exc.__traceback__)
        if isinstance(exc, AssertionError):
            frame = [f for f in tb if f.filename == __file__][-1]
            key = 'check at fuzz_child.py:%d (%s)' % (frame.lineno, frame.name)
        else:
            func = (self.last_call or '?').split('(')[0]
            key = 'undocumented %s from %s()' % (type(exc).__name__, func)
        entry = self.failures.get(key)
        if entry is None:
            entry = self.failures[key] = {'count': 0, 'examples': []}
        entry['count'] += 1
        if len(entry['examples']) < 3:
            text = '%s: %s' % (type(exc).__name__, exc)
            if not isinstance(exc, AssertionError):
                text += '\n    call: %s\n%s' % (self.last_call, ''.join(
                    traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:]))
            entry['examples'].append(text[:3000])


# ---------------------------------------------------------------------------------------------
# Record values: snapshot before, restore after (the IOC is shared with the other tests).

def snapshot(fuzzer):
    saved = {}
    for h in fuzzer.conn:
        if h.name in NO_RESTORE:
            continue
        done = threading.Event()
        box = {}

        def cb(arg, box=box, done=done):
            box['v'] = arg
            done.set()
        status, _ = ca.get(h.chid, None, 0, callback=cb)
        ca.flush_io()
        if status == ECA.NORMAL and done.wait(5) and box['v']['status'] == ECA.NORMAL:
            saved[h.name] = box['v']['value']
        done2 = threading.Event()
        box2 = {}

        def cb2(arg, box=box2, done=done2):
            box['v'] = arg
            done.set()
        status, _ = ca.get(h.chid, DBR.STSACK_STRING, 1, callback=cb2)
        ca.flush_io()
        if status == ECA.NORMAL and done2.wait(5) and box2['v']['status'] == ECA.NORMAL:
            saved[h.name + '/ackt'] = box2['v']['value']['ackt']
            if box2['v']['value']['acks'] == 0:
                # Nothing was unacknowledged: acknowledge whatever alarms the fuzz raised
                # (PUT_ACKS 3 acknowledges every severity), so later tests start alike.
                saved[h.name + '/acks'] = 3
    return saved


def restore(fuzzer, saved):
    problems = []
    for h in fuzzer.conn:
        for key, chtype in ((h.name, None), (h.name + '/ackt', DBR.PUT_ACKT),
                            (h.name + '/acks', DBR.PUT_ACKS)):
            if key not in saved:
                continue
            value = saved[key]
            if isinstance(value, list) and not value:
                value = []
            done = threading.Event()
            status = ca.put(h.chid, value, chtype, callback=lambda arg, d=done: d.set())
            ca.flush_io()
            if status != ECA.NORMAL or not done.wait(5):
                problems.append('%s: %r' % (key, status))
    return problems


# ---------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('max_examples', type=int)
    parser.add_argument('--seed', type=int, default=20240601)
    parser.add_argument('--trace', default=None)
    parser.add_argument('--fail-fast', action='store_true',
                        help='stop at the first failure and let Hypothesis shrink it')
    args = parser.parse_args()

    faulthandler.enable()
    sys.unraisablehook = _unraisable_hook
    started = time.monotonic()
    assert ca.create_context(True) == ECA.NORMAL
    exc_cb = ExcCB('add_exception_event (setup)')
    assert ca.add_exception_event(exc_cb) == ECA.NORMAL
    fuzzer = Fuzzer(args.trace)
    fuzzer.fail_fast = args.fail_fast
    saved = snapshot(fuzzer)
    phases = {'setup': time.monotonic() - started}

    @seed(args.seed)
    @settings(max_examples=args.max_examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(data=st.data())
    def fuzz(data):
        fuzzer.example(data)

    try:
        t0 = time.monotonic()
        fuzz()
        phases['hypothesis'] = time.monotonic() - t0
    finally:
        faulthandler.cancel_dump_traceback_later()
        faulthandler.dump_traceback_later(120, exit=True)   # the wrap-up must not hang either
        # let outstanding callbacks arrive, then check what they saw
        ca.flush_io()
        ca.pend_io(2.0)
        time.sleep(1.0)
        for evid, h, created in fuzzer.evids:
            ca.clear_subscription(evid)
        for h in list(fuzzer.fresh):
            ca.clear_channel(h.chid)
        problems = restore(fuzzer, saved)
        gc.collect()
        time.sleep(0.2)
    faulthandler.cancel_dump_traceback_later()
    phases['total'] = time.monotonic() - started
    summary = dict(phase_seconds={k: round(v, 1) for k, v in phases.items()},
                   examples=fuzzer.examples, calls=fuzzer.calls, seed=args.seed,
                   seconds=round(time.monotonic() - started, 1), findings=len(FINDINGS),
                   failures={k: v['count'] for k, v in fuzzer.failures.items()},
                   op_seconds={k: round(v, 2) for k, v in fuzzer.op_time.most_common()},
                   slowest=fuzzer.slow,
                   restore_problems=problems, counts=dict(COUNTS),
                   outcomes=dict(sorted(fuzzer.outcomes.items())))
    print('FUZZ-SUMMARY ' + json.dumps(summary), flush=True)
    if fuzzer.failures:
        sys.stderr.write('%d distinct failure(s) in the examples:\n' % len(fuzzer.failures))
        for key, entry in fuzzer.failures.items():
            sys.stderr.write('=== %s: %d example(s)\n' % (key, entry['count']))
            for text in entry['examples']:
                sys.stderr.write('  - %s\n' % text)
    if FINDINGS:
        sys.stderr.write('%d finding(s) outside the example functions (callbacks):\n' % len(FINDINGS))
        for text in FINDINGS[:30]:
            sys.stderr.write('---\n%s\n' % text)
    if fuzzer.failures or FINDINGS:
        sys.stderr.flush()
        os._exit(1)
    ca.destroy_context()
    sys.stdout.flush()
    sys.stderr.flush()


if __name__ == '__main__':
    main()
