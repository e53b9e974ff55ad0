# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""DBR buffers <-> Python objects.

Everything that turns libca's C data into Python values (API.md §9) or Python values into the C
arrays libca writes (§8) lives here, driven by one table of request-type layouts. _ca.pyx calls
format_buffer() from its callback trampolines and prepare_put() before every write.
"""

from libc.stdlib cimport calloc, malloc, free
from libc.string cimport memcpy

cdef extern from "<string.h>" nogil:
    size_t strnlen(const char *s, size_t maxlen)
from libc.float cimport FLT_MAX
from libc.stdint cimport INT16_MIN, INT16_MAX, INT32_MIN, INT32_MAX, UINT8_MAX, UINT16_MAX
from libc.math cimport INFINITY
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBuffer_FillInfo,
                             PyObject_CheckBuffer, PyBUF_SIMPLE, PyBUF_FORMAT, PyBUF_ND,
                             PyBUF_C_CONTIGUOUS)
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.float cimport PyFloat_FromDouble, PyFloat_AsDouble
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
from cpython.unicode cimport PyUnicode_DecodeUTF8, PyUnicode_AsUTF8String

cimport alarm
cimport cadef
cimport caerr
cimport db_access as dba

import array as _array_module
import collections.abc as _abc
import numbers as _numbers
from types import MappingProxyType as _MappingProxyType
from decimal import Decimal as _Decimal
from fractions import Fraction as _Fraction
from operator import index as _index

include "_enums.pxi"


# ---------------------------------------------------------------------------------------------
# Header constants that no enum carries, for caffi.macros (which re-exports them) and caffi.cli.

TYPENOTCONN = dba.TYPENOTCONN
DBF_NO_ACCESS = dba.DBF_NO_ACCESS
CA_M_MSG_NO = caerr.CA_M_MSG_NO
CA_M_SEVERITY = caerr.CA_M_SEVERITY
CA_M_LEVEL = caerr.CA_M_LEVEL
CA_M_SUCCESS = caerr.CA_M_SUCCESS
CA_M_ERROR = caerr.CA_M_ERROR
CA_M_SEVERE = caerr.CA_M_SEVERE
CA_V_MSG_NO = caerr.CA_V_MSG_NO
CA_V_SEVERITY = caerr.CA_V_SEVERITY
CA_V_SUCCESS = caerr.CA_V_SUCCESS
# POSIX seconds at the EPICS epoch (epicsTime.h): DBR_TIME_* stamps count from there.
POSIX_TIME_AT_EPICS_EPOCH = dba.POSIX_TIME_AT_EPICS_EPOCH


# ---------------------------------------------------------------------------------------------
# C numbers -> enum members. Tuples indexed by value replace IntEnum's own lookup (a dict plus
# exception handling) on the hot path; numbers outside the enum come back as plain ints (§10).

cdef tuple _DBR_BY_VALUE = tuple(DBR(v) for v in range(dba.TYPENOTCONN, dba.LAST_BUFFER_TYPE + 1))
cdef tuple _DBF_BY_VALUE = tuple(DBF(v) for v in range(dba.TYPENOTCONN, dba.LAST_TYPE + 1))
cdef tuple _CA_OP_BY_VALUE = tuple(CA_OP)
cdef tuple _CHANNEL_STATE_BY_VALUE = tuple(ChannelState)
cdef tuple _SEVERITY_BY_VALUE = tuple(AlarmSeverity)
cdef tuple _CONDITION_BY_VALUE = tuple(AlarmCondition)
cdef tuple _ECA_BY_VALUE = tuple(ECA._value2member_map_.get(v) for v in range(max(ECA) + 1))


cdef inline object _member_of(tuple table, long value, long first):
    cdef long i = value - first
    if 0 <= i < len(table):
        member = table[i]
        if member is not None:
            return member
    return value


cdef object dbr_member(long value):
    return _member_of(_DBR_BY_VALUE, value, dba.TYPENOTCONN)


cdef object dbf_member(long value):
    return _member_of(_DBF_BY_VALUE, value, dba.TYPENOTCONN)


cdef object eca_member(long value):
    return _member_of(_ECA_BY_VALUE, value, 0)


cdef object op_member(long value):
    return _member_of(_CA_OP_BY_VALUE, value, 0)


cdef object channel_state_member(long value):
    return _member_of(_CHANNEL_STATE_BY_VALUE, value, 0)


def message(status):
    """libca's text for a status code; unknown codes get libca's generic text."""
    cdef long code = status
    cdef const char *text
    with nogil:
        text = caerr.ca_message(code)
    return text.decode('utf-8', 'replace') if text != NULL else ''


# ---------------------------------------------------------------------------------------------
# The layout table: for each request type 0..LAST_BUFFER_TYPE, what the buffer holds and where.

cdef enum:
    # The element kinds: the DBF base types, so that `request type % BASE_TYPE_COUNT` is the
    # kind for the plain, STS, TIME, GR and CTRL types.
    KIND_STRING = dba.DBF_STRING
    KIND_SHORT = dba.DBF_SHORT
    KIND_FLOAT = dba.DBF_FLOAT
    KIND_ENUM = dba.DBF_ENUM
    KIND_CHAR = dba.DBF_CHAR
    KIND_LONG = dba.DBF_LONG
    KIND_DOUBLE = dba.DBF_DOUBLE

cdef enum Shape:
    SHAPE_PLAIN          # the value alone
    SHAPE_STS            # status, severity, value
    SHAPE_TIME           # status, severity, stamp, value
    SHAPE_LIMITS         # GR_/CTRL_ numeric: units, limits, [precision], value
    SHAPE_ENUM_LABELS    # GR_/CTRL_ENUM: no_str, strs, value
    SHAPE_STSACK         # status, severity, ackt, acks, value
    SHAPE_CLASS_NAME     # the record type name (text, no dict)
    SHAPE_WRITE_ONLY     # PUT_ACKT / PUT_ACKS: nothing to read

cdef struct RequestLayout:
    int shape
    int element
    Py_ssize_t value_offset
    Py_ssize_t units_offset
    Py_ssize_t limits_offset
    int limit_count
    Py_ssize_t precision_offset       # -1: the type carries no precision

cdef RequestLayout LAYOUT[dba.LAST_BUFFER_TYPE + 1]
cdef Py_ssize_t ELEMENT_SIZE[BASE_TYPE_COUNT]
ELEMENT_SIZE[KIND_STRING] = sizeof(dba.dbr_string_t)
ELEMENT_SIZE[KIND_SHORT] = sizeof(dba.dbr_short_t)
ELEMENT_SIZE[KIND_FLOAT] = sizeof(dba.dbr_float_t)
ELEMENT_SIZE[KIND_ENUM] = sizeof(dba.dbr_enum_t)
ELEMENT_SIZE[KIND_CHAR] = sizeof(dba.dbr_char_t)
ELEMENT_SIZE[KIND_LONG] = sizeof(dba.dbr_long_t)
ELEMENT_SIZE[KIND_DOUBLE] = sizeof(dba.dbr_double_t)

# The limits of GR_ types, then the two CTRL_ types add. The dicts list lower_alarm before
# lower_warning, as caffi did; the place of each limit in memory (in elements after
# upper_disp_limit) comes from the header's structure, the same for every numeric type.
cdef tuple LIMIT_KEYS = ('upper_disp_limit', 'lower_disp_limit', 'upper_alarm_limit',
                         'upper_warning_limit', 'lower_alarm_limit', 'lower_warning_limit')
cdef tuple CTRL_LIMIT_KEYS = ('upper_ctrl_limit', 'lower_ctrl_limit')
cdef enum:
    GR_LIMIT_COUNT = 6
    CTRL_LIMIT_COUNT = GR_LIMIT_COUNT + 2
cdef int LIMIT_MEMORY_INDEX[CTRL_LIMIT_COUNT]


cdef void _find_limits():
    cdef int i
    cdef dba.dbr_ctrl_double c
    cdef const dba.dbr_double_t *fields[CTRL_LIMIT_COUNT]
    fields[:] = [&c.upper_disp_limit, &c.lower_disp_limit, &c.upper_alarm_limit,
                 &c.upper_warning_limit, &c.lower_alarm_limit, &c.lower_warning_limit,
                 &c.upper_ctrl_limit, &c.lower_ctrl_limit]
    for i in range(CTRL_LIMIT_COUNT):
        LIMIT_MEMORY_INDEX[i] = fields[i] - &c.upper_disp_limit

_find_limits()


cdef inline Py_ssize_t _offset(const void *base, const void *field):
    return <const char *>field - <const char *>base


cdef void _set_limits(int dbrtype, const void *base, const void *units, const void *limits,
                      const void *precision):
    LAYOUT[dbrtype].shape = SHAPE_LIMITS
    LAYOUT[dbrtype].units_offset = _offset(base, units)
    LAYOUT[dbrtype].limits_offset = _offset(base, limits)
    LAYOUT[dbrtype].limit_count = CTRL_LIMIT_COUNT if dbrtype >= dba.DBR_CTRL_STRING else GR_LIMIT_COUNT
    LAYOUT[dbrtype].precision_offset = _offset(base, precision) if precision != NULL else -1


cdef void _build_layouts():
    cdef int t
    cdef dba.dbr_gr_short gr_short
    cdef dba.dbr_gr_float gr_float
    cdef dba.dbr_gr_char gr_char
    cdef dba.dbr_gr_long gr_long
    cdef dba.dbr_gr_double gr_double
    cdef dba.dbr_ctrl_short ctrl_short
    cdef dba.dbr_ctrl_float ctrl_float
    cdef dba.dbr_ctrl_char ctrl_char
    cdef dba.dbr_ctrl_long ctrl_long
    cdef dba.dbr_ctrl_double ctrl_double
    for t in range(dba.LAST_BUFFER_TYPE + 1):
        if t < dba.DBR_STS_STRING:
            LAYOUT[t].shape = SHAPE_PLAIN
        elif t < dba.DBR_TIME_STRING or dba.DBR_GR_STRING <= t <= dba.DBR_CTRL_DOUBLE:
            LAYOUT[t].shape = SHAPE_STS
        elif t < dba.DBR_GR_STRING:
            LAYOUT[t].shape = SHAPE_TIME
        else:
            LAYOUT[t].shape = SHAPE_WRITE_ONLY
        LAYOUT[t].element = t % BASE_TYPE_COUNT
        LAYOUT[t].value_offset = dba.dbr_value_offset[t]
        LAYOUT[t].precision_offset = -1
    # GR/CTRL of STRING keep the STS shape (the server answers with dbr_sts_string);
    # GR/CTRL of ENUM carry state labels; the numeric ones carry units and limits.
    LAYOUT[dba.DBR_GR_ENUM].shape = SHAPE_ENUM_LABELS
    LAYOUT[dba.DBR_CTRL_ENUM].shape = SHAPE_ENUM_LABELS
    _set_limits(dba.DBR_GR_SHORT, &gr_short, gr_short.units, &gr_short.upper_disp_limit, NULL)
    _set_limits(dba.DBR_GR_FLOAT, &gr_float, gr_float.units, &gr_float.upper_disp_limit, &gr_float.precision)
    _set_limits(dba.DBR_GR_CHAR, &gr_char, gr_char.units, &gr_char.upper_disp_limit, NULL)
    _set_limits(dba.DBR_GR_LONG, &gr_long, gr_long.units, &gr_long.upper_disp_limit, NULL)
    _set_limits(dba.DBR_GR_DOUBLE, &gr_double, gr_double.units, &gr_double.upper_disp_limit, &gr_double.precision)
    _set_limits(dba.DBR_CTRL_SHORT, &ctrl_short, ctrl_short.units, &ctrl_short.upper_disp_limit, NULL)
    _set_limits(dba.DBR_CTRL_FLOAT, &ctrl_float, ctrl_float.units, &ctrl_float.upper_disp_limit, &ctrl_float.precision)
    _set_limits(dba.DBR_CTRL_CHAR, &ctrl_char, ctrl_char.units, &ctrl_char.upper_disp_limit, NULL)
    _set_limits(dba.DBR_CTRL_LONG, &ctrl_long, ctrl_long.units, &ctrl_long.upper_disp_limit, NULL)
    _set_limits(dba.DBR_CTRL_DOUBLE, &ctrl_double, ctrl_double.units, &ctrl_double.upper_disp_limit, &ctrl_double.precision)
    LAYOUT[dba.DBR_STSACK_STRING].shape = SHAPE_STSACK
    LAYOUT[dba.DBR_STSACK_STRING].element = KIND_STRING
    LAYOUT[dba.DBR_CLASS_NAME].shape = SHAPE_CLASS_NAME
    LAYOUT[dba.DBR_CLASS_NAME].element = KIND_STRING

_build_layouts()


cdef Py_ssize_t request_size(long dbrtype, long count) except -1:
    """Bytes of a request buffer, as the C macro dbr_size_n() computes them."""
    if not 0 <= dbrtype <= dba.LAST_BUFFER_TYPE:
        raise IndexError(f'request type {dbrtype} is not in 0..{dba.LAST_BUFFER_TYPE}')
    if count <= 0:
        return dba.dbr_size[dbrtype]
    return dba.dbr_size[dbrtype] + (count - 1) * <Py_ssize_t>dba.dbr_value_size[dbrtype]


def dbr_size_n(TYPE, COUNT):
    """Size in bytes of a request buffer of TYPE holding COUNT elements (API.md §9.6)."""
    return request_size(TYPE, COUNT)


# ---------------------------------------------------------------------------------------------
# Elements -> Python scalars, lists and ndarrays.

cdef object decode_text(const char *text, Py_ssize_t field_size):
    """A fixed-size C text field up to its first NUL: str, or bytes when it is not UTF-8."""
    cdef Py_ssize_t n = strnlen(text, field_size)
    try:
        return PyUnicode_DecodeUTF8(text, n, NULL)
    except UnicodeDecodeError:
        return PyBytes_FromStringAndSize(text, n)


cdef inline object element_object(int kind, const char *p):
    if kind == KIND_DOUBLE:
        return PyFloat_FromDouble((<const double *>p)[0])
    if kind == KIND_FLOAT:
        return PyFloat_FromDouble((<const float *>p)[0])
    if kind == KIND_LONG:
        return (<const dba.dbr_long_t *>p)[0]
    if kind == KIND_SHORT:
        return (<const dba.dbr_short_t *>p)[0]
    if kind == KIND_ENUM:
        return (<const dba.dbr_enum_t *>p)[0]
    if kind == KIND_CHAR:
        return (<const dba.dbr_char_t *>p)[0]
    return decode_text(p, dba.MAX_STRING_SIZE)


cdef list element_list(int kind, const char *p, Py_ssize_t count):
    cdef list result = PyList_New(count)
    cdef Py_ssize_t i
    cdef Py_ssize_t step = ELEMENT_SIZE[kind]
    cdef object item
    # One branch per kind outside the loop keeps the loops tight for large waveforms.
    if kind == KIND_DOUBLE:
        for i in range(count):
            item = PyFloat_FromDouble((<const double *>p)[i])
            Py_INCREF(item)
            PyList_SET_ITEM(result, i, item)
    elif kind == KIND_FLOAT:
        for i in range(count):
            item = PyFloat_FromDouble((<const float *>p)[i])
            Py_INCREF(item)
            PyList_SET_ITEM(result, i, item)
    else:
        for i in range(count):
            item = element_object(kind, p + i * step)
            Py_INCREF(item)
            PyList_SET_ITEM(result, i, item)
    return result


# numpy is imported on first use: plain list users never pay for it.
cdef object _np_empty = None
cdef tuple _np_dtypes = None
cdef bint _numpy_tried = False


cdef bint numpy_available():
    global _np_empty, _np_dtypes, _numpy_tried
    if not _numpy_tried:
        _numpy_tried = True
        try:
            import numpy
        except ImportError:
            return False
        _np_dtypes = (None, numpy.dtype(numpy.int16), numpy.dtype(numpy.float32),
                      numpy.dtype(numpy.uint16), numpy.dtype(numpy.uint8),
                      numpy.dtype(numpy.int32), numpy.dtype(numpy.float64))
        _np_empty = numpy.empty
    return _np_empty is not None


cdef object element_array(int kind, const char *p, Py_ssize_t count):
    """A new owning ndarray filled with one memcpy from the C buffer."""
    cdef object array = _np_empty(count, _np_dtypes[kind])
    cdef Py_buffer view
    PyObject_GetBuffer(array, &view, PyBUF_SIMPLE)
    try:
        with nogil:
            memcpy(view.buf, p, count * ELEMENT_SIZE[kind])
    finally:
        PyBuffer_Release(&view)
    return array


cdef object format_value(int kind, const char *p, long count, bint use_numpy):
    if count == 1:
        return element_object(kind, p)
    if count < 0:
        count = 0
    if use_numpy and kind != KIND_STRING and numpy_available():
        return element_array(kind, p, count)
    return element_list(kind, p, count)


# ---------------------------------------------------------------------------------------------
# Whole DBR buffers -> the §9 results.

cdef dict stamp_dict(const dba.epicsTimeStamp *stamp):
    cdef long long seconds = <long long>stamp.secPastEpoch + <long long>dba.POSIX_TIME_AT_EPICS_EPOCH
    return {'seconds': seconds, 'nanoseconds': stamp.nsec,
            'timestamp': seconds + stamp.nsec / 1e9}


cdef object format_buffer(long dbrtype, long count, const void *data, bint use_numpy):
    """The Python value of a DBR buffer of `dbrtype` holding `count` elements (§9)."""
    if not 0 <= dbrtype <= dba.LAST_BUFFER_TYPE:
        return None
    cdef const RequestLayout *layout = &LAYOUT[dbrtype]
    cdef const char *base = <const char *>data
    cdef const char *value_ptr = base + layout.value_offset
    cdef int shape = layout.shape
    cdef int kind = layout.element
    cdef int i
    cdef Py_ssize_t step
    cdef const dba.dbr_gr_enum *labels
    cdef int no_str
    cdef const dba.dbr_sts_short *sts = <const dba.dbr_sts_short *>data
    if shape == SHAPE_PLAIN or shape == SHAPE_CLASS_NAME:
        return format_value(kind, value_ptr, count, use_numpy)
    if shape == SHAPE_WRITE_ONLY:
        return None
    cdef dict result
    if shape == SHAPE_STSACK:
        # status and severity are unsigned in this one structure
        result = {'status': _member_of(_CONDITION_BY_VALUE, (<const dba.dbr_stsack_string *>data).status, 0),
                  'severity': _member_of(_SEVERITY_BY_VALUE, (<const dba.dbr_stsack_string *>data).severity, 0),
                  'ackt': (<const dba.dbr_stsack_string *>data).ackt,
                  'acks': _member_of(_SEVERITY_BY_VALUE, (<const dba.dbr_stsack_string *>data).acks, 0)}
    else:
        result = {'status': _member_of(_CONDITION_BY_VALUE, sts.status, 0),
                  'severity': _member_of(_SEVERITY_BY_VALUE, sts.severity, 0)}
    if shape == SHAPE_TIME:
        result['stamp'] = stamp_dict(&(<const dba.dbr_time_short *>data).stamp)
    elif shape == SHAPE_LIMITS:
        result['units'] = decode_text(base + layout.units_offset, dba.MAX_UNITS_SIZE)
        step = ELEMENT_SIZE[kind]
        for i in range(GR_LIMIT_COUNT):
            result[LIMIT_KEYS[i]] = element_object(kind, base + layout.limits_offset + LIMIT_MEMORY_INDEX[i] * step)
        if layout.precision_offset >= 0:
            result['precision'] = (<const dba.dbr_short_t *>(base + layout.precision_offset))[0]
        for i in range(GR_LIMIT_COUNT, layout.limit_count):
            result[CTRL_LIMIT_KEYS[i - GR_LIMIT_COUNT]] = element_object(kind, base + layout.limits_offset + LIMIT_MEMORY_INDEX[i] * step)
    elif shape == SHAPE_ENUM_LABELS:
        labels = <const dba.dbr_gr_enum *>data
        no_str = labels.no_str
        result['no_str'] = no_str
        result['strs'] = tuple([decode_text(labels.strs[i], dba.MAX_ENUM_STRING_SIZE)
                                for i in range(max(0, min(no_str, dba.MAX_ENUM_STATES)))])
    result['value'] = format_value(kind, value_ptr, count, use_numpy)
    return result


cdef class DBRBuffer:
    """Zero-filled C memory that libca writes a read reply into.

    The memory never moves or shrinks while the object lives, so the address handed to libca
    stays valid; the binding keeps the object referenced for as long as libca may write (§11.7).
    It exposes the raw bytes through the buffer protocol.
    """

    def __cinit__(self, Py_ssize_t size):
        self.data = <char *>calloc(max(size, 1), 1)
        if self.data == NULL:
            raise MemoryError()
        self.size = size

    def __dealloc__(self):
        free(self.data)

    def __len__(self):
        return self.size

    def __getbuffer__(self, Py_buffer *buffer, int flags):
        PyBuffer_FillInfo(buffer, self, self.data, self.size, 0, flags)

    def __releasebuffer__(self, Py_buffer *buffer):
        pass


def format_dbr(dbrType, count, dbrValue, use_numpy=False):
    """Format raw DBR memory (any buffer-protocol object) as API.md §9 describes."""
    if dbrValue is None:
        return None
    cdef long dbrtype = _index(dbrType)
    cdef long n = _index(count)
    if not 0 <= dbrtype <= dba.LAST_BUFFER_TYPE or LAYOUT[dbrtype].shape == SHAPE_WRITE_ONLY:
        return None
    cdef Py_buffer view
    PyObject_GetBuffer(dbrValue, &view, PyBUF_SIMPLE)
    try:
        if view.len < request_size(dbrtype, n):
            raise ValueError(f'a {dbr_member(dbrtype)!r} buffer of {n} elements needs '
                             f'{request_size(dbrtype, n)} bytes, got {view.len}')
        return format_buffer(dbrtype, n, view.buf, bool(use_numpy))
    finally:
        PyBuffer_Release(&view)


cdef class DBRValue:
    """The result of a get() without callback: request type, count and the buffer libca fills.

    get() formats the buffer anew on every call; with use_numpy a numeric array is one memcpy
    from the buffer into a new ndarray, so the array the caller gets is its own.
    """

    def __init__(self, dbrtype=DBR.INVALID, count=0, cvalue=None, use_numpy=False):
        self.dbrtype = dbrtype
        self.count = count
        self.cvalue = cvalue
        self.use_numpy = use_numpy

    def get(self):
        return format_dbr(self.dbrtype, self.count, self.cvalue, self.use_numpy)

    def __repr__(self):
        return f'DBRValue({self.dbrtype!r}, {self.count!r}, use_numpy={self.use_numpy!r})'


# ---------------------------------------------------------------------------------------------
# Python values -> the C array of a write (§8).

cdef enum:
    PAYLOAD_NOT_A_BUFFER = -1

# struct-module format characters of the element kinds, to recognise buffers libca can take as
# they are. int32 is 'i' on every platform caffi builds for; 'l' also matches when long is 4 bytes.
cdef tuple BUFFER_FORMATS = (None, ('h',), ('f',), ('H',), ('B',), ('i', 'l') if sizeof(long) == 4 else ('i',), ('d',))

# What each integer element kind accepts (API.md §8): the range of its C type.
INTEGER_RANGES = _MappingProxyType({DBF.SHORT: (INT16_MIN, INT16_MAX), DBF.ENUM: (0, UINT16_MAX),
                                    DBF.CHAR: (0, UINT8_MAX), DBF.LONG: (INT32_MIN, INT32_MAX)})
cdef long long INTEGER_MIN[BASE_TYPE_COUNT]
cdef long long INTEGER_MAX[BASE_TYPE_COUNT]


cdef void _fill_integer_ranges():
    for kind, (low, high) in INTEGER_RANGES.items():
        INTEGER_MIN[kind] = low
        INTEGER_MAX[kind] = high

_fill_integer_ranges()


cdef class PutPayload:

    def __dealloc__(self):
        free(self.owned)

    cdef void allocate(self, Py_ssize_t nbytes) except *:
        self.owned = <char *>calloc(max(nbytes, 1), 1)
        if self.owned == NULL:
            raise MemoryError()
        self.data = self.owned


cdef inline int write_kind(long dbrtype):
    """The element kind a writable request type stores, or -1 for types that cannot be put."""
    if 0 <= dbrtype <= dba.DBR_DOUBLE:
        return dbrtype
    if dbrtype == dba.DBR_PUT_ACKT or dbrtype == dba.DBR_PUT_ACKS:
        return KIND_ENUM            # both are unsigned 16-bit
    return -1


# The writable request types (write_kind() for Python): request type -> the DBF element kind.
WRITE_KINDS = _MappingProxyType({DBR(t): DBF(write_kind(t))
                                 for t in range(dba.LAST_BUFFER_TYPE + 1) if write_kind(t) >= 0})
WRITABLE_TYPES = tuple(WRITE_KINDS)


cdef inline bint is_text(object value):
    return isinstance(value, (str, bytes))


cdef bytes text_bytes(object text):
    return PyUnicode_AsUTF8String(text) if isinstance(text, str) else text


cdef double real_element(object item) except? -1.0:
    if is_text(item) or item is None or isinstance(item, complex):
        raise TypeError(f'cannot write {type(item).__name__} {item!r} as a floating-point number')
    return PyFloat_AsDouble(item)


cdef long long integer_element(object item, int kind) except? -1:
    cdef object number
    if isinstance(item, float) or is_text(item):
        raise TypeError(f'cannot write {type(item).__name__} {item!r} to an integer type')
    if hasattr(type(item), '__index__'):
        number = _index(item)
    elif isinstance(item, (_Decimal, _Fraction)):
        number = int(item)
    else:
        raise TypeError(f'cannot write {type(item).__name__} {item!r} to an integer type')
    if not INTEGER_MIN[kind] <= number <= INTEGER_MAX[kind]:
        raise OverflowError(f'{number} is out of range {INTEGER_MIN[kind]}..{INTEGER_MAX[kind]} '
                            f'of {DBF(kind).name}')
    return number


cdef inline float float32_of(double x) nogil:
    # A double beyond float32's range becomes an infinity (a plain C cast is undefined there).
    if x > FLT_MAX:
        return INFINITY
    if x < -FLT_MAX:
        return -INFINITY
    return <float>x


cdef int store_elements(PutPayload payload, int kind, object items, Py_ssize_t count) except -1:
    """Convert the first `count` items into a new C array; returns ECA_NORMAL or ECA_BADSTR."""
    cdef Py_ssize_t i
    cdef char *out
    cdef bytes text
    payload.allocate(count * ELEMENT_SIZE[kind])
    out = payload.owned
    for i in range(count):
        item = items[i]
        if kind == KIND_DOUBLE:
            (<double *>out)[i] = real_element(item)
        elif kind == KIND_FLOAT:
            (<float *>out)[i] = float32_of(real_element(item))
        elif kind == KIND_STRING:
            if not is_text(item):
                raise TypeError(f'cannot write {type(item).__name__} {item!r} as a string')
            text = text_bytes(item)
            if PyBytes_GET_SIZE(text) >= dba.MAX_STRING_SIZE:
                return caerr.ECA_BADSTR
            memcpy(out + i * dba.MAX_STRING_SIZE, PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text))
        elif kind == KIND_SHORT:
            (<dba.dbr_short_t *>out)[i] = <dba.dbr_short_t>integer_element(item, kind)
        elif kind == KIND_LONG:
            (<dba.dbr_long_t *>out)[i] = <dba.dbr_long_t>integer_element(item, kind)
        elif kind == KIND_ENUM:
            (<dba.dbr_enum_t *>out)[i] = <dba.dbr_enum_t>integer_element(item, kind)
        else:
            (<dba.dbr_char_t *>out)[i] = <dba.dbr_char_t>integer_element(item, kind)
    return caerr.ECA_NORMAL


cdef bint borrow_buffer(PutPayload payload, int kind, object value, Py_ssize_t *n):
    """Use a contiguous 1-D buffer whose items already have the C type as it is (no copy)."""
    cdef Py_buffer view
    if kind == KIND_STRING or not PyObject_CheckBuffer(value):
        return False
    try:
        PyObject_GetBuffer(value, &view, PyBUF_FORMAT | PyBUF_ND | PyBUF_C_CONTIGUOUS)
    except (BufferError, TypeError, ValueError):
        return False
    try:
        fmt = (<bytes>view.format).decode('ascii').lstrip('@=') if view.format != NULL else 'B'
        if view.ndim != 1 or view.itemsize != ELEMENT_SIZE[kind] or fmt not in BUFFER_FORMATS[kind]:
            return False
        payload.keeper = memoryview(value)      # holds the exporter's memory while libca reads it
        n[0] = view.shape[0]
        payload.data = view.buf
        return True
    finally:
        PyBuffer_Release(&view)


cdef object numpy_items(object array, int kind, Py_ssize_t count):
    """An ndarray converted once to the request's dtype, or its items for text requests.

    numpy's own casts do the work; §8's rules are checked on the whole array first so that a
    float array to an integer type still raises TypeError and out-of-range integers OverflowError.
    """
    if array.ndim == 0:
        return [array[()]]
    if array.ndim != 1:
        raise TypeError(f'put takes a 1-D array, not {array.ndim}-D')
    array = array[:count]
    dtype_kind = array.dtype.kind
    if kind == KIND_STRING or dtype_kind in 'OUS':
        return array.tolist()
    numpy_available()
    if kind in (KIND_DOUBLE, KIND_FLOAT):
        if dtype_kind == 'c':
            raise TypeError('cannot write a complex array as floating-point numbers')
        import numpy
        with numpy.errstate(over='ignore'):
            return numpy.ascontiguousarray(array, dtype=_np_dtypes[kind])
    if dtype_kind in 'fc':
        raise TypeError(f'cannot write a {array.dtype} array to an integer type')
    if array.size and (array.min() < INTEGER_MIN[kind] or array.max() > INTEGER_MAX[kind]):
        raise OverflowError(f'array values out of range {INTEGER_MIN[kind]}..{INTEGER_MAX[kind]} '
                            f'of {DBF(kind).name}')
    return array.astype(_np_dtypes[kind])


# what prepare_put() takes element by element besides lists and tuples
cdef tuple _SEQUENCE_TYPES = (_array_module.array, _abc.Sequence)


cdef int prepare_put(PutPayload payload, object value, long dbrtype, object count,
                     unsigned long native_count) except -1:
    """Fill `payload` with the C array for put()/sg_put() (API.md §8). Returns ECA_NORMAL, or
    the ECA code the binding answers with itself (nothing is sent); raises for values §8
    rejects with an exception.

    `count` is the caller's count (None or an integer); elements past min(count, native, n)
    are not converted.
    """
    cdef int kind = write_kind(dbrtype)
    cdef Py_ssize_t n, wanted
    cdef bytes text
    if kind < 0:
        return caerr.ECA_BADTYPE
    wanted = native_count
    if count is not None:
        requested = _index(count)
        if 0 < requested < wanted:
            wanted = requested
    payload.dbrtype = dbrtype

    if is_text(value):
        text = text_bytes(value)
        if kind == KIND_STRING or dbrtype == dba.DBR_ENUM:
            # an ENUM accepts a state name: the server matches it when the request is a string
            payload.dbrtype = dba.DBR_STRING
            kind = KIND_STRING
            items = (text,)
        elif dbrtype == dba.DBR_CHAR:
            items = text + b'\0'            # a C string: bytes and terminator
            if borrow_buffer(payload, kind, items, &n):
                payload.count = min(wanted, n)
                return caerr.ECA_NORMAL
        else:
            items = (float(text),)
    elif isinstance(value, (int, float)) or isinstance(value, _numbers.Number):
        items = (value,)
    elif isinstance(value, (list, tuple)):
        items = value
    elif PyObject_CheckBuffer(value) and borrow_buffer(payload, kind, value, &n):
        payload.count = min(wanted, n)
        return caerr.ECA_NORMAL
    elif type(value).__module__ == 'numpy' and type(value).__name__ == 'ndarray':
        items = numpy_items(value, kind, wanted)
        if borrow_buffer(payload, kind, items, &n):
            payload.count = min(wanted, n)
            return caerr.ECA_NORMAL
    elif isinstance(value, (range, bytearray)) or isinstance(value, _SEQUENCE_TYPES):
        items = value
    else:
        return caerr.ECA_BADTYPE

    n = len(items)
    payload.count = min(wanted, n)
    return store_elements(payload, kind, items, payload.count)


