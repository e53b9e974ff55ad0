# cython: boundscheck=False, wraparound=False
"""The per-update part of caffi.aio: libca's replies -> aioca values -> user code.

Monitors: caffi.aio keeps one MonitorGroup per (request type, width, event mask, loop); the
loop wakes on the group's eventfd once per batch and GroupDispatch.dispatch() turns the drained
rows into the augmented values of epicscorelibs.ca.dbr (ca_int, ca_float, ca_str, ca_array ...)
and calls each subscription's callback.

Reads of a list of PVs: read_batch() issues every read in one call without the GIL; libca's
callbacks copy the replies into C memory (no Python, no GIL) and the last one makes the loop's
ReadCompletions descriptor readable; ReadBatch.values() then makes every value in one pass.

Everything that touches Python objects here runs on the event loop's thread.
"""
import sys
import traceback

cimport cython

from libc.math cimport rint
from libc.stdlib cimport calloc, malloc, realloc, free
from libc.string cimport memcpy, memset
from posix.unistd cimport close as close_fd

cimport cadef
cimport caerr
cimport db_access as dba
from epics_sync cimport (epicsMutexId, epicsMutexOsiCreate, epicsMutexDestroy, epicsMutexLock,
                         epicsMutexUnlock)
from linux_eventfd cimport eventfd, eventfd_t, eventfd_read, eventfd_write, EFD_NONBLOCK, EFD_CLOEXEC
from caffi._ca cimport (ChannelRecord, ContextRecord, ConnectionWatch, PendingRead, acquired,
                       SubscriptionRecord, subscribe,
                       prepare_write, watch_connection, unwatch_connection)
cimport numpy as cnp
from numpy_arrays cimport PyArray_Descr, PyArray_NewFromDescr, NPY_ARRAY_CARRAY
from caffi._dbr cimport PutPayload, format_buffer, eca_member


from cpython.object cimport PyObject, PyTypeObject


from cpython.dict cimport PyDict_Copy
from cpython.ref cimport Py_INCREF


cdef extern from *:
    """
    /* Whether a weak reference to `op` lives: the head of its weak-reference list, where
       CPython keeps it for an instance of a heap type (tp_weaklistoffset: after the object's
       fields, or before its header for 3.12's managed weak references), as its own
       _PyObject_GET_WEAKREFS_LISTPTR finds it. A C read, where _weakref.getweakrefcount
       would be a Python-level call per update. */
    static inline int caffi_has_weak_references(PyObject *op) {
        Py_ssize_t offset = Py_TYPE(op)->tp_weaklistoffset;
        return offset != 0 && *(PyObject **)((char *)op + offset) != NULL;
    }
    """
    bint has_weak_references "caffi_has_weak_references"(object op)


cdef extern from *:
    """
    /* A dict's version (PEP 509's ma_version_tag, through 3.13): CPython gives a dict a new
       one at every change, so a dict showing the version recorded after its last write by
       caffi has not changed since. 3.14 keeps none: there a read's value is never renewed
       (renewed_read_value). 3.12 deprecated the field: the warning is silenced here. */
    #define CAFFI_DICT_VERSIONS (PY_VERSION_HEX < 0x030E0000)
    static inline unsigned long long caffi_dict_version(PyObject *d) {
    #if CAFFI_DICT_VERSIONS
    _Py_COMP_DIAG_PUSH
    _Py_COMP_DIAG_IGNORE_DEPR_DECLS
        return ((PyDictObject *)d)->ma_version_tag;
    _Py_COMP_DIAG_POP
    #else
        return 0;
    #endif
    }
    """
    bint DICT_VERSIONS "CAFFI_DICT_VERSIONS"
    unsigned long long dict_version "caffi_dict_version"(object d)


cdef extern from *:
    """
    /* Whether a 2-tuple only its holder refers to may have its items replaced in place
       (as CPython's zip() refills its result tuple). From 3.14 a tuple caches its hash:
       there a new one is made instead. */
    #define CAFFI_TUPLES_REFILLABLE (PY_VERSION_HEX < 0x030E0000)
    """
    bint TUPLES_REFILLABLE "CAFFI_TUPLES_REFILLABLE"


cdef extern from *:
    """
    /* A one-digit int (|v| < 2**PyLong_SHIFT) written into a new int subclass object the way
       CPython's int() writes one for a subclass (long_subtype_new): room for one digit
       allocated (every int has at least one), then the signed digit count and the digit.
       Through 3.11 the count is ob_size; 3.12 and 3.13 keep count and sign in lv_tag
       (cpython/longintrepr.h: count << _PyLong_NON_SIZE_BITS, sign 0 positive, 1 zero,
       2 negative). Later layouts are not assumed: there ints are made by calling the class.

       Rewriting a kept one (a member's spare) must leave its __dict__ where it is. Through
       3.11 an int subclass keeps it after its digits, found from |ob_size|: only a value of
       the same digit count (zero to zero, one digit to one digit) may be written. From
       3.12 the dict is managed, before the object, and any one-digit value may be. */
    #define CAFFI_INTS_WRITABLE (PY_VERSION_HEX < 0x030E0000)
    static inline int caffi_int_is_one_digit(long long v) {
        return v > -(long long)PyLong_BASE && v < (long long)PyLong_BASE;
    }
    /* Zero has no digit, and its digit's place is not written: through 3.11 a zero int
       subclass keeps its __dict__ pointer there. */
    static inline void caffi_write_one_digit_int(PyObject *op, long long v) {
    #if CAFFI_INTS_WRITABLE
        PyLongObject *number = (PyLongObject *)op;
        digit magnitude = (digit)(v < 0 ? -v : v);
    #if PY_VERSION_HEX >= 0x030C0000
        number->long_value.lv_tag = v == 0 ? 1 : (((uintptr_t)1 << _PyLong_NON_SIZE_BITS)
                                                  | (uintptr_t)(v < 0 ? 2 : 0));
        if (v != 0)
            number->long_value.ob_digit[0] = magnitude;
    #else
        Py_SET_SIZE(number, v == 0 ? 0 : (v < 0 ? -1 : 1));
        if (v != 0)
            number->ob_digit[0] = magnitude;
    #endif
    #endif
    }
    static inline int caffi_int_rewritable(PyObject *op, long long v) {
    #if !CAFFI_INTS_WRITABLE
        return 0;
    #elif PY_VERSION_HEX >= 0x030C0000
        return (caffi_int_is_one_digit(v)
                && PyType_HasFeature(Py_TYPE(op), Py_TPFLAGS_MANAGED_DICT));
    #else
        Py_ssize_t size = Py_SIZE(op);
        return (caffi_int_is_one_digit(v) && size >= -1 && size <= 1
                && (size == 0) == (v == 0));
    #endif
    }
    """
    bint INTS_WRITABLE "CAFFI_INTS_WRITABLE"
    bint int_is_one_digit "caffi_int_is_one_digit"(long long v) noexcept nogil
    void write_one_digit_int "caffi_write_one_digit_int"(PyObject *op, long long v) noexcept
    bint int_rewritable "caffi_int_rewritable"(PyObject *op, long long v) noexcept


cdef extern from *:
    """
    /* A time stamp's POSIX seconds as epicscorelibs computes them for aioca's .timestamp,
       secs + nsec * 1e-9 in Python: the product rounded on its own before the sum (no fused
       multiply-add, which some compilers would make of the expression). */
    static inline double caffi_stamp_seconds(long long secs, unsigned int nsec) {
        volatile double fraction = nsec * 1e-9;
        return (double)secs + fraction;
    }

    /* round(x, 6) as CPython computes it (the decimal correctly rounded, ties to even, then
       the double nearest to it) without its decimal strings: x * 1e6 is p + error exactly
       (fma gives the product's rounding error), so the integer nearest to it, ties to
       even, is rint(p), moved by one only where p is a tie that the error breaks. Then
       n / 1e6 is the double nearest to the decimal, as CPython's strtod gives it. Exact
       while |p| < 2**52 (every x up to 4.5e9, past the year 2100); 0 beyond, or for a NaN. */
    static inline int caffi_round_to_microseconds(double x, double *rounded) {
        volatile double product = x * 1e6;
        double p = product, n, offset, error;
        if (!(fabs(p) < 4503599627370496.0))
            return 0;
        error = fma(x, 1e6, -p);
        n = rint(p);
        offset = p - n;
        if (offset == 0.5 && error > 0)
            n += 1;
        else if (offset == -0.5 && error < 0)
            n -= 1;
        *rounded = n / 1e6;
        return 1;
    }
    """
    double stamp_seconds "caffi_stamp_seconds"(long long secs, unsigned int nsec) noexcept nogil
    bint round_to_microseconds "caffi_round_to_microseconds"(double x, double *rounded) \
        noexcept nogil


cdef extern from "Python.h":
    char *PyOS_double_to_string(double val, char format_code, int precision, int flags,
                                int *ptype) except NULL
    double PyOS_string_to_double(const char *s, char **endptr, object overflow_exception) \
        except? -1.0
    void PyMem_Free(void *p)
    int PyObject_GenericSetDict(object o, object value, void *context) except -1
    object PyObject_GenericGetDict(object o, void *context)
    int PyDict_Next(object p, Py_ssize_t *ppos, PyObject **pkey, PyObject **pvalue)
    Py_ssize_t PyDict_GET_SIZE(object p)
    bint PyTuple_CheckExact(PyObject *p)
    bint PyFloat_CheckExact(PyObject *p)
    bint PyLong_CheckExact(PyObject *p)
    long PyLong_AsLongAndOverflow(PyObject *p, int *overflow) noexcept
    Py_ssize_t PyTuple_GET_SIZE(PyObject *p)
    PyObject *PyTuple_GET_ITEM(PyObject *p, Py_ssize_t pos)
    void PyTuple_SET_ITEM(PyObject *p, Py_ssize_t pos, PyObject *o)
    PyObject *PyList_GET_ITEM(object p, Py_ssize_t pos)
    void PyList_SET_ITEM(object p, Py_ssize_t pos, PyObject *o)
    Py_ssize_t Py_REFCNT_PTR "Py_REFCNT"(PyObject *o)
    void Py_DECREF_PTR "Py_DECREF"(PyObject *o)
    int PyObject_GC_IsTracked(object o)
    Py_ssize_t Py_REFCNT(object o)
    void PyObject_GC_UnTrack(void *o)
    ctypedef struct PyFloatObject:
        double ob_fval
    object PyType_GenericAlloc(PyTypeObject *type, Py_ssize_t nitems)

import numpy
from epicscorelibs.ca.dbr import ca_array, ca_bytes, ca_float, ca_int, ca_str

cnp.import_array()

from caffi.monitor import CONNECTED, DISCONNECTED, UPDATE

cdef PyTypeObject *CA_FLOAT_TYPE = <PyTypeObject *>ca_float
cdef PyTypeObject *CA_INT_TYPE = <PyTypeObject *>ca_int


# ca_float and ca_int define no __new__ or __init__ of their own (epicscorelibs' do not): then
# making one is what float's or int's tp_new does for a subclass, allocate and set the value,
# without the call through the type (~570 instructions of a list caget's ~1800 per read, with
# the temporary int that int's tp_new makes first). Should a later epicscorelibs add either,
# the call is made as usual.
cdef bint PLAIN_CA_FLOAT = (ca_float.__new__ is float.__new__
                            and ca_float.__init__ is float.__init__)
cdef bint PLAIN_CA_INT = (ca_int.__new__ is int.__new__ and ca_int.__init__ is int.__init__
                          and INTS_WRITABLE)


cdef inline object new_ca_float(double number):
    if not PLAIN_CA_FLOAT:
        return ca_float(number)
    made = PyType_GenericAlloc(CA_FLOAT_TYPE, 0)      # a new reference
    (<PyFloatObject *><PyObject *>made).ob_fval = number
    return made


cdef inline object new_ca_int(long long number):
    if not (PLAIN_CA_INT and int_is_one_digit(number)):
        return ca_int(number)
    made = PyType_GenericAlloc(CA_INT_TYPE, 1)        # room for the one digit
    write_one_digit_int(<PyObject *>made, number)
    return made


cdef inline bint unreferenced_number(object value, int kind):
    """Whether a delivered value is a ca_float (kind C_KIND_FLOAT) or a ca_int that only its
    caller refers to: its callback kept no reference, made no weak reference, changed no
    class. The dispatcher then keeps it as its member's spare, renewed for the member's next
    update (renewed_spare): as unobservable as a freed one allocated again at the same
    address (zip() and enumerate() reuse their result tuples on the same condition)."""
    if kind == C_KIND_FLOAT:
        if not (PLAIN_CA_FLOAT and type(value) is ca_float):
            return False
    elif not (PLAIN_CA_INT and type(value) is ca_int):
        return False
    return Py_REFCNT(value) == 1 and not has_weak_references(value)


cdef inline void set_number_fields(object number, dict fields):
    """Give a ca_float / ca_int read by a list caget its attribute dict.

    When the dict holds atoms only (names, numbers, None: CPython then leaves the dict itself
    untracked), the number can be in no reference cycle, so it leaves the cycle collector's
    lists, as CPython does itself for such tuples and dicts. A list caget of 1000 PVs that the
    caller keeps would otherwise be 1000 more objects for every collection to walk, promoted
    to the oldest generation, whose full collections they then trigger: 0.75 -> 0.40 ms of
    CPU per caget, measured. (A cycle a user builds later through such a value's attributes
    is not collected.) Monitor values are left alone: they mostly die young, where this
    saves nothing."""
    PyObject_GenericSetDict(number, fields, NULL)
    if not PyObject_GC_IsTracked(fields):
        PyObject_GC_UnTrack(<PyObject *>number)


# The attributes of a monitor's value, in the order its dict holds them: the first four every
# value has, the rest FORMAT_TIME's. Member.fields_template builds them in this order, which is
# how a member's spare value is checked key by key before it is used again.
_FIELD_NAMES = ('name', 'ok', 'datatype', 'element_count',
               'status', 'severity', 'raw_stamp', 'timestamp')
cdef enum:
    FIELD_NAME, FIELD_OK, FIELD_DATATYPE, FIELD_ELEMENT_COUNT
    FIELD_STATUS, FIELD_SEVERITY, FIELD_RAW_STAMP, FIELD_TIMESTAMP
    FIELD_SLOTS                  # FORMAT_TIME's count of fields
    PLAIN_FIELDS = FIELD_STATUS  # the others' count
cdef PyObject *FIELD_KEYS[FIELD_SLOTS]          # _FIELD_NAMES' strings, which it keeps alive
for _i, _key in enumerate(_FIELD_NAMES):
    FIELD_KEYS[_i] = <PyObject *>_key
del _i, _key


cdef int ROW_UPDATE = UPDATE
cdef long NS_PER_SECOND = 1000000000
cdef int ROW_CONNECTED = CONNECTED
cdef int ROW_DISCONNECTED = DISCONNECTED

# How the data of a request become a Python value (Member.kind, value_of()'s `kind`).
cdef enum:
    C_KIND_INT = 0           # an integer scalar: ca_int
    C_KIND_FLOAT             # a floating point scalar: ca_float
    C_KIND_STR               # one string: ca_str
    C_KIND_BYTES             # one string kept as bytes (datatype=bytes): ca_bytes
    C_KIND_ARRAY             # numbers: a ca_array of the request's dtype
    C_KIND_STR_ARRAY         # strings: a ca_array of dtype 'U<longest>'
    C_KIND_BYTES_ARRAY       # strings as bytes: a ca_array of dtype 'S<longest>'
    C_KIND_CHAR_STR          # a CHAR array read as text up to its first NUL: ca_str
    C_KIND_CHAR_BYTES        # ... as bytes: ca_bytes
    C_KIND_CHAR_UNICODE      # ... as text that must be UTF-8: ca_str

KIND_INT = C_KIND_INT
KIND_FLOAT = C_KIND_FLOAT
KIND_STR = C_KIND_STR
KIND_BYTES = C_KIND_BYTES
KIND_ARRAY = C_KIND_ARRAY
KIND_STR_ARRAY = C_KIND_STR_ARRAY
KIND_BYTES_ARRAY = C_KIND_BYTES_ARRAY
KIND_CHAR_STR = C_KIND_CHAR_STR
KIND_CHAR_BYTES = C_KIND_CHAR_BYTES
KIND_CHAR_UNICODE = C_KIND_CHAR_UNICODE


cdef inline bytes text_bytes(object raw):
    """bytes of one string element (bytes from a ring, str from caffi's get)."""
    if isinstance(raw, bytes):
        return <bytes>raw
    return (<str>raw).encode('utf-8')


cdef inline bytes up_to_nul(bytes data):
    cdef Py_ssize_t end = data.find(b'\0')
    return data if end < 0 else data[:end]


cdef object decode(bytes data):
    # what epicscorelibs does with text that is not UTF-8: replacement characters
    return data.decode('utf-8', 'replace')


cdef object string_array(list strings, bint as_bytes):
    # no strings at all: one character wide, as in epicscorelibs
    longest = max([len(s) for s in strings]) if strings else 1
    result = ca_array((len(strings),), dtype=('S%d' if as_bytes else 'U%d') % longest)
    for i, s in enumerate(strings):
        result[i] = s
    return result


cdef object char_bytes(object raw):
    """The bytes of a CHAR request's data: an int for one element, else an array or list."""
    if isinstance(raw, int):
        return up_to_nul(bytes((raw,)))
    if isinstance(raw, numpy.ndarray):
        return up_to_nul((<object>raw).astype(numpy.uint8, copy=False).tobytes())
    return up_to_nul(bytes(raw))


def value_of(int kind, object raw, object dtype):
    """The bare augmented value (no attributes yet) of `raw`: a Python scalar, bytes or str
    for one element, an ndarray (owned by the caller, viewed not copied) or a list for more."""
    if kind == KIND_INT:
        return ca_int(raw)
    if kind == KIND_FLOAT:
        return ca_float(raw)
    if kind == KIND_STR:
        if isinstance(raw, list):
            raw = raw[0]
        return ca_str(raw if isinstance(raw, str) else decode(up_to_nul(raw)))
    if kind == KIND_BYTES:
        if isinstance(raw, list):
            raw = raw[0]
        return ca_bytes(up_to_nul(text_bytes(raw)))
    if kind == KIND_ARRAY:
        if isinstance(raw, numpy.ndarray):
            return (<object>raw).view(ca_array)
        return numpy.asarray([raw] if not isinstance(raw, list) else raw, dtype).view(ca_array)
    if kind == KIND_STR_ARRAY:
        items = raw if isinstance(raw, list) else [raw]
        return string_array([s if isinstance(s, str) else decode(up_to_nul(s)) for s in items],
                            False)
    if kind == KIND_BYTES_ARRAY:
        items = raw if isinstance(raw, list) else [raw]
        return string_array([up_to_nul(text_bytes(s)) for s in items], True)
    if kind == KIND_CHAR_STR:
        return ca_str(decode(char_bytes(raw)))
    if kind == KIND_CHAR_BYTES:
        return ca_bytes(char_bytes(raw))
    if kind == KIND_CHAR_UNICODE:
        return ca_str(char_bytes(raw).decode('utf-8'))
    raise ValueError(f'unknown value kind {kind}')


def report_callback_error(name):
    """A callback raised: tell stderr as aioca does; the subscription goes on."""
    print(f'Subscription {name} callback raised exception', file=sys.stderr)
    traceback.print_exc()


cdef class Member:
    """What the dispatcher needs of one subscription, in C fields.

    `owner` is the caffi.aio Subscription; `callback_index` is the PV's position in the list
    given to camonitor (passed as the callback's second argument), or None."""
    # what the dispatch of an update reads first, in the object's first cache line: the
    # dispatcher meets thousands of members once per batch each, cold
    cdef public object callback
    cdef public object callback_index
    cdef dict fields_template                 # a value's fields, the constant ones filled in
    cdef public int kind
    cdef public bint closed
    cdef public int is_async                  # -1 until the first callback said which
    cdef public bint time_fields
    # the rest
    cdef public object owner
    cdef public object name
    cdef public object dtype
    cdef public bint all_updates              # these two are read once, by set_member()
    cdef public bint notify_disconnect
    cdef public int datatype
    cdef public long element_count
    cdef public long long dropped
    cdef unsigned long long ring_dropped      # its updates the group's full ring dropped
    # Its last ca_float or ca_int when nothing referred to it after its callback: the next
    # update of this member renews it (see renewed_spare). The fields of its dict are
    # template_values (kept alive by the template), status and severity as recorded here,
    # and a stamp tuple and timestamp float that are rewritten.
    cdef object spare
    cdef PyObject *template_values[FIELD_SLOTS]
    cdef long spare_status
    cdef long spare_severity

    def __init__(self, owner, name, callback, callback_index, int kind, dtype,
                 bint all_updates, bint notify_disconnect, bint time_fields, int datatype,
                 long element_count):
        self.owner = owner
        self.name = name
        self.callback = callback
        self.callback_index = callback_index
        self.kind = kind
        self.dtype = dtype
        self.all_updates = all_updates
        self.notify_disconnect = notify_disconnect
        self.time_fields = time_fields
        self.datatype = datatype
        self.element_count = element_count
        self.dropped = 0
        self.closed = False
        self.is_async = -1
        self.ring_dropped = 0

    cpdef deliver(self, object value):
        """Hand one value to the callback: at once for a plain function; a coroutine
        callback's values queue for the subscription's task (which runs them one at a time)."""
        if self.closed:
            return
        if self.is_async == 1:
            self.owner._enqueue(value)
            return
        try:
            if self.callback_index is None:
                returned = self.callback(value)
            else:
                returned = self.callback(value, self.callback_index)
        except Exception:
            report_callback_error(self.name)
            return
        if self.is_async == -1:
            if returned is not None and hasattr(returned, '__await__'):
                self.is_async = 1
                self.owner._start_worker(returned)
            else:
                self.is_async = 0
        elif returned is not None and hasattr(returned, '__await__'):
            # a plain function that sometimes returns an awaitable: run that one too
            self.owner._start_worker(returned)


cdef const void *column_data(object column, int typenum, Py_ssize_t n) except? NULL:
    """The data of a GroupBatch column: a C-contiguous 1-D array of `typenum` and length n
    (anything else is a TypeError, never a read out of bounds)."""
    if not (cnp.PyArray_Check(column) and cnp.PyArray_TYPE(<cnp.ndarray>column) == typenum
            and cnp.PyArray_NDIM(<cnp.ndarray>column) == 1
            and cnp.PyArray_DIM(<cnp.ndarray>column, 0) == n
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>column)):
        raise TypeError('not a GroupBatch column of %d %s: %r'
                        % (n, cnp.PyArray_DescrFromType(typenum), column))
    return cnp.PyArray_DATA(<cnp.ndarray>column)


cdef object array_row(cnp.ndarray values, Py_ssize_t row, unsigned int count, bint view):
    """A ca_array of the first `count` elements of a batch's row: a view on the drained store
    (the batch's values array, and through it the store, stay alive as its base), or a copy.
    One C call each, where slicing, .copy() and .view(ca_array) are three Python-level ones."""
    if cnp.PyArray_NDIM(values) != 2 or not cnp.PyArray_IS_C_CONTIGUOUS(values):
        raise TypeError('not the values of a GroupBatch of arrays: %r' % (values,))
    cdef cnp.npy_intp length = min(<cnp.npy_intp>count, cnp.PyArray_DIM(values, 1))
    cdef PyArray_Descr *descr = <PyArray_Descr *>cnp.PyArray_DESCR(values)
    cdef char *data = cnp.PyArray_BYTES(values) + row * cnp.PyArray_STRIDE(values, 0)
    Py_INCREF(<object><PyObject *>descr)               # each call below steals one
    if view:
        made = PyArray_NewFromDescr(<PyTypeObject *>ca_array, descr, 1, &length, NULL, data,
                                    NPY_ARRAY_CARRAY, NULL)
        cnp.set_array_base(<cnp.ndarray>made, values)
        return made
    made = PyArray_NewFromDescr(<PyTypeObject *>ca_array, descr, 1, &length, NULL, NULL, 0,
                                NULL)
    memcpy(cnp.PyArray_DATA(<cnp.ndarray>made), data, length * cnp.PyArray_ITEMSIZE(values))
    return made


cdef inline dict fields_template(Member member):
    """The dict a member's values start from: copying a dict with every key in place is one
    allocation and a copy of its table, where building it inserts (and regrows) key by key."""
    cdef Py_ssize_t i
    if member.fields_template is None:
        values = (member.name, True, member.datatype, member.element_count, 0, 0, None, 0.0)
        template = {}
        for i in range(FIELD_SLOTS if member.time_fields else PLAIN_FIELDS):
            template[_FIELD_NAMES[i]] = values[i]
            member.template_values[i] = <PyObject *>values[i]
        member.fields_template = template
    return member.fields_template


cdef object renewed_spare(Member member, double number, long long integer, long status,
                          long severity, object secs, long nsec, double timestamp):
    """The member's spare value made this update's (`number` for a ca_float, `integer` for a
    ca_int), or None when there is none it may use.

    The spare is its last value, which nothing referred to once its callback returned (no
    reference, weak or strong, no changed class; its dict only its own). Unless something
    found it since (the gc module can), it and its dict are used again: the dict is checked
    to hold exactly the fields it was given, in order (a callback may change a value's
    attributes before it drops the value), and only the changing ones are rewritten. That
    saves making and freeing the float, its dict, the dict's table, the stamp tuple and the
    timestamp per update: 2600 -> 2054 instructions for a FORMAT_TIME update at the loop,
    a callback that counts included (callgrind). The number is set as new_ca_float and
    new_ca_int set it; an int only where its dict stays put (int_rewritable)."""
    spare = member.spare
    member.spare = None
    if Py_REFCNT(spare) != 1:                 # only `spare` here
        return None
    cdef bint floating = member.kind == C_KIND_FLOAT
    if not floating and not int_rewritable(<PyObject *>spare, integer):
        return None
    cdef dict fields = <dict>PyObject_GenericGetDict(spare, NULL)
    cdef bint stamped = member.time_fields
    cdef Py_ssize_t count = FIELD_SLOTS if stamped else PLAIN_FIELDS
    if Py_REFCNT(fields) != 2 or PyDict_GET_SIZE(fields) != count:   # the value's and ours
        return None
    cdef Py_ssize_t position = 0, i
    cdef PyObject *key
    cdef PyObject *field
    cdef PyObject *stamp_pair = NULL
    cdef PyObject *stamp_float = NULL
    cdef int overflow
    for i in range(count):                    # the size is checked: no call to see the end
        if not PyDict_Next(fields, &position, &key, &field) or key != FIELD_KEYS[i]:
            return None
        if i < PLAIN_FIELDS:
            if field != member.template_values[i]:
                return None
        elif i == FIELD_STATUS or i == FIELD_SEVERITY:
            # by value (an int a callback set may be freed and another made at its address)
            if not PyLong_CheckExact(field) or PyLong_AsLongAndOverflow(field, &overflow) != (
                    member.spare_status if i == FIELD_STATUS else member.spare_severity
                    ) or overflow:
                return None
        elif i == FIELD_RAW_STAMP:
            stamp_pair = field
        else:
            stamp_float = field
    if floating:
        (<PyFloatObject *><PyObject *>spare).ob_fval = number
    else:
        write_one_digit_int(<PyObject *>spare, integer)
    if not stamped:
        return spare
    # as the dispatcher writes a new value's fields (its twin there: kept inline, as a shared
    # function costs ~40 instructions per update that gcc does not inline away), but into
    # the fields the spare holds, refilling what only they refer to
    if status != member.spare_status:
        fields['status'] = status
    if severity != member.spare_severity:
        fields['severity'] = severity
    if (TUPLES_REFILLABLE and PyTuple_CheckExact(stamp_pair)
            and PyTuple_GET_SIZE(stamp_pair) == 2 and Py_REFCNT_PTR(stamp_pair) == 1):
        refill_pair(stamp_pair, secs, nsec)
    else:
        fields['raw_stamp'] = (secs, nsec)
    if PyFloat_CheckExact(stamp_float) and Py_REFCNT_PTR(stamp_float) == 1:
        (<PyFloatObject *>stamp_float).ob_fval = timestamp
    else:
        fields['timestamp'] = timestamp
    return spare


cdef inline void refill_pair(PyObject *pair, object first, object second):
    """Replace the items of a 2-tuple nothing else refers to."""
    cdef PyObject *old_first = PyTuple_GET_ITEM(pair, 0)
    cdef PyObject *old_second = PyTuple_GET_ITEM(pair, 1)
    Py_INCREF(first)
    Py_INCREF(second)
    PyTuple_SET_ITEM(pair, 0, <PyObject *>first)
    PyTuple_SET_ITEM(pair, 1, <PyObject *>second)
    Py_DECREF_PTR(old_first)
    Py_DECREF_PTR(old_second)


cdef inline void store_item(list items, Py_ssize_t i, object item) noexcept:
    """items[i] = item, i in range: a read's per-PV stores, which Cython's generic one (that
    gcc inlines or not as the module grows: +29 instructions per read when not) would make
    depend on the rest of the module."""
    cdef PyObject *old = PyList_GET_ITEM(items, i)
    Py_INCREF(item)
    PyList_SET_ITEM(items, i, <PyObject *>item)
    Py_DECREF_PTR(old)


cdef enum:
    # GroupDispatch.member_flags: what the first pass over a batch needs of a member
    MEMBER_PRESENT = 1
    MEMBER_ALL_UPDATES = 2
    MEMBER_NOTIFY_DISCONNECT = 4


cdef class GroupDispatch:
    """The loop-side consumer of one MonitorGroup: members by the group's index."""
    cdef public object group
    cdef public list members                  # Member by group index; None once removed
    # By group index, in C: which rows of a batch reach a callback is decided without
    # touching the members' objects (the next pass touches only those it delivers to)
    cdef unsigned char *member_flags
    cdef long long *merged_in                 # the serial of the batch it last delivered in
    cdef Py_ssize_t flags_capacity
    cdef object dtype
    cdef bint scalar                          # width 1: batch.values is (n,)
    cdef bint numeric                         # ... of numbers (not strings)
    cdef bint floating                        # ... of floating point numbers
    cdef long long serial                     # batches dispatched so far
    cdef unsigned long long ring_dropped      # the group's count of rows its full ring dropped
    cdef bint view_rows                       # array values view the drained store (no copy)

    def __init__(self, group, bint view_rows=False):
        """view_rows: array values are views of the batch's store, which a drain hands out
        whole and which returns to the ring only once nothing refers to it. For a ring of a
        few huge rows (1M-element waveforms) that saves a copy per update; a value kept then
        keeps its store (a few rows). For small rows copies are cheap and a kept value must
        not keep a store of thousands of rows, so the default copies."""
        self.group = group
        self.view_rows = view_rows
        self.members = []
        self.dtype = group.dtype
        self.scalar = group.width == 1
        self.numeric = self.scalar and self.dtype.kind != 'S'
        self.floating = self.numeric and self.dtype.kind == 'f'
        self.serial = 0
        self.ring_dropped = 0

    def __dealloc__(self):
        free(self.member_flags)
        free(self.merged_in)

    def set_member(self, Py_ssize_t index, Member member):
        """The member at a group index, or None once removed (its rows still in the ring
        then reach no callback)."""
        if index < 0:
            raise IndexError(index)
        while len(self.members) <= index:
            self.members.append(None)
        if index >= self.flags_capacity:
            self.grow_flags(max(index + 1, 2 * self.flags_capacity, 64))
        self.members[index] = member
        self.merged_in[index] = -1
        if member is None:
            self.member_flags[index] = 0
        else:
            self.member_flags[index] = (
                MEMBER_PRESENT | (MEMBER_ALL_UPDATES if member.all_updates else 0)
                | (MEMBER_NOTIFY_DISCONNECT if member.notify_disconnect else 0))

    cdef int grow_flags(self, Py_ssize_t capacity) except -1:
        flags = <unsigned char *>realloc(self.member_flags, capacity * sizeof(unsigned char))
        if flags == NULL:
            raise MemoryError()
        self.member_flags = flags
        merged_in = <long long *>realloc(self.merged_in, capacity * sizeof(long long))
        if merged_in == NULL:
            raise MemoryError()
        self.merged_in = merged_in
        memset(flags + self.flags_capacity, 0, capacity - self.flags_capacity)
        self.flags_capacity = capacity
        return 0

    def on_readable(self):
        """The group's eventfd is readable: take everything waiting and deliver it."""
        if self.group.closed:
            return
        batch = self.group.drain()
        cdef Py_ssize_t rows = len(batch.counts)
        if rows:
            self.dispatch(batch)
        # a ring drops rows only when full, and it stays full until drained: a batch of fewer
        # rows than its depth means none dropped since the last one (and stats() counts the
        # members, O(members): not once per batch)
        if rows >= self.group.depth:
            self.count_ring_drops()

    cdef count_ring_drops(self):
        """Updates the ring had to drop (it was full: the loop fell far behind) never reach a
        callback either: count them in their subscriptions' dropped_callbacks."""
        cdef unsigned long long total = self.group.stats()['dropped']
        if total == self.ring_dropped:
            return
        self.ring_dropped = total
        dropped = self.group.member_stats()['dropped']
        cdef Member member
        cdef unsigned long long now
        for index, entry in enumerate(self.members):
            if entry is None or index >= len(dropped):
                continue
            member = <Member>entry
            now = dropped[index]
            member.dropped += now - member.ring_dropped
            member.ring_dropped = now

    def dispatch(self, batch):
        # the columns' data straight from their arrays (typed memoryviews would each take a
        # buffer-protocol round trip and a format check, six per batch: on a loop that wakes
        # once per update of a big waveform, that runs cold every time)
        cdef Py_ssize_t n = len(batch.index), row
        cdef const int *index = <const int *>column_data(batch.index, cnp.NPY_INT32, n)
        cdef const unsigned char *events = <const unsigned char *>column_data(
            batch.events, cnp.NPY_UINT8, n)
        cdef const unsigned int *counts = <const unsigned int *>column_data(
            batch.counts, cnp.NPY_UINT32, n)
        cdef const short *status = <const short *>column_data(batch.status, cnp.NPY_INT16, n)
        cdef const short *severity = <const short *>column_data(batch.severity, cnp.NPY_INT16, n)
        cdef const double *stamps = <const double *>column_data(batch.timestamps,
                                                                cnp.NPY_FLOAT64, n)
        cdef list members = self.members
        cdef const unsigned char *member_flags = self.member_flags
        cdef Py_ssize_t n_members = self.flags_capacity
        cdef Member member
        cdef int event, m, flags
        cdef bytearray chosen = bytearray(n)
        cdef unsigned char *deliver = chosen
        cdef double stamp
        cdef dict fields
        cdef long long secs, last_secs = -1
        cdef long nsec = 0
        secs_object = None
        self.serial += 1
        cdef long long serial = self.serial
        # Backwards: which rows reach a callback. all_updates=False keeps each member's latest
        # value (or disconnection) of the batch and counts what it merged.
        for row in range(n - 1, -1, -1):
            m = index[row]
            if m < 0 or m >= n_members:
                continue
            flags = member_flags[m]
            event = events[row]
            if not flags & MEMBER_PRESENT or event == ROW_CONNECTED:
                continue
            if event == ROW_DISCONNECTED and not flags & MEMBER_NOTIFY_DISCONNECT:
                continue
            if flags & MEMBER_ALL_UPDATES:
                deliver[row] = 1
            elif self.merged_in[m] == serial:
                (<Member>members[m]).dropped += 1
            else:
                self.merged_in[m] = serial
                deliver[row] = 1
        values = batch.values
        cdef const double[::1] as_double
        cdef const long long[::1] as_integer
        cdef bint numeric = self.numeric, floating = self.floating
        cdef int kind
        scalars = None
        cdef double number = 0, timestamp = 0
        cdef long long integer = 0
        cdef bint stamped
        if floating:
            as_double = numpy.asarray(values, numpy.float64)
        elif numeric:
            as_integer = numpy.asarray(values, numpy.int64)
        elif self.scalar:
            scalars = values.tolist()
        for row in range(n):
            if not deliver[row]:
                continue
            entry = members[index[row]]
            if entry is None or (<Member>entry).closed:   # closed by an earlier callback
                continue
            member = <Member>entry
            if events[row] == ROW_DISCONNECTED:
                member.deliver(self.owner_nothing(member))
                continue
            kind = member.kind
            stamped = member.time_fields
            if stamped:
                stamp = stamps[row]
                # the ring keeps POSIX seconds as a double: nanoseconds to about 0.25 us
                secs = <long long>stamp
                nsec = <long>((stamp - secs) * 1e9 + 0.5)
                if nsec >= NS_PER_SECOND:
                    secs += 1
                    nsec -= NS_PER_SECOND
                if secs != last_secs:         # the rows of a burst share their second
                    last_secs = secs
                    secs_object = secs
                # to the microsecond, as epicscorelibs rounds its timestamps (the ring's stamp
                # is a double already, so not microseconds_rounded's exact round(x, 6) of a
                # reply's stamp: that measured 32 more instructions per update)
                timestamp = rint(stamp * 1e6) / 1e6
            if numeric and (kind == C_KIND_FLOAT or kind == C_KIND_INT):
                if kind == C_KIND_FLOAT:
                    number = as_double[row] if floating else <double>as_integer[row]
                else:
                    integer = <long long>as_double[row] if floating else as_integer[row]
                if member.spare is not None:
                    value = None              # the last row's value may be this spare
                    value = renewed_spare(member, number, integer, status[row], severity[row],
                                          secs_object, nsec, timestamp)
                    if value is not None:
                        self.deliver_number(member, value, status[row], severity[row])
                        continue
                value = new_ca_float(number) if kind == C_KIND_FLOAT else new_ca_int(integer)
            elif kind == C_KIND_FLOAT:
                value = ca_float(values[row, 0])
            elif kind == C_KIND_INT:
                value = ca_int(values[row, 0])
            elif numeric:
                value = value_of(member.kind, values[row:row + 1].copy(), member.dtype)
            elif scalars is not None:
                value = value_of(member.kind, scalars[row] if member.kind != KIND_ARRAY
                                 else values[row:row + 1].copy(), member.dtype)
            else:
                value = self.row_value(member, values, row, counts[row])
            # the value's attributes, as one presized dict that becomes its __dict__ (the
            # ca_* classes define none of these names)
            fields = PyDict_Copy(fields_template(member))
            if stamped:
                if status[row]:                   # the template holds 0: no alarm
                    fields['status'] = status[row]
                if severity[row]:
                    fields['severity'] = severity[row]
                fields['raw_stamp'] = (secs_object, nsec)
                fields['timestamp'] = timestamp
            PyObject_GenericSetDict(value, fields, NULL)
            fields = None                     # the value's own: a later row may renew it
            if numeric and (kind == C_KIND_FLOAT or kind == C_KIND_INT):
                self.deliver_number(member, value, status[row], severity[row])
            else:
                member.deliver(value)

    cdef inline void deliver_number(self, Member member, object value, long status,
                                    long severity) except *:
        """Deliver a ca_float or ca_int; keep it as the member's spare if its callback left it
        alone."""
        member.deliver(value)
        if unreferenced_number(value, member.kind) and not member.closed:
            member.spare = value
            member.spare_status = status
            member.spare_severity = severity

    cdef object owner_nothing(self, Member member):
        return member.owner._disconnected_value()

    cdef object row_value(self, Member member, object values, Py_ssize_t row,
                          unsigned int count):
        """The value of an array member's row: its first `count` elements, copied out of the
        ring's store (which is reused once the batch goes)."""
        cdef int kind = member.kind
        if kind == KIND_ARRAY:
            return array_row(values, row, count, self.view_rows)
        if kind in (KIND_STR_ARRAY, KIND_BYTES_ARRAY, KIND_STR, KIND_BYTES):
            return value_of(kind, values[row, :count].tolist(), member.dtype)
        return value_of(kind, values[row, :count], member.dtype)


# ---------------------------------------------------------------------------------------------
# Reads of a list of PVs: one call issues them all, libca's replies land in C memory, the last
# one wakes the loop once.

cdef extern from *:
    """
    /* The countdown of a batch's unanswered reads, and a slot's status published after its
       data: libca's thread writes them, the loop's thread reads them. */
    static inline int caffi_count_down(int *counter) {
        return __atomic_sub_fetch(counter, 1, __ATOMIC_ACQ_REL);
    }
    static inline void caffi_publish_status(int *status, int value) {
        __atomic_store_n(status, value, __ATOMIC_RELEASE);
    }
    static inline int caffi_status_of(const int *status) {
        return __atomic_load_n(status, __ATOMIC_ACQUIRE);
    }
    """
    int count_down "caffi_count_down"(int *counter) nogil
    void publish_status "caffi_publish_status"(int *status, int value) nogil
    int status_of "caffi_status_of"(const int *status) nogil


cdef enum:
    READ_OUTSTANDING = -1            # a slot's status until libca answers its read
    INLINE_REPLY_DOUBLES = 4         # a reply of up to 32 bytes (any RAW or TIME scalar) is
                                     # kept in its slot, the others in memory of their own


cdef struct ReadSlot:
    ReadState *state
    void *data                       # the reply's DBR: `inline_reply`, malloc'd, or NULL
    long dbrtype                     # what was asked for, then what the reply holds
    long count
    int status                       # libca's ECA code, or READ_OUTSTANDING
    bint refused                     # libca refused the read at once: `status` is its return
    bint renewed                     # its prepared value is a renewed one (renewed_read_value)
    double inline_reply[INLINE_REPLY_DOUBLES]


cdef struct ReadState:
    int outstanding                  # reads not yet answered, plus one while issuing
    ReadState *next_done             # in the queue's list of answered batches
    void *batch                      # its ReadBatch (a borrowed reference: see ReadCompletions)
    ReadQueue *queue


cdef int open_signal(epicsMutexId *lock, int *fd, str what) except -1:
    """The lock and the eventfd of a queue that libca's threads fill and the loop takes."""
    fd[0] = -1
    lock[0] = epicsMutexOsiCreate(b'caffi/_aio.pyx', 0)
    if lock[0] == NULL:
        raise MemoryError()
    fd[0] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
    if fd[0] < 0:
        raise OSError(f"eventfd() failed for caffi.aio's {what}")
    return 0


cdef void close_signal(epicsMutexId lock, int fd) noexcept:
    if fd >= 0:
        close_fd(fd)
    if lock != NULL:
        epicsMutexDestroy(lock)


cdef struct ReadQueue:
    epicsMutexId lock
    int fd                           # eventfd: readable while answered batches wait
    ReadState *done                  # answered batches, newest first


cdef void read_answered(ReadState *state) noexcept nogil:
    """One read of the batch is answered (or will never be): the last one queues the batch
    and wakes the loop. The descriptor is written under the lock so that the loop, which takes
    the list under the same lock, never sees a wake-up without its batch or the reverse."""
    if count_down(&state.outstanding) != 0:
        return
    cdef ReadQueue *queue = state.queue
    epicsMutexLock(queue.lock)
    state.next_done = queue.done
    queue.done = state
    eventfd_write(queue.fd, 1)
    epicsMutexUnlock(queue.lock)


cdef void on_read_reply(cadef.event_handler_args args) noexcept nogil:
    """libca's thread: keep a copy of the reply. No Python object, no GIL."""
    cdef ReadSlot *slot = <ReadSlot *>args.usr
    cdef size_t nbytes
    cdef int status = args.status
    slot.dbrtype = args.type
    slot.count = args.count
    if status == caerr.ECA_NORMAL:
        if args.dbr == NULL:
            status = caerr.ECA_GETFAIL
        else:
            nbytes = dba.dbr_size_n(args.type, args.count)
            if nbytes <= sizeof(slot.inline_reply):
                slot.data = <void *>slot.inline_reply
            else:
                slot.data = malloc(nbytes)
            if slot.data == NULL:
                status = caerr.ECA_ALLOCMEM
            else:
                memcpy(slot.data, args.dbr, nbytes)
    publish_status(&slot.status, status)
    read_answered(slot.state)


cdef class ReadCompletions:
    """One event loop's wake-up for its list reads: fileno() is readable while batches whose
    every read was answered wait; take() hands them to their futures.

    `issued` holds each batch from its issue until take(): their C state points back to them."""
    cdef ReadQueue queue
    cdef set issued

    def __cinit__(self):
        open_signal(&self.queue.lock, &self.queue.fd, 'reads')
        self.issued = set()

    def __dealloc__(self):
        # only once no batch refers to it (each holds it), so no libca thread can write the fd
        close_signal(self.queue.lock, self.queue.fd)

    def fileno(self):
        return self.queue.fd

    def take(self):
        """The descriptor is readable: complete the futures of the answered batches."""
        cdef eventfd_t ignored
        cdef ReadState *state
        with nogil:
            eventfd_read(self.queue.fd, &ignored)
            epicsMutexLock(self.queue.lock)
            state = self.queue.done
            self.queue.done = NULL
            epicsMutexUnlock(self.queue.lock)
        cdef ReadBatch batch
        while state != NULL:
            batch = <ReadBatch>state.batch
            state = state.next_done
            self.issued.discard(batch)
            batch.answered()


cdef class ReadBatch(PendingRead):
    """The reads of one list caget: a slot per PV, filled by libca's threads. (Or the write of
    one caput with wait=True, see write_batch: a slot with a status and no reply.)

    Its memory is freed only when nothing can write it any more: the context of its channels
    holds it in `batch_reads` (a cleared channel answers its slot, see channel_cleared) and the
    loop's ReadCompletions in `issued`, both until every read is answered.

    While the server answers, prepare() makes what the values need beforehand (their attribute
    dicts, and the ca_float objects themselves), or takes values of earlier reads to renew
    (renewed_read_value), so that once the replies are in, values() has little left to do per
    PV: the loop would only wait otherwise."""
    cdef ReadState state
    cdef ReadSlot *slots
    cdef Py_ssize_t size
    cdef list names
    cdef list requests                # the Request of each slot
    cdef list channels                # the ChannelRecord of each slot; None where none was read
    cdef list contexts                # the ContextRecords whose batch_reads hold it
    cdef dict slots_of                # ChannelRecord -> its slots, made at the first clear
    cdef list prepared                # per slot: a ca_float to fill, a fields dict, or None
    cdef ReadCompletions completions
    cdef bint writes                  # the slots are writes: their value is nothing(name, OK)
    cdef public object future         # done when every read is answered (set by caffi.aio)
    cdef public Py_ssize_t failures   # slots without a value (set by values())

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.slots == NULL:
            return
        for i in range(self.size):
            if self.slots[i].data != NULL and self.slots[i].data != <void *>self.slots[i].inline_reply:
                free(self.slots[i].data)
        free(self.slots)

    cdef void hold_in(self, ContextRecord context):
        """The context of a channel the batch reads (or writes) through holds it until it is
        answered: a clear of that channel then answers its slots (channel_cleared)."""
        if context not in self.contexts:
            self.contexts.append(context)
            context.batch_reads.add(self)

    cdef void unregister(self):
        for context in self.contexts:
            (<ContextRecord>context).batch_reads.discard(self)
        self.contexts = []

    cdef void answered(self):
        self.unregister()
        future = self.future
        if future is not None and not future.done():
            future.set_result(None)

    cdef void channel_cleared(self, ChannelRecord channel) noexcept:
        cdef Py_ssize_t i
        if self.slots_of is None:
            self.slots_of = {}
            for i in range(self.size):
                if self.channels[i] is not None:
                    self.slots_of.setdefault(self.channels[i], []).append(i)
        for i in self.slots_of.get(channel, ()):
            if self.slots[i].status == READ_OUTSTANDING:
                publish_status(&self.slots[i].status, caerr.ECA_CHANDESTROY)
                read_answered(&self.state)
        if self.state.outstanding == 0:
            self.unregister()                  # answered: no libca thread writes it any more

    def prepare(self):
        """Make (or renew) each plain number's value object and attribute dict ahead of its
        reply."""
        cdef Py_ssize_t i
        cdef Request request
        cdef list prepared = [None] * self.size
        self.prepared = prepared
        for i in range(self.size):
            request = <Request>self.requests[i]
            if not request.plain_number():
                continue
            value = renewed_read_value(request)
            if value is not None:
                store_item(prepared, i, value)
                self.slots[i].renewed = True
                continue
            fields = PyDict_Copy(request.value_fields(self.names[i]))
            if request.kind == C_KIND_FLOAT and PLAIN_CA_FLOAT:
                value = new_ca_float(0.0)
                set_number_fields(value, fields)
                store_item(prepared, i, value)
                keep_read_value(request, value, fields, NULL)
            else:
                store_item(prepared, i, fields)   # a ca_int needs its number: made at the reply

    def refused(self):
        """The ECA code libca refused the first refused read with at its issue (no read
        access, a bad count...), or None: aioca raises those as they come, not as a reply."""
        cdef Py_ssize_t i
        for i in range(self.size):
            if self.slots[i].refused:
                return eca_member(self.slots[i].status)
        return None

    def values(self, nothing):
        """The value of each slot, or nothing(name, ECA code) where it has none (a read not
        answered yet counts as ECA_TIMEOUT). Counts those in `failures`."""
        cdef Py_ssize_t i
        cdef ReadSlot *slot
        cdef int status
        cdef list result = [None] * self.size
        cdef list prepared = self.prepared      # read_batch() prepared it
        self.failures = 0
        for i in range(self.size):
            slot = &self.slots[i]
            status = status_of(&slot.status)
            if status == READ_OUTSTANDING:
                status = caerr.ECA_TIMEOUT
            if status != caerr.ECA_NORMAL:
                self.failures += 1
            if status != caerr.ECA_NORMAL or self.writes:     # a write's value is its status
                store_item(result, i, nothing(self.names[i], eca_member(status)))
            else:
                store_item(result, i, reply_value(slot, <Request>self.requests[i],
                                                  self.names[i], prepared[i]))
        return result


cdef struct KeptFields:
    # What caffi last wrote into the dict of a value a Request keeps (renewed_read_value). The
    # dict holds it all while it shows this version, so the two objects are alive then.
    unsigned long long version
    PyObject *stamp                   # FORMAT_TIME: the raw_stamp pair and timestamp float
    PyObject *timestamp               # it holds (borrowed from the dict), or NULL
    long status
    long severity


cdef class Request:
    """What a (datatype, format) request of one channel asks libca for and how its data become
    a value, in C fields (caffi.aio's _Request computes them; reads of a list use them at C
    speed)."""
    cdef public long dbrtype          # the DBR type asked for
    cdef public int base              # its DBF base type
    cdef public int kind              # how the data become a value: KIND_*
    cdef public object dtype          # the numpy dtype of array values
    cdef public int datatype          # the value's .datatype
    cdef public long element_count    # the channel's native count, the value's .element_count
    cdef public object format
    cdef public bint time_fields
    cdef public bint ctrl_fields
    cdef dict fields                  # the attributes of its plain numbers (value_fields)
    # The last two plain numbers made for this request's reads, renewed by a later read once
    # nothing else refers to them (renewed_read_value), and what caffi last wrote into their
    # dicts.
    cdef object recent_value
    cdef object older_value
    cdef KeptFields kept[2]           # recent_value's at kept[recent_at], older_value's at the
    cdef int recent_at                # other: a swap of the two is one store

    cdef bint plain_number(self):
        """A number of one element read with FORMAT_RAW or FORMAT_TIME (no CTRL fields):
        read_batch makes its value itself."""
        return (self.element_count == 1 and not self.ctrl_fields
                and (self.kind == C_KIND_FLOAT or self.kind == C_KIND_INT))

    cdef dict value_fields(self, object name):
        """A plain number's attributes as _Request.value gives them, in its order; a TIME
        request's alarm and stamp fields hold what a reply without alarm has until
        write_time_fields() writes the reply's."""
        if self.fields is None:
            self.fields = {'name': name, 'ok': True, 'datatype': self.datatype,
                           'element_count': self.element_count}
            if self.time_fields:
                self.fields.update(status=0, severity=0, raw_stamp=None, timestamp=0.0)
        return self.fields

    def count_to_read(self, long count):
        """read_count() for Python callers (a single caget, a CTRL monitor)."""
        return self.read_count(count)

    cdef long read_count(self, long count):
        """The element count to ask libca for, by aioca's count rule: <0 the native count, >0
        at most that, 0 the server's current length. (cdef: a Python subclass's cpdef
        method would be looked up for overrides at every read of a list.)"""
        if count < 0:
            return self.element_count
        if count > 0:
            return min(count, self.element_count)
        return 0


cdef object reply_value(ReadSlot *slot, Request request, object name, object prepared):
    """The augmented value of an answered slot. A plain number (FORMAT_RAW or FORMAT_TIME) is
    made here straight from the reply, into what prepare() made or renewed; everything else
    goes through the Python value of the reply and _Request.value, as a single caget's
    does."""
    cdef long dbrtype = slot.dbrtype
    cdef const char *value_at
    cdef double number
    cdef long long integer
    cdef bint stamped = dba.dbr_type_is_TIME(dbrtype)
    if prepared is None or slot.count != 1 or not (stamped or dba.dbr_type_is_plain(dbrtype)):
        return request.value(name, format_buffer(dbrtype, slot.count, slot.data, True))
    value_at = <const char *>slot.data + dba.dbr_value_offset[dbrtype]
    if dba.dbr_type_is_DOUBLE(dbrtype):
        number = (<const dba.dbr_double_t *>value_at)[0]
        integer = <long long>number
    elif dba.dbr_type_is_FLOAT(dbrtype):
        number = (<const dba.dbr_float_t *>value_at)[0]
        integer = <long long>number
    elif dba.dbr_type_is_LONG(dbrtype):
        integer = (<const dba.dbr_long_t *>value_at)[0]
        number = <double>integer
    elif dba.dbr_type_is_SHORT(dbrtype):
        integer = (<const dba.dbr_short_t *>value_at)[0]
        number = <double>integer
    elif dba.dbr_type_is_ENUM(dbrtype):
        integer = (<const dba.dbr_enum_t *>value_at)[0]
        number = <double>integer
    else:
        return request.value(name, format_buffer(dbrtype, slot.count, slot.data, True))
    cdef dict fields
    cdef KeptFields written
    if type(prepared) is dict:
        fields = <dict>prepared
        if stamped:
            write_time_fields(fields, slot.data, False, &written)
        value = new_ca_float(number) if request.kind == C_KIND_FLOAT else new_ca_int(integer)
        set_number_fields(value, fields)
        if request.kind == C_KIND_INT:
            keep_read_value(request, value, fields, &written if stamped else NULL)
        return value
    # a value prepare() made or renewed, seen by nobody yet: its number is set once, here
    if request.kind == C_KIND_FLOAT:
        (<PyFloatObject *><PyObject *>prepared).ob_fval = number
    elif int_rewritable(<PyObject *>prepared, integer):     # a renewed ca_int
        write_one_digit_int(<PyObject *>prepared, integer)
    else:                      # one its dict's place does not allow: made new after all
        slot.renewed = False
        return reply_value(slot, request, name, PyDict_Copy(request.fields))
    if stamped:
        write_time_fields(<dict>PyObject_GenericGetDict(prepared, NULL), slot.data,
                          slot.renewed, kept_fields(request, prepared))
    return prepared


# Whether reads renew the values nobody holds any more (for the tests: where they may not,
# every read makes new ones)
READ_VALUES_RENEWED = bool(DICT_VERSIONS and PLAIN_CA_FLOAT)


cdef object renewed_read_value(Request request):
    """A plain number this request made for an earlier read (kept in recent_value and
    older_value), which nothing else refers to any more, ready to be this read's value; or
    None. A polling loop (`values = await caget(pvs)`, again and again) then makes and frees
    no object per PV: its previous values are still bound while the next read is prepared,
    the ones before are free. As unobservable as the monitors' renewed spares (see
    unreferenced_number): its number and stamp are written at the reply, into a dict that
    nobody changed since caffi wrote it (its version) and nobody else holds."""
    if renewable_read_value(<PyObject *>request.older_value,
                            request.kept[1 - request.recent_at].version, request.kind):
        request.older_value, request.recent_value = request.recent_value, request.older_value
        request.recent_at = 1 - request.recent_at
        return request.recent_value
    if renewable_read_value(<PyObject *>request.recent_value,
                            request.kept[request.recent_at].version, request.kind):
        return request.recent_value
    return None


cdef inline bint renewable_read_value(PyObject *kept, unsigned long long version,
                                      int kind) noexcept:
    # `kept` is borrowed: the request's reference is the one unreferenced_number allows
    if not DICT_VERSIONS or kept == <PyObject *>None or not unreferenced_number(<object>kept,
                                                                               kind):
        return False
    fields = PyObject_GenericGetDict(<object>kept, NULL)
    return Py_REFCNT(fields) == 2 and dict_version(fields) == version   # the value's and ours


cdef inline void keep_read_value(Request request, object value, dict fields,
                                 const KeptFields *written) noexcept:
    """A new plain number made for a read of this request, `fields` its dict as caffi wrote
    it (`written`: its FORMAT_TIME fields, by write_time_fields): kept for renewal."""
    if not DICT_VERSIONS:
        return
    request.older_value, request.recent_value = request.recent_value, value
    request.recent_at = 1 - request.recent_at      # the older one's place is the new one's
    cdef KeptFields *recent = &request.kept[request.recent_at]
    if written != NULL:
        recent[0] = written[0]
    else:                      # the template's: no alarm, stamp fields not written yet
        recent.stamp = recent.timestamp = NULL
        recent.status = recent.severity = 0
    recent.version = dict_version(fields)


cdef inline KeptFields *kept_fields(Request request, object value) noexcept:
    """What the request knows of the dict of `value`, one it keeps; NULL for another."""
    if value is request.recent_value:
        return &request.kept[request.recent_at]
    if value is request.older_value:
        return &request.kept[1 - request.recent_at]
    return NULL


cdef void write_time_fields(dict fields, const void *data, bint renewed,
                            KeptFields *kept) except *:
    """A DBR_TIME_* reply's alarm and stamp into a plain number's fields (value_fields), as
    _Request.value writes them from the reply's Python value: raw_stamp (POSIX seconds,
    nanoseconds), timestamp rounded to the microsecond as round(x, 6) rounds it. The stamp
    pair holds two ints: out of the cycle collector's lists, as CPython leaves such tuples
    itself, so the dict of a list caget's value stays untracked too (set_number_fields).

    `renewed`: the dict holds an earlier reply's fields, not the template's (no alarm). `kept`
    (or NULL): what caffi last wrote into the dict of a value its request keeps, which tells
    a renewed one's fields without a lookup (the alarm is written where it changes, the stamp
    pair and timestamp that only the dict refers to are refilled in place), and is updated to
    what this reply wrote."""
    # every DBR_TIME_* structure begins with status, severity and stamp
    cdef const dba.dbr_time_short *head = <const dba.dbr_time_short *>data
    cdef bint known = renewed and kept != NULL
    if (head.status != kept.status) if known else (head.status or renewed):
        fields['status'] = head.status            # (the template holds 0: no alarm)
    if (head.severity != kept.severity) if known else (head.severity or renewed):
        fields['severity'] = head.severity
    cdef long long secs = <long long>head.stamp.secPastEpoch + \
        <long long>dba.POSIX_TIME_AT_EPICS_EPOCH
    cdef double timestamp = microseconds_rounded(stamp_seconds(secs, head.stamp.nsec))
    cdef object seconds                           # the timestamp as a new float
    if known and TUPLES_REFILLABLE and kept.stamp != NULL and Py_REFCNT_PTR(kept.stamp) == 1:
        refill_pair(kept.stamp, secs, head.stamp.nsec)
    else:
        stamp = (secs, head.stamp.nsec)
        PyObject_GC_UnTrack(<PyObject *>stamp)
        fields['raw_stamp'] = stamp
        if kept != NULL:
            kept.stamp = <PyObject *>stamp
    if known and kept.timestamp != NULL and Py_REFCNT_PTR(kept.timestamp) == 1:
        (<PyFloatObject *>kept.timestamp).ob_fval = timestamp
    else:
        seconds = timestamp
        fields['timestamp'] = seconds
        if kept != NULL:
            kept.timestamp = <PyObject *>seconds
    if kept != NULL:
        kept.status = head.status
        kept.severity = head.severity
        kept.version = dict_version(fields)


cdef double microseconds_rounded(double seconds) except? -1.0:
    """round(seconds, 6), as aioca rounds a timestamp (epicscorelibs.ca.dbr)."""
    cdef double rounded
    if round_to_microseconds(seconds, &rounded):
        return rounded
    # where the fast way is not exact: CPython's own correctly rounded digits and back
    cdef char *digits = PyOS_double_to_string(seconds, b'f', 6, 0, NULL)
    try:
        return PyOS_string_to_double(digits, NULL, None)
    finally:
        PyMem_Free(digits)


def _microseconds_rounded(double seconds):
    """microseconds_rounded() for the tests, which check it against round(seconds, 6)."""
    return microseconds_rounded(seconds)


cdef ReadBatch new_batch(ReadCompletions completions, list names, list requests):
    cdef Py_ssize_t n = len(names)
    if len(requests) != n:
        raise ValueError('a request per name')
    cdef ReadBatch batch = ReadBatch.__new__(ReadBatch)
    # not calloc: zeroing every slot's reply space costs more than these stores (issue() and
    # write_batch() set the rest)
    batch.slots = <ReadSlot *>malloc((n if n > 0 else 1) * sizeof(ReadSlot))
    if batch.slots == NULL:
        raise MemoryError()
    cdef Py_ssize_t i
    for i in range(n):
        batch.slots[i].data = NULL
        batch.slots[i].refused = False
        batch.slots[i].renewed = False
    batch.size = n
    batch.names = names
    batch.requests = requests
    batch.channels = [None] * n
    batch.completions = completions
    batch.state.queue = &completions.queue
    batch.state.batch = <void *>batch
    return batch


cdef issue(ReadBatch batch, list chids, long count, bint flush):
    """Issue the read of every slot whose chid is a live channel, flushed in one go unless
    `flush` is false (flushing every few hundred reads, to let the server start early, cost
    more than it won: each flush wakes libca's send thread, which then competes with this loop
    for the CPU); a chid that is not a live channel is answered at once with ECA_DISCONN."""
    cdef Py_ssize_t n = batch.size, i, issued = 0
    cdef cadef.chid *issue_to = <cadef.chid *>malloc((n if n > 0 else 1) * sizeof(cadef.chid))
    if issue_to == NULL:
        raise MemoryError()
    cdef ChannelRecord channel
    cdef ContextRecord context = None
    cdef Request request
    cdef ReadSlot *slot
    cdef int status
    batch.contexts = []
    try:
        for i in range(n):
            slot = &batch.slots[i]
            slot.state = &batch.state
            request = <Request?>batch.requests[i]
            channel = acquired(chids[i])
            if channel is None:
                slot.status = caerr.ECA_DISCONN
                issue_to[i] = NULL
                continue
            slot.dbrtype = request.dbrtype
            slot.count = request.read_count(count)
            slot.status = READ_OUTSTANDING
            issue_to[i] = channel.chid
            batch.channels[i] = channel
            if channel.context is not context:
                context = channel.context
                batch.hold_in(context)
            issued += 1
        batch.state.outstanding = issued + 1      # the issuer's hold: none completes it early
        batch.completions.issued.add(batch)
        with nogil:
            for i in range(n):
                if issue_to[i] == NULL:
                    continue
                slot = &batch.slots[i]
                status = cadef.ca_array_get_callback(slot.dbrtype, slot.count, issue_to[i],
                                                     on_read_reply, <void *>slot)
                if status != caerr.ECA_NORMAL:
                    slot.refused = True
                    publish_status(&slot.status, status)
                    read_answered(&batch.state)
            if flush:
                cadef.ca_flush_io()
            read_answered(&batch.state)
    except BaseException:
        batch.unregister()                      # nothing was issued: no reply will come
        raise
    finally:
        free(issue_to)
        for channel in batch.channels:
            if channel is not None:
                channel.release()


def read_batch(ReadCompletions completions, list names, list chids, list requests, long count,
               bint flush=True):
    """Read names[i] through chids[i] as requests[i] asks (`count` by aioca's rule). The
    batch's future (set it before the loop runs again) completes once every read is answered;
    then batch.values() makes the values. flush=False leaves the requests for the caller's
    next flush_io (the single reads of one loop turn then share one)."""
    if len(chids) != len(names):
        raise ValueError('read_batch: a chid per name')
    batch = new_batch(completions, names, requests)
    issue(batch, chids, count, flush)
    batch.prepare()
    return batch


cdef void on_write_reply(cadef.event_handler_args args) noexcept nogil:
    """libca's thread: a write completed (or failed). No Python object, no GIL."""
    cdef ReadSlot *slot = <ReadSlot *>args.usr
    publish_status(&slot.status, args.status)
    read_answered(slot.state)


def write_batch(ReadCompletions completions, object name, object chid, object value,
                object dbrtype):
    """Write `value` to `name` through `chid` as `dbrtype` (converted as caffi.ca.put converts
    it) with a completion that lands in C memory, as a read batch's replies do: the batch's
    future completes once the server has processed the write, and values() then gives
    [nothing(name, ECA code)]. A write refused at once (not a live channel, a value the binding
    or libca refuses, no write access) is answered at once, as a refused read is, and shows in
    refused(). The request leaves with the caller's next flush_io."""
    cdef ReadBatch batch = new_batch(completions, [name], [None])
    batch.writes = True
    batch.contexts = []
    cdef ReadSlot *slot = &batch.slots[0]
    slot.state = &batch.state
    slot.status = READ_OUTSTANDING
    batch.state.outstanding = 2                    # the write, and the issuer's hold
    completions.issued.add(batch)
    cdef PutPayload payload = PutPayload()
    cdef int status = caerr.ECA_DISCONN            # unless it is a live channel
    cdef ChannelRecord channel = acquired(chid)
    if channel is not None:
        try:
            status = prepare_write(payload, channel.chid, value, dbrtype, None)
            if status == caerr.ECA_NORMAL:
                # held before libca may answer (on its own thread, before the call returns)
                batch.channels[0] = channel
                batch.hold_in(channel.context)
                with nogil:
                    status = cadef.ca_array_put_callback(payload.dbrtype, payload.count,
                                                         channel.chid, payload.data,
                                                         on_write_reply, <void *>slot)
        except BaseException:
            batch.unregister()                     # nothing was issued: no reply will come
            completions.issued.discard(batch)
            raise
        finally:
            channel.release()
    with nogil:
        if status != caerr.ECA_NORMAL:             # libca took nothing: no reply will come
            slot.refused = True
            publish_status(&slot.status, status)
            read_answered(&batch.state)
        read_answered(&batch.state)                # the issuer's hold
    return batch


def cached_reads(dict channels, list names, object key):
    """(chids, requests) of `names` through the loop's channels (name -> caffi.aio Channel)
    and the requests they keep for `key` while connected, for read_batch(); None when a name
    has no channel or its channel no request for `key` (new, not connected, reconnected)."""
    cdef Py_ssize_t n = len(names), i
    cdef list chids = [None] * n
    cdef list requests = [None] * n
    cdef object channel, request
    for i in range(n):
        channel = channels.get(names[i])
        if channel is None:
            return None
        request = (<dict?>channel.requests).get(key)
        if request is None:
            return None
        requests[i] = request
        chids[i] = channel.chid
    return chids, requests


# ---------------------------------------------------------------------------------------------
# One event loop's events from libca's threads: connection changes of its channels, and the
# first waiting update of a queued subscription (UpdateQueue). libca's thread appends them to a
# C queue (no Python, no GIL: a list connect of thousands of PVs would otherwise have libca's
# thread take the GIL once per channel, against the loop creating the rest) and the first of a
# burst wakes the loop, which takes them all in order.

cdef enum:
    # what a LoopEvents entry says of its token
    EVENT_DISCONNECTED = 0           # the watched channel disconnected
    EVENT_CONNECTED = 1              # ... connected
    EVENT_UPDATES = 2                # the UpdateQueue has updates waiting

DISCONNECTED_EVENT = EVENT_DISCONNECTED
CONNECTED_EVENT = EVENT_CONNECTED
UPDATES_EVENT = EVENT_UPDATES


cdef struct ChangeQueue:
    epicsMutexId lock
    int fd                           # eventfd: readable while events wait
    long long *tokens                # the token of each event, oldest first
    unsigned char *events            # EVENT_*
    Py_ssize_t count, capacity
    bint lost                        # an append found no memory: the loop re-reads every state


cdef struct TokenWatch:
    ConnectionWatch base             # first: caffi._ca calls base.changed with its address
    ChangeQueue *queue
    long long token


cdef void queue_event(ChangeQueue *queue, long long token, unsigned char event) noexcept nogil:
    """libca's thread: one event, in order; the first of a burst wakes the loop."""
    cdef Py_ssize_t capacity
    cdef void *grown
    cdef bint first
    epicsMutexLock(queue.lock)
    first = queue.count == 0 and not queue.lost
    if queue.count == queue.capacity:
        capacity = max(64, 2 * queue.capacity)
        grown = realloc(queue.tokens, capacity * sizeof(long long))
        if grown != NULL:
            queue.tokens = <long long *>grown
            grown = realloc(queue.events, capacity * sizeof(unsigned char))
            if grown != NULL:
                queue.events = <unsigned char *>grown
                queue.capacity = capacity
    if queue.count < queue.capacity:
        queue.tokens[queue.count] = token
        queue.events[queue.count] = event
        queue.count += 1
    else:
        queue.lost = True
    if first:
        # written under the lock, as read_answered does, so that take() never sees a
        # wake-up without its event
        eventfd_write(queue.fd, 1)
    epicsMutexUnlock(queue.lock)


cdef void queue_change(ConnectionWatch *watch, bint connected) noexcept nogil:
    """libca's thread, under caffi._ca's watch lock: one connection change."""
    cdef TokenWatch *mine = <TokenWatch *>watch
    queue_event(mine.queue, mine.token, EVENT_CONNECTED if connected else EVENT_DISCONNECTED)


cdef class LoopEvents:
    """One event loop's events from libca's threads: watch(chid) registers a channel's
    connection changes, an UpdateQueue its waiting updates, each under a token of this
    queue's; fileno() is readable while events wait; take() returns them, oldest first, as
    (token, event) pairs (event: CONNECTED_EVENT, DISCONNECTED_EVENT, UPDATES_EVENT), or None
    when some were lost for want of memory (then every channel's state must be read again and
    every update queue taken)."""
    cdef ChangeQueue queue
    cdef long long last_token

    def __cinit__(self):
        open_signal(&self.queue.lock, &self.queue.fd, 'events')

    def __dealloc__(self):
        # only once nothing appends to it (each ChannelWatch and UpdateQueue holds it)
        close_signal(self.queue.lock, self.queue.fd)
        free(self.queue.tokens)
        free(self.queue.events)

    def fileno(self):
        return self.queue.fd

    cdef long long new_token(self):
        self.last_token += 1
        return self.last_token

    def watch(self, chid):
        """A ChannelWatch of chid's connection changes, whose token its changes carry."""
        return ChannelWatch(self, chid, self.new_token())

    def take(self):
        cdef eventfd_t ignored
        cdef long long *tokens
        cdef unsigned char *events
        cdef Py_ssize_t count, i
        cdef bint lost
        with nogil:
            epicsMutexLock(self.queue.lock)
            eventfd_read(self.queue.fd, &ignored)
            tokens, events, count = self.queue.tokens, self.queue.events, self.queue.count
            lost = self.queue.lost
            self.queue.tokens = NULL
            self.queue.events = NULL
            self.queue.count = self.queue.capacity = 0
            self.queue.lost = False
            epicsMutexUnlock(self.queue.lock)
        try:
            if lost:
                return None
            return [(tokens[i], events[i]) for i in range(count)]
        finally:
            free(tokens)
            free(events)


@cython.no_gc
cdef class ChannelWatch:
    """A channel's connection changes into a LoopEvents queue, from watch() until
    close(). The channel is created without a Python connection callback: connections made
    before the watch are the caller's to read (ca.state).

    Not tracked by the cycle collector (one per channel of thousands): it refers to its
    channel record and its queue, neither of which can lead back to it."""
    cdef ChannelRecord channel
    cdef LoopEvents changes
    cdef TokenWatch *watch
    cdef readonly long long token

    def __init__(self, LoopEvents changes, chid, long long token):
        cdef ChannelRecord channel = acquired(chid)
        if channel is None:
            raise ValueError(f'not a live channel: {chid!r}')
        try:
            self.watch = <TokenWatch *>calloc(1, sizeof(TokenWatch))
            if self.watch == NULL:
                raise MemoryError()
            self.watch.base.changed = queue_change
            self.watch.queue = &changes.queue
            self.watch.token = token
            status = watch_connection(channel, &self.watch.base)
            if status != caerr.ECA_NORMAL:
                free(self.watch)
                self.watch = NULL
                raise ValueError(f'watching {channel.channel_name!r} failed: '
                                 f'{eca_member(status)!r}')
        finally:
            channel.release()
        self.channel = channel
        self.changes = changes
        self.token = token

    def close(self):
        """No more changes from this channel (idempotent)."""
        self.unwatch()

    def __dealloc__(self):
        self.unwatch()

    cdef void unwatch(self) noexcept:
        # removed under caffi._ca's watch lock: once this returns, libca's thread no longer
        # calls it, and its memory can go
        if self.watch != NULL and self.channel is not None:
            unwatch_connection(self.channel, &self.watch.base)
            free(self.watch)
            self.watch = NULL


# ---------------------------------------------------------------------------------------------
# Subscriptions a MonitorGroup cannot carry (CTRL fields, STSACK_STRING, CLASS_NAME: DBR structs
# with more than a value, its alarm and its time stamp): libca's thread copies each update's DBR
# whole into a ring of the subscription's own and, at the first one waiting, appends the
# subscription's token to its loop's LoopEvents; the loop converts them as it converts caget's
# replies. No Python and no GIL on libca's thread, one wake-up per burst for all of them.

cdef struct DbrRing:
    epicsMutexId lock
    ChangeQueue *events              # the loop's LoopEvents queue (its UpdateQueue holds it)
    long long token
    bint signalled                   # its token waits in `events` until take()
    long dbrtype
    size_t row_bytes                 # dbr_size_n(dbrtype, the widest update it keeps)
    Py_ssize_t depth, oldest, filled
    char *rows                       # depth rows of row_bytes, libca's thread fills them
    long *counts                     # the element count of each row's update
    unsigned long long received      # updates copied in
    unsigned long long lost          # since the last take(): pushed out of the full ring, or
                                     # longer than its rows (the channel grew since)


cdef void on_queued_update(cadef.event_handler_args args) noexcept nogil:
    """libca's thread: one update, copied whole into the ring (a full ring lets its oldest
    go); the first one waiting signals the loop."""
    cdef DbrRing *ring = <DbrRing *>args.usr
    if args.status != caerr.ECA_NORMAL or args.dbr == NULL or args.type != ring.dbrtype:
        return                            # no data: as a callback of caffi.ca's, nothing to say
    cdef size_t nbytes = dba.dbr_size_n(args.type, args.count)
    cdef Py_ssize_t slot
    cdef bint signal
    epicsMutexLock(ring.lock)
    if nbytes > ring.row_bytes:
        ring.lost += 1
    else:
        if ring.filled == ring.depth:
            ring.oldest = (ring.oldest + 1) % ring.depth
            ring.filled -= 1
            ring.lost += 1
        slot = (ring.oldest + ring.filled) % ring.depth
        memcpy(ring.rows + slot * ring.row_bytes, args.dbr, nbytes)
        ring.counts[slot] = args.count
        ring.filled += 1
        ring.received += 1
    signal = not ring.signalled
    ring.signalled = True
    epicsMutexUnlock(ring.lock)
    if signal:
        queue_event(ring.events, ring.token, EVENT_UPDATES)


cdef class UpdateQueue(SubscriptionRecord):
    """One subscription's updates, whole DBRs in a C ring that libca's thread fills (see
    on_queued_update). subscribe() makes the subscription; take() converts what waits.

    The ring holds `depth` updates of up to `width` elements: as many as fit in `budget`
    bytes, at least `min_depth`, at most `max_depth`."""
    cdef DbrRing ring
    cdef char *spare_rows             # the other store: take() swaps it in, under the GIL only
    cdef long *spare_counts
    cdef LoopEvents events
    cdef readonly long long token

    def __init__(self, LoopEvents events, long dbrtype, long width, size_t budget,
                 Py_ssize_t min_depth, Py_ssize_t max_depth):
        if self.ring.lock != NULL:
            raise TypeError('an UpdateQueue is initialised once')
        if not 0 <= dbrtype <= dba.LAST_BUFFER_TYPE or width < 1 or min_depth < 1:
            raise ValueError(f'no UpdateQueue of type {dbrtype} x{width}, depth >= {min_depth}')
        cdef DbrRing *ring = &self.ring
        ring.dbrtype = dbrtype
        ring.row_bytes = dba.dbr_size_n(dbrtype, width)
        ring.depth = max(min_depth, min(max_depth, <Py_ssize_t>(budget // ring.row_bytes)))
        ring.rows = <char *>malloc(ring.depth * ring.row_bytes)
        ring.counts = <long *>malloc(ring.depth * sizeof(long))
        self.spare_rows = <char *>malloc(ring.depth * ring.row_bytes)
        self.spare_counts = <long *>malloc(ring.depth * sizeof(long))
        if (ring.rows == NULL or ring.counts == NULL or self.spare_rows == NULL
                or self.spare_counts == NULL):
            raise MemoryError()
        ring.lock = epicsMutexOsiCreate(b'caffi/_aio.pyx', 0)
        if ring.lock == NULL:
            raise MemoryError()
        self.events = events
        ring.events = &events.queue
        self.token = ring.token = events.new_token()

    def __dealloc__(self):
        # libca calls back no more: the subscription (or its channel) was cleared, or it was
        # never made
        if self.ring.lock != NULL:
            epicsMutexDestroy(self.ring.lock)
        free(self.ring.rows)
        free(self.ring.counts)
        free(self.spare_rows)
        free(self.spare_counts)

    def subscribe(self, chid, unsigned long count, long mask):
        """Subscribe chid's channel (count 0: the server's current length); libca's status.
        Clear it with caffi.ca.clear_subscription(queue)."""
        if self.ring.lock == NULL or self.active:
            raise TypeError('subscribe() an initialised UpdateQueue, once')
        channel = acquired(chid)
        if channel is None:
            return caerr.ECA_BADCHID
        try:
            self.callback = None
            return subscribe(self, channel, self.ring.dbrtype, count, mask, on_queued_update,
                             <void *>&self.ring)
        finally:
            channel.release()

    @property
    def received(self):
        """Updates libca's thread has copied in so far."""
        cdef unsigned long long received
        with nogil:
            epicsMutexLock(self.ring.lock)
            received = self.ring.received
            epicsMutexUnlock(self.ring.lock)
        return received

    def take(self):
        """(updates, lost): what waits, oldest first, each as caffi.ca's get() result for its
        type (caffi._dbr.format_buffer, numpy arrays), and the updates lost since the last
        take (a full ring's oldest, or one longer than its rows)."""
        cdef DbrRing *ring = &self.ring
        cdef char *rows = self.spare_rows
        cdef long *counts = self.spare_counts
        cdef Py_ssize_t oldest, filled, i, slot
        cdef unsigned long long lost
        with nogil:
            epicsMutexLock(ring.lock)
            rows, ring.rows = ring.rows, rows
            counts, ring.counts = ring.counts, counts
            oldest, filled, lost = ring.oldest, ring.filled, ring.lost
            ring.oldest = ring.filled = 0
            ring.lost = 0
            ring.signalled = False
            epicsMutexUnlock(ring.lock)
        self.spare_rows, self.spare_counts = rows, counts
        updates = []
        for i in range(filled):
            slot = (oldest + i) % ring.depth
            updates.append(format_buffer(ring.dbrtype, counts[slot], rows + slot * ring.row_bytes,
                                         True))
        return updates, lost
