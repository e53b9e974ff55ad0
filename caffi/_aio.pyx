# cython: boundscheck=False, wraparound=False
"""The per-update part of caffi.aio: MonitorGroup rows -> aioca values -> user callbacks.

caffi.aio keeps one MonitorGroup per (request type, width, event mask, loop); the loop wakes
on the group's eventfd once per batch and GroupDispatch.dispatch() turns the drained rows
into the augmented values of epicscorelibs.ca.dbr (ca_int, ca_float, ca_str, ca_array ...)
and calls each subscription's callback. Everything here runs on the event loop's thread.
"""
import sys
import traceback

from libc.math cimport rint


from cpython.object cimport PyObject, PyTypeObject


from cpython.dict cimport PyDict_Copy


cdef extern from "Python.h":
    int PyObject_GenericSetDict(object o, object value, void *context) except -1
    ctypedef struct PyFloatObject:
        double ob_fval
    object PyType_GenericAlloc(PyTypeObject *type, Py_ssize_t nitems)

import numpy
from epicscorelibs.ca.dbr import ca_array, ca_bytes, ca_float, ca_int, ca_str

from caffi.monitor import CONNECTED, DISCONNECTED, UPDATE

cdef PyTypeObject *CA_FLOAT_TYPE = <PyTypeObject *>ca_float


# ca_float defines no __new__ or __init__ of its own (epicscorelibs' does not): then making one
# is what float's tp_new does for a subclass, allocate and set the value, without the call
# through the type. Should a later epicscorelibs add either, the call is made as usual.
cdef bint PLAIN_CA_FLOAT = (ca_float.__new__ is float.__new__
                            and ca_float.__init__ is float.__init__)


cdef inline object new_ca_float(double number):
    if not PLAIN_CA_FLOAT:
        return ca_float(number)
    made = PyType_GenericAlloc(CA_FLOAT_TYPE, 0)      # a new reference
    (<PyFloatObject *><PyObject *>made).ob_fval = number
    return made


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
    cdef public object owner
    cdef public object name
    cdef public object callback
    cdef public object callback_index
    cdef public int kind
    cdef public object dtype
    cdef public bint all_updates
    cdef public bint notify_disconnect
    cdef public bint time_fields
    cdef public int datatype
    cdef public long element_count
    cdef public long long dropped
    cdef public bint closed
    cdef public int is_async                  # -1 until the first callback said which
    cdef long long merged_in                  # the dispatcher's batch serial it delivered
    cdef unsigned long long ring_dropped      # its updates the group's full ring dropped
    cdef dict fields_template                 # a value's fields, the constant ones filled in

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
        self.merged_in = -1
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


cdef inline dict fields_template(Member member):
    """The dict a member's values start from: copying a dict with every key in place is one
    allocation and a copy of its table, where building it inserts (and regrows) key by key."""
    if member.fields_template is None:
        template = {'name': member.name, 'ok': True, 'datatype': member.datatype,
                    'element_count': member.element_count}
        if member.time_fields:
            template.update(status=0, severity=0, raw_stamp=None, timestamp=0.0)
        member.fields_template = template
    return member.fields_template


cdef class GroupDispatch:
    """The loop-side consumer of one MonitorGroup: members by the group's index."""
    cdef public object group
    cdef public list members                  # Member by group index; None once removed
    cdef object dtype
    cdef bint scalar                          # width 1: batch.values is (n,)
    cdef bint numeric                         # ... of numbers (not strings)
    cdef bint floating                        # ... of floating point numbers
    cdef long long serial                     # batches dispatched so far
    cdef unsigned long long ring_dropped      # the group's count of rows its full ring dropped

    def __init__(self, group):
        self.group = group
        self.members = []
        self.dtype = group.dtype
        self.scalar = group.width == 1
        self.numeric = self.scalar and self.dtype.kind != 'S'
        self.floating = self.numeric and self.dtype.kind == 'f'
        self.serial = 0
        self.ring_dropped = 0

    def set_member(self, Py_ssize_t index, member):
        while len(self.members) <= index:
            self.members.append(None)
        self.members[index] = member

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
        cdef const int[::1] index = batch.index
        cdef const unsigned char[::1] events = batch.events
        cdef const unsigned int[::1] counts = batch.counts
        cdef const short[::1] status = batch.status
        cdef const short[::1] severity = batch.severity
        cdef const double[::1] stamps = batch.timestamps
        cdef Py_ssize_t n = index.shape[0], row
        cdef list members = self.members
        cdef Py_ssize_t n_members = len(members)
        cdef Member member
        cdef int event, m
        cdef bytearray chosen = bytearray(n)
        cdef unsigned char *deliver = chosen
        cdef double stamp
        cdef dict fields
        cdef long long secs, last_secs = -1
        cdef long nsec
        secs_object = None
        self.serial += 1
        cdef long long serial = self.serial
        # Backwards: which rows reach a callback. all_updates=False keeps each member's latest
        # value (or disconnection) of the batch and counts what it merged.
        for row in range(n - 1, -1, -1):
            m = index[row]
            if m >= n_members or members[m] is None:
                continue
            member = <Member>members[m]
            if member.closed:
                continue
            event = events[row]
            if event == ROW_CONNECTED:
                continue
            if event == ROW_DISCONNECTED and not member.notify_disconnect:
                continue
            if member.all_updates:
                deliver[row] = 1
            elif member.merged_in == serial:
                member.dropped += 1
            else:
                member.merged_in = serial
                deliver[row] = 1
        values = batch.values
        cdef const double[::1] as_double
        cdef const long long[::1] as_integer
        cdef bint numeric = self.numeric, floating = self.floating
        cdef int kind
        scalars = None
        if floating:
            as_double = numpy.asarray(values, numpy.float64)
        elif numeric:
            as_integer = numpy.asarray(values, numpy.int64)
        elif self.scalar:
            scalars = values.tolist()
        for row in range(n):
            if not deliver[row]:
                continue
            member = <Member>members[index[row]]
            if member.closed:                 # closed by a callback earlier in this batch
                continue
            if events[row] == ROW_DISCONNECTED:
                member.deliver(self.owner_nothing(member))
                continue
            kind = member.kind
            if numeric and kind == C_KIND_FLOAT:
                value = new_ca_float(as_double[row] if floating else <double>as_integer[row])
            elif numeric and kind == C_KIND_INT:
                value = ca_int(<long long>as_double[row] if floating else as_integer[row])
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
            # the attributes go straight into the value's own dict (as setattr would put
            # them: ca_* classes define none of these names)
            # the value's attributes, as one presized dict that becomes its __dict__ (the
            # ca_* classes define none of these names)
            if member.time_fields:
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
                fields = PyDict_Copy(fields_template(member))
                fields['status'] = status[row]
                fields['severity'] = severity[row]
                fields['raw_stamp'] = (secs_object, nsec)
                # to the microsecond, as epicscorelibs rounds its timestamps
                fields['timestamp'] = rint(stamp * 1e6) / 1e6
            else:
                fields = PyDict_Copy(fields_template(member))
            PyObject_GenericSetDict(value, fields, NULL)
            member.deliver(value)

    cdef object owner_nothing(self, Member member):
        return member.owner._disconnected_value()

    cdef object row_value(self, Member member, object values, Py_ssize_t row,
                          unsigned int count):
        """The value of an array member's row: its first `count` elements, copied out of the
        ring's store (which is reused once the batch goes)."""
        cdef int kind = member.kind
        if kind == KIND_ARRAY:
            return values[row, :count].copy().view(ca_array)
        if kind in (KIND_STR_ARRAY, KIND_BYTES_ARRAY, KIND_STR, KIND_BYTES):
            return value_of(kind, values[row, :count].tolist(), member.dtype)
        return value_of(kind, values[row, :count], member.dtype)
