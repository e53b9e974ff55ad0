# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Buffered monitors (caffi.monitor), an extension of its own over caffi._ca's records.

libca's callback copies each update into the next slot of a preallocated ring in C and never
takes the GIL; Python threads take whole batches out of the ring. The ring is plain C memory
(MonitorRing) because the callback cannot touch Python objects; the Monitor object owns it
and frees it only after libca can no longer call back (subscription or channel cleared).

That callback's memcpy is the only copy of an update. The slots live in a RingStore (values
and per-slot metadata in one allocation); drain() of everything waiting swaps the ring's store
for a spare one and hands the filled store out as the batch's arrays (a RingBlock is their
base object). A store whose batch has been released comes back as the next spare, so the
pages libca's callback writes into stay mapped and warm.
"""

from libc.stdlib cimport calloc, malloc, free
from libc.limits cimport INT_MAX
from libc.string cimport memcpy, memset
from cpython.buffer cimport PyBuffer_FillInfo
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from posix.unistd cimport close as close_fd

cimport cadef
cimport caerr
cimport db_access as dba
from ring_lock cimport RingLock, ring_lock_create, ring_lock_destroy, ring_lock, ring_unlock
from epics_sync cimport (epicsEventId, epicsEventCreate, epicsEventDestroy,
                         epicsEventTrigger, epicsEventWaitWithTimeout, epicsEventEmpty)
from caffi._counters cimport (UpdateCounters, count_update_at, counters_dict,
                              monotonic_clock, receipt_clock, wall_clock)
from caffi._ca cimport (ChannelRecord, SubscriptionRecord, Native, ConnectionWatch,
                        DEFAULT_EVENT_MASK, acquired,
                        native_of, subscribe, call_reporting, watch_connection, unwatch_connection,
                        fork_generation)
from caffi._dbr cimport BASE_TYPE_COUNT, dbr_member, eca_member
cimport numpy as cnp
from numpy_arrays cimport (PyArray_Descr, PyArrayObject, PyArray_NewFromDescr, PyArray_Empty,
                           PyArray_SetBaseObject, PyArray_Type, NPY_ARRAY_CARRAY)

import threading
from collections import deque as _deque, namedtuple as _namedtuple
from operator import index as _index

import numpy

cnp.import_array()

from caffi._ca import clear_subscription
from caffi._dbr import DBR, message

cdef extern from "<string.h>" nogil:
    size_t strnlen(const char *s, size_t maxlen)


Batch = _namedtuple('Batch', 'values timestamps status severity counts')
Batch.__doc__ = """Updates taken from a Monitor, oldest first: `values` is an (n, width) ndarray,
`timestamps` POSIX seconds (float64), `status`/`severity` the alarm fields (int16; zero for
plain request types), `counts` the element count each update delivered (uint32)."""

# tuple.__new__ makes a namedtuple from its fields without the Python-level __new__ a call of
# the class runs: a drain builds one per batch
_tuple_new = tuple.__new__

# the dtypes of a store's columns besides the values, made once (a drain views six of them)
cdef object STAMP_DTYPE = numpy.dtype(numpy.float64)
cdef object ALARM_DTYPE = numpy.dtype(numpy.int16)
cdef object COUNT_DTYPE = numpy.dtype(numpy.uint32)
cdef object INDEX_DTYPE = numpy.dtype(numpy.int32)
cdef object EVENT_DTYPE = numpy.dtype(numpy.uint8)


cdef object store_column(object block, object dtype, const void *start, Py_ssize_t rows,
                         Py_ssize_t width=0):
    """`rows` items of `dtype` at `start` in a handed-out store (rows x width with a width): an
    array on the store's memory whose base is the RingBlock, which keeps the store. No copy."""
    cdef cnp.npy_intp shape[2]
    shape[0] = rows
    shape[1] = width
    Py_INCREF(dtype)                     # PyArray_NewFromDescr takes this reference
    array = PyArray_NewFromDescr(&PyArray_Type, <PyArray_Descr *><PyObject *>dtype,
                                 2 if width else 1, shape, NULL, <void *>start, NPY_ARRAY_CARRAY,
                                 NULL)
    Py_INCREF(block)                     # and PyArray_SetBaseObject this one
    PyArray_SetBaseObject(<PyArrayObject *><PyObject *>array, <PyObject *>block)
    return array


cdef object empty_column(object dtype, Py_ssize_t width=0):
    """A column of no rows (0 x width with a width)."""
    cdef cnp.npy_intp shape[2]
    shape[0] = 0
    shape[1] = width
    Py_INCREF(dtype)                     # PyArray_Empty takes this reference
    return PyArray_Empty(2 if width else 1, shape, <PyArray_Descr *><PyObject *>dtype, 0)


cdef tuple alarm_columns(object block, const RingStore *store, Py_ssize_t first, Py_ssize_t n):
    """timestamps, status, severity and counts of slots first..first+n: views, no copy."""
    return (store_column(block, STAMP_DTYPE, &store.stamps[first], n),
            store_column(block, ALARM_DTYPE, &store.status[first], n),
            store_column(block, ALARM_DTYPE, &store.severity[first], n),
            store_column(block, COUNT_DTYPE, &store.counts[first], n))


cdef tuple empty_alarm_columns():
    return (empty_column(STAMP_DTYPE), empty_column(ALARM_DTYPE), empty_column(ALARM_DTYPE),
            empty_column(COUNT_DTYPE))


Update = _namedtuple('Update', 'value timestamp status severity count')
Update.__doc__ = """One update: the value (a scalar for one-element monitors, else a 1-D ndarray
of the delivered elements), its POSIX timestamp, alarm status, severity and element count."""


cdef struct RingStore:
    # one allocation: this header, then the regions it points to, each 64-byte aligned
    Py_ssize_t nbytes                # of the whole allocation
    char *values                     # depth rows of width elements
    double *stamps                   # POSIX seconds of each update
    unsigned int *counts             # elements each update delivered
    short *status                    # alarm fields (0 for plain request types)
    short *severity
    int *index                       # MonitorGroup: the member each row came from
    unsigned char *events            # MonitorGroup: ROW_UPDATE, or a connection change


cdef inline size_t store_aligned(size_t n) noexcept nogil:
    return (n + 63) & ~(<size_t>63)


cdef inline Py_ssize_t ring_slot(Py_ssize_t position, Py_ssize_t depth) noexcept nogil:
    """A position below 2 x depth (a slot plus at most depth) as a slot: position % depth
    without the division, a 64-bit one that costs tens of cycles on the update path."""
    return position - depth if position >= depth else position


cdef RingStore *store_new(Py_ssize_t depth, Py_ssize_t row_bytes) noexcept nogil:
    """A store of `depth` slots, or NULL. Its rows are not cleared: every slot is written whole
    (value, padding and metadata) before it is counted as filled."""
    cdef size_t values_at = store_aligned(sizeof(RingStore))
    cdef size_t stamps_at = values_at + store_aligned(depth * row_bytes)
    cdef size_t counts_at = stamps_at + store_aligned(depth * sizeof(double))
    cdef size_t status_at = counts_at + store_aligned(depth * sizeof(unsigned int))
    cdef size_t severity_at = status_at + store_aligned(depth * sizeof(short))
    cdef size_t index_at = severity_at + store_aligned(depth * sizeof(short))
    cdef size_t events_at = index_at + store_aligned(depth * sizeof(int))
    cdef size_t nbytes = events_at + store_aligned(depth * sizeof(unsigned char))
    cdef char *base = <char *>malloc(nbytes)
    if base == NULL:
        return NULL
    cdef RingStore *store = <RingStore *>base
    store.nbytes = nbytes
    store.values = base + values_at
    store.stamps = <double *>(base + stamps_at)
    store.counts = <unsigned int *>(base + counts_at)
    store.status = <short *>(base + status_at)
    store.severity = <short *>(base + severity_at)
    store.index = <int *>(base + index_at)
    store.events = <unsigned char *>(base + events_at)
    return store


cdef void store_copy_run(const RingStore *source, Py_ssize_t first, RingStore *target,
                         Py_ssize_t at, Py_ssize_t n, Py_ssize_t row_bytes) noexcept nogil:
    """Slots first..first+n of `source` into slots at..at+n of `target`."""
    memcpy(target.values + at * row_bytes, source.values + first * row_bytes, n * row_bytes)
    memcpy(&target.stamps[at], &source.stamps[first], n * sizeof(double))
    memcpy(&target.counts[at], &source.counts[first], n * sizeof(unsigned int))
    memcpy(&target.status[at], &source.status[first], n * sizeof(short))
    memcpy(&target.severity[at], &source.severity[first], n * sizeof(short))
    memcpy(&target.index[at], &source.index[first], n * sizeof(int))
    memcpy(&target.events[at], &source.events[first], n * sizeof(unsigned char))


cdef Py_ssize_t take_rows(RingStore **store, Py_ssize_t depth, Py_ssize_t *oldest,
                          Py_ssize_t *filled, Py_ssize_t row_bytes, Py_ssize_t limit,
                          RingStore **out, Py_ssize_t *first) noexcept nogil:
    """Take up to `limit` (negative: all) of the rows waiting in a ring, under its lock, into
    `*out`, a free store; returns how many, from slot `*first` of `*out`.

    All of them, in one run: `*out` and the ring's store swap (no copy), and the ring goes on
    in the free one. Otherwise the rows are copied into `*out`, from slot 0."""
    cdef Py_ssize_t taken = filled[0] if limit < 0 else min(limit, filled[0])
    cdef Py_ssize_t run
    cdef RingStore *filled_store
    first[0] = 0
    if taken == filled[0] and oldest[0] + taken <= depth:
        filled_store = store[0]
        store[0] = out[0]
        out[0] = filled_store
        first[0] = oldest[0]
        oldest[0] = 0
    else:
        # at most two contiguous runs (the ring wraps once)
        run = min(taken, depth - oldest[0])
        store_copy_run(store[0], oldest[0], out[0], 0, run, row_bytes)
        store_copy_run(store[0], 0, out[0], run, taken - run, row_bytes)
        oldest[0] = ring_slot(oldest[0] + taken, depth)
    filled[0] -= taken
    if filled[0] == 0:
        oldest[0] = 0                            # the next batch starts a store: one run
    return taken


cdef Py_ssize_t drain_limit(object max_n, Py_ssize_t depth) except -2:
    """drain()'s max_n as a number of rows: -1 for all (None); never more than the ring holds."""
    if max_n is None:
        return -1
    wanted = _index(max_n)
    return 0 if wanted < 0 else min(wanted, depth)


cdef RingStore *take_spare(RingStore **spare, Py_ssize_t depth, Py_ssize_t row_bytes) except NULL:
    """The free store a drain takes the rows into: the owner's spare, or a new one."""
    cdef RingStore *out = spare[0]
    spare[0] = NULL
    if out == NULL:
        out = store_new(depth, row_bytes)
        if out == NULL:
            raise MemoryError()
    return out


cdef struct SlotLayout:
    # how one update of a request type is kept in a slot
    Py_ssize_t value_offset          # of the value in the DBR buffer
    bint has_stamp                   # TIME_ request: alarm fields and server time stamp
    bint text                        # string request: elements are 40-byte C strings
    Py_ssize_t element_size
    Py_ssize_t width                 # elements per slot
    Py_ssize_t row_bytes             # width * element_size


cdef inline void store_update(RingStore *store, Py_ssize_t slot, const SlotLayout *layout,
                              const cadef.event_handler_args *args, double receipt) noexcept nogil:
    """Write one update with data into a slot, whole: value (zero padded), alarm fields, time
    stamp (the server's for TIME_ requests, else `receipt`) and the delivered count."""
    # the layout in locals: the stores below could alias it, and would make the compiler read
    # it again after each of them
    cdef Py_ssize_t width = layout.width, element_size = layout.element_size
    cdef Py_ssize_t delivered = min(<Py_ssize_t>args.count, width)
    cdef char *row = store.values + slot * layout.row_bytes
    cdef char *element
    cdef Py_ssize_t i, used
    cdef const dba.dbr_time_short *stamped
    memcpy(row, <const char *>args.dbr + layout.value_offset, delivered * element_size)
    if delivered < width:
        memset(row + delivered * element_size, 0, (width - delivered) * element_size)
    if layout.text:
        # the server leaves whatever follows a string's terminator: clear it, so that the S40
        # rows read back as the text alone
        for i in range(delivered):
            element = row + i * dba.MAX_STRING_SIZE
            used = strnlen(element, dba.MAX_STRING_SIZE)
            memset(element + used, 0, dba.MAX_STRING_SIZE - used)
    if layout.has_stamp:
        stamped = <const dba.dbr_time_short *>args.dbr
        store.status[slot] = stamped.status
        store.severity[slot] = stamped.severity
        store.stamps[slot] = (<double>stamped.stamp.secPastEpoch + dba.POSIX_TIME_AT_EPICS_EPOCH
                              + stamped.stamp.nsec * 1e-9)
    else:
        store.status[slot] = 0
        store.severity[slot] = 0
        store.stamps[slot] = receipt
    store.counts[slot] = args.count


cdef struct MonitorRing:
    RingLock lock
    epicsEventId ready               # triggered after each stored update and at close
    SlotLayout slots
    Py_ssize_t depth                 # slots
    RingStore *store                 # the slots libca's callback writes into
    Py_ssize_t oldest
    Py_ssize_t filled
    bint drop_newest                 # full ring: drop the update that arrives (else the oldest)
    bint closed
    int waiters                      # consumers blocked in wait(): only then is `ready` triggered
    unsigned long long dropped
    unsigned long long failures      # deliveries without data (status not NORMAL)
    UpdateCounters counters          # every update delivered with data


cdef void on_buffered_update(cadef.event_handler_args args) noexcept nogil:
    cdef MonitorRing *ring = <MonitorRing *>args.usr
    cdef bint wake
    ring_lock(ring.lock)
    if ring.closed:
        ring_unlock(ring.lock)
        return
    if args.status != caerr.ECA_NORMAL or args.dbr == NULL:
        ring.failures += 1
        ring_unlock(ring.lock)
        return
    count_update_at(&ring.counters, <unsigned long long>args.count * ring.slots.element_size,
                    receipt_clock(not ring.slots.has_stamp))
    if ring.filled == ring.depth:
        ring.dropped += 1
        if ring.drop_newest:
            ring_unlock(ring.lock)
            return
        ring.oldest = ring_slot(ring.oldest + 1, ring.depth)
        ring.filled -= 1
    store_update(ring.store, ring_slot(ring.oldest + ring.filled, ring.depth), &ring.slots, &args,
                 ring.counters.last_time)             # receipt time: the counters' clock read
    ring.filled += 1
    wake = ring.waiters > 0          # no system call per update while nobody waits
    ring_unlock(ring.lock)
    if wake:
        epicsEventTrigger(ring.ready)


cdef class RingBlock                 # below: the base object of a drained batch's arrays
cdef class MonitorGroup


# what a ring's slots may take in all: far beyond any machine, but Py_ssize_t arithmetic on the
# store's offsets cannot overflow below it
cdef Py_ssize_t MAX_STORE_BYTES = (<Py_ssize_t>1) << 52
cdef double MAX_GATHER = 3600.0              # MonitorGroup(gather=...): an hour is surely a mistake

# numpy dtypes of the DBF base types, indexed by `request type % BASE_TYPE_COUNT`
cdef tuple MONITOR_DTYPES = ('S%d' % dba.MAX_STRING_SIZE, 'int16', 'float32', 'uint16', 'uint8',
                             'int32', 'float64')


cdef inline bint inherited(int generation) noexcept nogil:
    """Made before a fork() of this process: its subscriptions and locks are the parent's."""
    return generation != fork_generation()


cdef int refuse_inherited(str kind, int generation) except -1:
    if inherited(generation):
        raise RuntimeError(f'this {kind} was inherited across fork(): its subscriptions live in '
                           f'the parent process; make a new one in a context of this process')
    return 0


cdef int check_timeout(object timeout) except -1:
    """wait()'s timeout: None (for ever) or a number of seconds, not NaN."""
    if timeout is not None and timeout != timeout:
        raise ValueError('timeout must be a number of seconds or None, not NaN')
    return 0


cdef inline bint monitor_type(long request):
    """A Monitor keeps plain and TIME_ requests: the value, or it with alarm fields and stamp."""
    return (dba.DBR_STRING <= request <= dba.DBR_DOUBLE
            or dba.DBR_TIME_STRING <= request <= dba.DBR_TIME_DOUBLE)


cdef int check_ring_arguments(str kind, long request, object depth, object overflow,
                              object notify, double notify_interval) except -1:
    if not monitor_type(request):
        raise ValueError(f'a {kind} takes a plain or TIME_ request type, not {dbr_member(request)!r}')
    if overflow not in ('drop_oldest', 'drop_newest'):
        raise ValueError(f"overflow must be 'drop_oldest' or 'drop_newest', not {overflow!r}")
    if depth < 1:
        raise ValueError('depth must be at least 1')
    if notify is not None and not callable(notify):
        raise TypeError('notify must be callable')
    if notify is not None and notify_interval <= 0:
        raise ValueError('notify_interval must be positive')
    return 0


cdef int set_layout(SlotLayout *layout, long request, Py_ssize_t width, Py_ssize_t depth) except -1:
    """The slot layout of `request` with `width` elements; MemoryError for a ring too large."""
    layout.value_offset = dba.dbr_value_offset[request]
    layout.has_stamp = request >= dba.DBR_TIME_STRING
    layout.text = request % BASE_TYPE_COUNT == dba.DBR_STRING
    layout.element_size = dba.dbr_value_size[request]
    if depth * width * layout.element_size > MAX_STORE_BYTES:
        raise MemoryError(f'a ring of {depth} x {width} elements of {layout.element_size} '
                          f'bytes is too large')
    layout.width = width
    layout.row_bytes = width * layout.element_size
    return 0


cdef class Monitor(SubscriptionRecord):
    """A buffered subscription: updates wait in a ring in C until Python takes them.

    Monitor(chid, chtype=DBR.TIME_DOUBLE, count=None, depth=1024, overflow='drop_oldest',
            mask=None, notify=None, notify_interval=0.1)

    `chtype` is a plain or TIME_ request type (TIME_ types keep the server's time stamp and
    alarm fields). `count` is the number of elements kept per update (default: the channel's
    native count; the subscription asks the server for its current length). When the ring of
    `depth` slots is full, 'drop_oldest' overwrites the oldest update and 'drop_newest' discards
    the arriving one; either way `dropped` counts it. With `notify`, a thread of the monitor calls
    notify(batch) with what arrived, at most every `notify_interval` seconds.
    """
    cdef MonitorRing *ring
    cdef RingStore *spare            # a store for the next drain(); touched only under the GIL
    cdef readonly object dtype
    cdef readonly object request_type
    cdef object notifier
    cdef object stop_notifier
    cdef int generation              # fork_generation() when made

    def __cinit__(self, *args, **kwargs):
        self.ring = <MonitorRing *>calloc(1, sizeof(MonitorRing))
        if self.ring == NULL:
            raise MemoryError()
        self.generation = fork_generation()

    def __init__(self, chid, chtype=DBR.TIME_DOUBLE, count=None, depth=1024,
                 overflow='drop_oldest', mask=None, notify=None, notify_interval=0.1):
        if self.ring.lock != NULL:
            # a second layout under a subscription libca still writes with the first
            raise TypeError('a Monitor is initialised once: make a new one')
        cdef long request = _index(chtype)
        notify_interval = float(notify_interval)
        check_ring_arguments('Monitor', request, depth, overflow, notify, notify_interval)
        channel = acquired(chid)
        if channel is None:
            raise ValueError('Monitor needs a live chid from create_channel()')
        cdef Native native
        cdef long event_mask
        cdef unsigned long requested_count
        cdef int status
        cdef MonitorRing *ring = self.ring
        try:
            native = native_of(channel.chid)
            width = native.element_count if count is None else _index(count)
            if width < 1:
                raise ValueError('the channel is not connected: give an explicit count' if count is None
                                 else 'count must be at least 1')
            event_mask = DEFAULT_EVENT_MASK if mask is None else _index(mask)
            self.request_type = dbr_member(request)
            self.dtype = numpy.dtype(MONITOR_DTYPES[request % BASE_TYPE_COUNT])
            set_layout(&ring.slots, request, width, depth)
            ring.depth = depth
            ring.drop_newest = overflow == 'drop_newest'
            ring.store = store_new(depth, ring.slots.row_bytes)
            ring.lock = ring_lock_create()
            ring.ready = epicsEventCreate(epicsEventEmpty)
            if ring.store == NULL or ring.lock == NULL or ring.ready == NULL:
                raise MemoryError()
            requested_count = 0 if count is None else width     # 0: the server's current length
            self.callback = None
            status = subscribe(self, channel, request, requested_count, event_mask,
                               on_buffered_update, <void *>ring)
            if status != caerr.ECA_NORMAL:
                raise ValueError(f'ca_create_subscription failed: {eca_member(status)!r} '
                                 f'({message(status)})')
        finally:
            channel.release()
        if notify is not None:
            self.start_notifier(notify, notify_interval)

    def __dealloc__(self):
        # libca no longer calls back: the subscription was cleared, or never made (in a forked
        # child the lock and event may be held by a thread that is gone: they are left alone)
        if self.ring != NULL:
            if self.ring.lock != NULL and not inherited(self.generation):
                ring_lock_destroy(self.ring.lock)
            if self.ring.ready != NULL and not inherited(self.generation):
                epicsEventDestroy(self.ring.ready)
            free(self.ring.store)
            free(self.ring)
        free(self.spare)

    def __repr__(self):
        name = self.channel.channel_name if self.channel is not None else '?'
        return (f'<caffi Monitor of {name!r} {self.request_type!r} x{self.ring.slots.width}, '
                f'depth {self.ring.depth}{"" if self.active else ", closed"}>')

    # -- consumer side ---------------------------------------------------------------------

    @property
    def width(self):
        """Elements kept per update."""
        return self.ring.slots.width

    @property
    def depth(self):
        return self.ring.depth

    @property
    def pending(self):
        """Updates waiting in the ring."""
        return self.ring.filled

    @property
    def closed(self):
        return not self.active or self.ring.closed

    def stats(self):
        """Counters: updates delivered with data, bytes, first/last update time, rate over the
        last second, plus `dropped` (overflow), `failures` (deliveries without data) and
        `pending`."""
        cdef dict result
        self.check_made()
        with nogil:
            ring_lock(self.ring.lock)
        try:
            result = counters_dict(&self.ring.counters)
            result['dropped'] = self.ring.dropped
            result['failures'] = self.ring.failures
            result['pending'] = self.ring.filled
        finally:
            ring_unlock(self.ring.lock)
        return result

    def wait(self, timeout=None):
        """Block (without the GIL) until an update is waiting; False on timeout or close."""
        check_timeout(timeout)
        cdef double remaining = -1.0 if timeout is None else timeout
        cdef double deadline = monotonic_clock() + remaining
        cdef double slice_
        cdef Py_ssize_t filled
        cdef bint closed
        cdef MonitorRing *ring = self.ring
        self.check_made()
        while True:
            if timeout is not None:
                remaining = deadline - monotonic_clock()
            # bounded slices so that a channel cleared elsewhere is noticed
            slice_ = 0.1 if timeout is None or remaining > 0.1 else remaining
            with nogil:
                ring_lock(ring.lock)
                filled = ring.filled
                closed = ring.closed
                if not filled and not closed and slice_ > 0:
                    ring.waiters += 1
                    ring_unlock(ring.lock)
                    epicsEventWaitWithTimeout(ring.ready, slice_)
                    ring_lock(ring.lock)
                    ring.waiters -= 1
                    filled = ring.filled
                    closed = ring.closed
                ring_unlock(ring.lock)
            if filled:
                return True
            if closed or not self.active:
                return False
            if timeout is not None and deadline - monotonic_clock() <= 0:
                return False

    def drain(self, max_n=None):
        """Take up to `max_n` (default: all) waiting updates as a Batch, oldest first.

        Taking everything that waits (the usual case) copies nothing: the batch's arrays are
        the ring's own slots, where libca's callback wrote each update with its one memcpy, and
        the ring goes on in a spare store. That store returns to the monitor for reuse once
        the batch is released; keep `batch.values.copy()` rather than the batch to hold on to
        a few rows of a deep ring for long. A part of what waits, or a ring that overflowed
        around its end, is copied once more into the batch.
        """
        cdef MonitorRing *ring = self.ring
        self.check_made()
        cdef Py_ssize_t limit = drain_limit(max_n, ring.depth)
        if limit == 0 or ring.filled == 0:       # a glance without the lock: nothing is taken
            return self.empty_batch()
        cdef RingStore *out = take_spare(&self.spare, ring.depth, ring.slots.row_bytes)
        cdef Py_ssize_t first = 0, taken
        with nogil:
            ring_lock(ring.lock)
            taken = take_rows(&ring.store, ring.depth, &ring.oldest, &ring.filled,
                              ring.slots.row_bytes, limit, &out, &first)
            ring_unlock(ring.lock)
        if taken == 0:                           # another consumer took them meanwhile
            self.recycle(out)
            return self.empty_batch()
        return self.batch_of(RingBlock.owning(out, self, None), first, taken)

    cdef object batch_of(self, RingBlock block, Py_ssize_t first, Py_ssize_t n):
        """The Batch of slots first..first+n of a handed-out store: views, no copy."""
        cdef RingStore *store = block.store
        cdef Py_ssize_t width = self.ring.slots.width
        values = store_column(block, self.dtype, store.values + first * self.ring.slots.row_bytes,
                              n, width)
        return _tuple_new(Batch, (values,) + alarm_columns(block, store, first, n))

    cdef object empty_batch(self):
        return _tuple_new(Batch, (empty_column(self.dtype, self.ring.slots.width),)
                          + empty_alarm_columns())

    cdef int check_made(self) except -1:
        refuse_inherited('Monitor', self.generation)
        # Monitor.__new__ without __init__ has no lock or store to work with
        if self.ring.lock == NULL or self.ring.ready == NULL or self.ring.store == NULL:
            raise ValueError('the Monitor was not made by Monitor(chid, ...)')
        return 0

    cdef void recycle(self, RingStore *store) noexcept:
        """Keep a store no batch uses any more as the next spare (one is enough)."""
        if self.spare == NULL and self.active and not self.ring.closed:
            self.spare = store
        else:
            free(store)

    def get(self, timeout=None):
        """The next update (waiting without the GIL); TimeoutError when none came in time."""
        while True:
            if not self.wait(timeout):
                if self.closed:
                    raise EOFError('the monitor is closed')
                raise TimeoutError(f'no update within {timeout} s')
            batch = self.drain(1)
            if len(batch.counts):
                break
        count = int(batch.counts[0])
        row = batch.values[0]
        # a copy, so that an Update kept for long does not keep a whole store of the ring
        value = row[0].item() if self.ring.slots.width == 1 else row[:min(count, self.ring.slots.width)].copy()
        return Update(value, float(batch.timestamps[0]), int(batch.status[0]),
                      int(batch.severity[0]), count)

    def __iter__(self):
        """Updates one by one until the monitor is closed."""
        while True:
            try:
                yield self.get()
            except EOFError:
                return

    # -- notifier --------------------------------------------------------------------------

    cdef start_notifier(self, notify, interval):
        self.stop_notifier = threading.Event()
        self.notifier = threading.Thread(target=_notify_batches, name='caffi-monitor-notifier',
                                         args=(self, notify, float(interval), self.stop_notifier),
                                         daemon=True)
        self.notifier.start()

    # -- closing ---------------------------------------------------------------------------

    def close(self):
        """Stop the subscription; what is still in the ring can be drained. Idempotent."""
        if inherited(self.generation):
            self.active = False              # the parent's subscription: nothing to stop here
            return
        self.check_made()
        with nogil:
            ring_lock(self.ring.lock)
            self.ring.closed = True
            ring_unlock(self.ring.lock)
            epicsEventTrigger(self.ring.ready)
        if self.active:
            clear_subscription(self)
        if self.notifier is not None:
            self.stop_notifier.set()
            if self.notifier is not threading.current_thread():
                self.notifier.join()
            self.notifier = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


# ---------------------------------------------------------------------------------------------
# Many channels, one stream: MonitorGroup.
#
# Every member's subscription writes into one ring shared by the group, under one lock, and
# the row records which member it came from. The group's file descriptor (an eventfd) becomes
# readable when the first row arrives in an empty ring and is cleared by the drain that empties
# it: one system call per batch, whatever the number of members, and any event loop or select()
# can wait on it. With `gather`, the descriptor is a timerfd that the first row arms: it becomes
# readable once the batch has gathered for that long (at once when the ring is half full), so
# a consumer that wants batches of some age wakes once per batch, not at the first row and again
# after a sleep of its own. No Python object is made per update or touched per member on that
# path: a member is a C struct (GroupMember) that libca's callback gets as its user argument.

from linux_eventfd cimport eventfd, eventfd_t, eventfd_write, EFD_NONBLOCK, EFD_CLOEXEC
from linux_timerfd cimport (timerfd_create, timerfd_settime, itimerspec, CLOCK_MONOTONIC,
                            TFD_NONBLOCK, TFD_CLOEXEC)
from posix.unistd cimport read as read_fd

cdef extern from "<poll.h>" nogil:
    cdef struct pollfd:
        int fd
        short events
        short revents
    int poll(pollfd *fds, unsigned long nfds, int timeout)
    enum:
        POLLIN


cdef enum:
    # what a row of a group's stream is (GroupBatch.events)
    ROW_UPDATE = 0                   # an update of the member
    ROW_CONNECTED = 1                # the member's channel (re)connected
    ROW_DISCONNECTED = 2             # the member's channel disconnected


cdef struct GroupMember:
    ConnectionWatch watch            # first: the channel's connection changes come through it
    GroupRing *ring
    int index                        # position in the group's chids
    bint active                      # False once removed: a late callback stores nothing
    unsigned long long rows_through  # once removed: the ring's rows_in then, past its last row
    unsigned long long dropped       # its updates the full ring dropped
    unsigned long long failures      # deliveries without data
    UpdateCounters counters


cdef struct GroupRing:
    RingLock lock
    int fd                           # readable while rows wait (or have gathered), or once closed
    long long gather_ns              # 0: fd is an eventfd written at the first row; else a timerfd
    Py_ssize_t high_water            # with gather: rows that make the fd readable at once
    SlotLayout slots
    Py_ssize_t depth
    RingStore *store
    Py_ssize_t oldest
    Py_ssize_t filled
    bint drop_newest
    bint closed
    unsigned long long dropped
    unsigned long long failures
    UpdateCounters counters          # every update delivered with data, all members
    GroupMember **members            # by index; grown under the lock
    Py_ssize_t member_capacity
    # Rows in order: every row ever stored counts in rows_in, so the rows that have left the
    # ring (drained or dropped, oldest first) are rows_in - filled. out_at_drain is that count
    # when the latest drain() began: the rows before it were handed out by earlier drains.
    unsigned long long rows_in
    unsigned long long out_at_drain


cdef inline void arm_timer(int fd, long long nanoseconds) noexcept nogil:
    """A timerfd readable in `nanoseconds` from now (0 disarms it)."""
    cdef itimerspec when
    memset(&when, 0, sizeof(when))
    when.it_value.tv_sec = nanoseconds // 1000000000
    when.it_value.tv_nsec = nanoseconds % 1000000000
    timerfd_settime(fd, 0, &when, NULL)


cdef inline void group_signal(GroupRing *ring, bint at_once) noexcept nogil:
    """Make the descriptor readable: with gather, once the batch has gathered, or at once
    (the group closed, the ring is half full); without, at once."""
    if ring.gather_ns == 0:
        eventfd_write(ring.fd, 1)
    else:
        arm_timer(ring.fd, 1 if at_once else ring.gather_ns)


cdef inline void group_clear_signal(GroupRing *ring) noexcept nogil:
    """The ring is empty: not readable until the next first row."""
    cdef eventfd_t value                 # a timerfd's expiry count reads the same way
    if ring.gather_ns:
        arm_timer(ring.fd, 0)            # a drain before the batch gathered: no late wake-up
    read_fd(ring.fd, &value, sizeof(value))   # non-blocking: nothing to clear is fine


cdef inline void group_row_added(GroupRing *ring) noexcept nogil:
    """Under the lock, after a row went in: announce the batch when it starts, or (with
    gather) when the ring is half full and waiting any longer risks drops."""
    ring.rows_in += 1
    if ring.filled == 1:
        group_signal(ring, False)        # the first row of a batch: one wake-up per batch
    elif ring.filled == ring.high_water and ring.gather_ns:
        group_signal(ring, True)


cdef Py_ssize_t group_make_room(GroupRing *ring, GroupMember *arriving) noexcept nogil:
    """Under the lock, with the ring full: drop a row by the overflow policy, counting it for
    the member whose update it was. Returns 0 when there is now room, -1 when the arriving
    update is the one dropped."""
    cdef int victim
    ring.dropped += 1
    if ring.drop_newest:
        arriving.dropped += 1
        return -1
    if ring.store.events[ring.oldest] == ROW_UPDATE:
        victim = ring.store.index[ring.oldest]
        if 0 <= victim < ring.member_capacity and ring.members[victim] != NULL:
            ring.members[victim].dropped += 1
    ring.oldest = ring_slot(ring.oldest + 1, ring.depth)
    ring.filled -= 1
    return 0


cdef void on_member_connection(ConnectionWatch *watch, bint connected) noexcept nogil:
    """A member's channel connected or disconnected: a row of its own in the stream, in order
    with the updates (libca resubscribes by itself after a reconnect)."""
    cdef GroupMember *member = <GroupMember *>watch
    cdef GroupRing *ring = member.ring
    cdef Py_ssize_t slot
    cdef RingStore *store
    ring_lock(ring.lock)
    if ring.closed or not member.active:
        ring_unlock(ring.lock)
        return
    if ring.filled == ring.depth and group_make_room(ring, member) < 0:
        ring_unlock(ring.lock)
        return
    store = ring.store
    slot = ring_slot(ring.oldest + ring.filled, ring.depth)
    memset(store.values + slot * ring.slots.row_bytes, 0, ring.slots.row_bytes)
    store.stamps[slot] = wall_clock()
    store.status[slot] = 0
    store.severity[slot] = 0
    store.counts[slot] = 0
    store.index[slot] = member.index
    store.events[slot] = ROW_CONNECTED if connected else ROW_DISCONNECTED
    ring.filled += 1
    group_row_added(ring)
    ring_unlock(ring.lock)


cdef void on_group_update(cadef.event_handler_args args) noexcept nogil:
    cdef GroupMember *member = <GroupMember *>args.usr
    cdef GroupRing *ring = member.ring
    cdef Py_ssize_t slot
    cdef double now
    ring_lock(ring.lock)
    if ring.closed or not member.active:
        ring_unlock(ring.lock)
        return
    if args.status != caerr.ECA_NORMAL or args.dbr == NULL:
        member.failures += 1
        ring.failures += 1
        ring_unlock(ring.lock)
        return
    now = receipt_clock(not ring.slots.has_stamp)
    count_update_at(&member.counters, <unsigned long long>args.count * ring.slots.element_size, now)
    count_update_at(&ring.counters, <unsigned long long>args.count * ring.slots.element_size, now)
    if ring.filled == ring.depth and group_make_room(ring, member) < 0:
        ring_unlock(ring.lock)
        return
    slot = ring_slot(ring.oldest + ring.filled, ring.depth)
    store_update(ring.store, slot, &ring.slots, &args, now)
    ring.store.index[slot] = member.index
    ring.store.events[slot] = ROW_UPDATE
    ring.filled += 1
    group_row_added(ring)
    ring_unlock(ring.lock)


GroupBatch = _namedtuple('GroupBatch', 'index values timestamps status severity counts events')
GroupBatch.__doc__ = """Rows taken from a MonitorGroup, oldest first across all members:
`index` (int32) the member's position in group.chids, `values` (k,) for width-1 groups, else
(k, width), `timestamps` POSIX seconds, `status`/`severity` alarm fields (int16), `counts` the
element count each update delivered (uint32), `events` (uint8) what each row is: UPDATE, or
CONNECTED / DISCONNECTED for a member's connection change (those rows carry no value)."""

UPDATE = ROW_UPDATE
CONNECTED = ROW_CONNECTED
DISCONNECTED = ROW_DISCONNECTED


cdef class GroupSubscription(SubscriptionRecord):
    """One member's subscription: what its channel's record lists, so that clearing the
    channel ends it. It keeps its group (and so the member's C state, which libca's callback
    is given) alive while subscribed."""
    cdef GroupMember *member
    cdef MonitorGroup group


cdef unsigned long connected_count(object chid):
    """The native element count of a chid's channel; 0 when it is not connected or stale."""
    channel = acquired(chid)
    if channel is None:
        return 0
    try:
        return native_of(channel.chid).element_count
    finally:
        channel.release()


cdef class MonitorGroup:
    """Subscriptions of many channels sharing one ring, one lock and one wake-up.

    MonitorGroup(chids, chtype=DBR.TIME_DOUBLE, count=None, depth=65536,
                 overflow='drop_oldest', mask=None, notify=None, notify_interval=0.1,
                 gather=0.0, reuse_indices=False)

    Every member is subscribed with the same plain or TIME_ request type and keeps up to
    `count` elements per update (the group's width; default: the largest native count of the
    initial members). Any native type the server converts to the request type can join: LONG,
    ENUM and DOUBLE records share one TIME_DOUBLE group. Shorter arrays fill the front of
    their row, `counts` says how many elements came. Rows of all members wait in one ring of
    `depth` slots, oldest first; the overflow policies are Monitor's, and every drop is also
    counted for the member whose update it was. As with create_subscription, the requests go
    out with the next flush_io().

    wait() blocks without the GIL until rows wait; fileno() is readable then (for select() or
    an event loop's add_reader()); drain() takes them as a GroupBatch, whose `index` says which
    member (its position in `chids`) each row came from. With `notify`, a thread of the group
    calls notify(batch) with what arrived, at most every `notify_interval` seconds.

    `gather` (seconds) lets a batch gather before it is announced: wait() and fileno() become
    ready that long after the first row of a batch (at once when the ring is half full or the
    group closes), so a DAQ loop at 20 Hz is `while group.wait(): process(group.drain())` with
    gather=0.05, and wakes once per batch. drain() takes what waits whenever it is called.

    A removed member's index is not given to another member, so that an index seen in any
    batch names one channel for the group's life: a program that keeps adding and removing
    members then grows the group's tables by one entry per add. With `reuse_indices` a later
    add() takes a removed member's index once none of its rows can still be in a caller's
    hands: the rows all left the ring before a later drain() began (a batch's indices then hold
    until the group's next drain, by any thread). caffi.aio's groups, whose subscriptions come
    and go for a program's whole life, do so.
    """
    cdef GroupRing *ring
    cdef RingStore *spare            # a store for the next drain(); touched only under the GIL
    cdef readonly object dtype
    cdef readonly object request_type
    cdef long request
    cdef long event_mask
    cdef list members                # GroupSubscription by index; None once removed
    cdef Py_ssize_t size_now         # members not None: `size` without a walk of the list
    cdef object context              # the context every member belongs to
    cdef object notifier
    cdef object stop_notifier
    cdef int generation              # fork_generation() when made
    cdef object retired              # with reuse_indices: removed members' indices, oldest first

    def __cinit__(self, *args, **kwargs):
        self.ring = <GroupRing *>calloc(1, sizeof(GroupRing))
        if self.ring == NULL:
            raise MemoryError()
        self.ring.fd = -1
        self.generation = fork_generation()
        self.members = []

    def __init__(self, chids, chtype=DBR.TIME_DOUBLE, count=None, depth=65536,
                 overflow='drop_oldest', mask=None, notify=None, notify_interval=0.1,
                 gather=0.0, reuse_indices=False):
        if self.ring.lock != NULL:
            # a second layout under members libca still writes with the first
            raise TypeError('a MonitorGroup is initialised once: make a new one')
        cdef long request = _index(chtype)
        notify_interval = float(notify_interval)
        check_ring_arguments('MonitorGroup', request, depth, overflow, notify, notify_interval)
        gather = float(gather)
        if not 0 <= gather <= MAX_GATHER:
            raise ValueError(f'gather must be within 0..{MAX_GATHER} seconds, not {gather!r}')
        chids = list(chids)
        for chid in chids:
            if not isinstance(chid, ChannelRecord):
                raise TypeError(f'MonitorGroup takes chids from create_channel(), not '
                                f'{type(chid).__name__}')
        if len({id((<ChannelRecord>chid).context) for chid in chids}) > 1:
            raise ValueError('the chids of a MonitorGroup must all belong to one context')
        if count is None:
            if not chids:
                raise ValueError('an empty MonitorGroup needs an explicit count')
            width = max(connected_count(chid) for chid in chids)
            if width < 1:
                raise ValueError('no member is connected: give an explicit count')
        else:
            width = _index(count)
            if width < 1:
                raise ValueError('count must be at least 1')
        cdef GroupRing *ring = self.ring
        self.request = request
        self.event_mask = DEFAULT_EVENT_MASK if mask is None else _index(mask)
        self.request_type = dbr_member(request)
        self.dtype = numpy.dtype(MONITOR_DTYPES[request % BASE_TYPE_COUNT])
        set_layout(&ring.slots, request, width, depth)
        ring.depth = depth
        ring.drop_newest = overflow == 'drop_newest'
        ring.store = store_new(depth, ring.slots.row_bytes)
        ring.lock = ring_lock_create()
        if ring.store == NULL or ring.lock == NULL:
            raise MemoryError()
        ring.gather_ns = <long long>(gather * 1e9)
        ring.high_water = max(1, depth // 2)
        self.retired = _deque() if reuse_indices else None
        if ring.gather_ns:
            ring.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        else:
            ring.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
        if ring.fd < 0:
            raise OSError('no file descriptor for a MonitorGroup (eventfd/timerfd failed)')
        try:
            for chid in chids:
                self.add(chid)
        except BaseException:
            self.close()
            raise
        if notify is not None:
            self.start_notifier(notify, notify_interval)

    def __dealloc__(self):
        # libca no longer calls back: every member's subscription was cleared, or never made
        cdef Py_ssize_t i
        if self.ring == NULL:
            return
        if self.ring.lock != NULL and not inherited(self.generation):   # see Monitor.__dealloc__
            ring_lock_destroy(self.ring.lock)
        if self.ring.fd >= 0:
            close_fd(self.ring.fd)
        for i in range(self.ring.member_capacity):
            free(self.ring.members[i])
        free(self.ring.members)
        free(self.ring.store)
        free(self.ring)
        free(self.spare)

    def __repr__(self):
        return (f'<caffi MonitorGroup of {self.size} channels, {self.request_type!r} '
                f'x{self.ring.slots.width}, depth {self.ring.depth}'
                f'{", gather %gs" % self.gather if self.ring.gather_ns else ""}'
                f'{", closed" if self.ring.closed else ""}>')

    cdef int check_made(self) except -1:
        refuse_inherited('MonitorGroup', self.generation)
        # MonitorGroup.__new__ without __init__ has no lock, store or descriptor
        if self.ring.lock == NULL or self.ring.store == NULL or self.ring.fd < 0:
            raise ValueError('the MonitorGroup was not made by MonitorGroup(chids, ...)')
        return 0

    # -- members ---------------------------------------------------------------------------

    def add(self, chid, count=None):
        """Subscribe one more channel; returns its index (the `index` of its rows). `count`
        caps the elements kept for it (1..width; default: all it sends, up to the width)."""
        self.check_made()
        if self.ring.closed:
            raise ValueError('the MonitorGroup is closed')
        if not isinstance(chid, ChannelRecord):
            raise TypeError(f'expected a chid from create_channel(), got {type(chid).__name__}')
        if self.context is not None and (<ChannelRecord>chid).context is not self.context:
            raise ValueError(f"{chid!r} belongs to another context than the group's members")
        cdef Py_ssize_t width = self.ring.slots.width
        cdef unsigned long requested = 0          # 0: the server's current length
        if count is not None:
            requested = _index(count)
            if not 1 <= requested <= width:
                raise ValueError(f"count {count} is not within 1..{width}, the group's width")
        channel = acquired(chid)
        if channel is None:
            raise ValueError(f'{chid!r} is not a live channel')
        cdef unsigned long native
        cdef int status
        cdef GroupSubscription subscription = GroupSubscription()
        try:
            native = native_of(channel.chid).element_count
            if count is None and native > <unsigned long>width:
                raise ValueError(f"{channel.channel_name!r} has {native} elements, more than the "
                                 f"group's width {width}: pass count={width} to keep the first "
                                 f"{width}")
            subscription.member = self.new_member()
            subscription.member.watch.changed = on_member_connection
            subscription.group = self
            status = watch_connection(channel, &subscription.member.watch)
            if status == caerr.ECA_NORMAL:
                status = subscribe(subscription, channel, self.request, requested,
                                   self.event_mask, on_group_update, <void *>subscription.member)
                if status != caerr.ECA_NORMAL:
                    unwatch_connection(channel, &subscription.member.watch)
            if status != caerr.ECA_NORMAL:
                self.deactivate(subscription.member)
                self.retire(subscription.member)
                raise ValueError(f'subscribing {channel.channel_name!r} failed: '
                                 f'{eca_member(status)!r} ({message(status)})')
        finally:
            channel.release()
        if self.context is None:
            self.context = channel.context
        self.members[subscription.member.index] = subscription
        self.size_now += 1
        return subscription.member.index

    cdef GroupMember *new_member(self) except NULL:
        """The C state of the next member, registered in the ring (under its lock, since the
        callback reads the table of members when it drops a row): a retired member's, made
        new, when one is free (see reuse_indices), else one at the next index."""
        cdef GroupRing *ring = self.ring
        cdef GroupMember *member
        cdef Py_ssize_t index
        cdef bint free_now = False
        if self.retired:
            # taken before the GIL is let go, so that an add() in another thread cannot take
            # the same one; put back first if it is not free yet
            index = self.retired.popleft()
            member = ring.members[index]
            with nogil:
                ring_lock(ring.lock)
                # retired in order, so their rows_through rise: if the oldest is not free,
                # none is
                if member.rows_through <= ring.out_at_drain:
                    free_now = True
                    memset(member, 0, sizeof(GroupMember))
                    member.ring = ring
                    member.index = index
                    member.active = True
                ring_unlock(ring.lock)
            if free_now:
                return member
            self.retired.appendleft(index)
        index = len(self.members)
        self.members.append(None)                 # reserved before the GIL is let go
        member = <GroupMember *>calloc(1, sizeof(GroupMember))
        # a bigger table only when the index outgrows it (doubling: a group of thousands of
        # members allocates a few tables, not one per member); only this method, under the
        # GIL, changes the capacity
        cdef bint grows = index >= ring.member_capacity
        cdef Py_ssize_t capacity = max(16, 2 * (index + 1)) if grows else ring.member_capacity
        cdef GroupMember **table = NULL
        if grows:
            table = <GroupMember **>calloc(capacity, sizeof(GroupMember *))
        if member == NULL or (grows and table == NULL):
            free(member)
            free(table)
            raise MemoryError()
        member.ring = ring
        member.index = index
        member.active = True
        with nogil:
            ring_lock(ring.lock)
            if grows:
                memcpy(table, ring.members, ring.member_capacity * sizeof(GroupMember *))
                table, ring.members = ring.members, table
                ring.member_capacity = capacity
            ring.members[index] = member
            ring_unlock(ring.lock)
        free(table)                               # the old table (NULL when it did not grow)
        return member

    cdef void deactivate(self, GroupMember *member) noexcept:
        """No more rows from this member (a late callback stores nothing); rows_through marks
        the end of its rows in the ring."""
        with nogil:
            ring_lock(self.ring.lock)
            member.active = False
            member.rows_through = self.ring.rows_in
            ring_unlock(self.ring.lock)

    cdef void retire(self, GroupMember *member) noexcept:
        """With reuse_indices, a member wholly detached (deactivated, unwatched, unsubscribed,
        out of `members`: new_member() rewrites its C state) gives its index to `retired`,
        where it waits until its rows can be in no caller's hands."""
        if self.retired is not None:
            self.retired.append(member.index)

    cdef GroupSubscription member_at(self, object which):
        """A member by index or by chid; KeyError if it is not (or no longer) in the group."""
        if isinstance(which, ChannelRecord):
            for subscription in self.members:
                if subscription is not None and (<GroupSubscription>subscription).channel is which:
                    return subscription
            raise KeyError(f'{which!r} is not a member of the group')
        index = _index(which)
        if not 0 <= index < len(self.members) or self.members[index] is None:
            raise KeyError(f'no member at index {index}')
        return self.members[index]

    def remove(self, which):
        """Unsubscribe a member (by chid or index). Its rows already in the ring stay;
        chids[index] becomes None, and the index is not reused (see reuse_indices)."""
        self.check_made()
        cdef GroupSubscription subscription = self.member_at(which)
        # out of `members` before the calls below let the GIL go (a remove() of the same
        # member in another thread then finds none), and retired only after them
        self.members[subscription.member.index] = None
        self.size_now -= 1
        self.end_member(subscription)
        self.retire(subscription.member)

    cdef void end_member(self, GroupSubscription subscription):
        """No more rows from this member: unwatched, unsubscribed (its C state stays with the
        group: rows of it may still wait in the ring)."""
        self.deactivate(subscription.member)
        unwatch_connection(subscription.channel, &subscription.member.watch)
        if subscription.active:
            clear_subscription(subscription)
        subscription.group = None

    @property
    def chids(self):
        """The members' chids by index (None where a member was removed)."""
        return [None if s is None else (<GroupSubscription>s).channel for s in self.members]

    @property
    def size(self):
        """Members subscribed now."""
        return self.size_now

    @property
    def width(self):
        """Elements kept per update."""
        return self.ring.slots.width

    @property
    def depth(self):
        return self.ring.depth

    @property
    def pending(self):
        """Rows waiting in the ring."""
        return self.ring.filled

    @property
    def closed(self):
        return self.ring.closed

    # -- consumer side ---------------------------------------------------------------------

    def fileno(self):
        """A file descriptor that is readable while rows wait (with `gather`: once they have
        gathered), and once the group is closed: for select(), poll() or an event loop's
        add_reader(). The drain() that empties the ring clears it."""
        self.check_made()
        return self.ring.fd

    @property
    def gather(self):
        """Seconds a batch gathers before wait() and fileno() announce it."""
        return self.ring.gather_ns / 1e9

    def wait(self, timeout=None):
        """Block (without the GIL) until rows wait (with `gather`: until they have gathered);
        False on timeout, or when the group is closed and empty."""
        self.check_made()
        check_timeout(timeout)
        cdef pollfd watched
        watched.fd = self.ring.fd
        watched.events = POLLIN
        cdef double deadline = monotonic_clock() + (0 if timeout is None else timeout)
        cdef double remaining
        cdef int milliseconds
        cdef int readable = 0            # what the last blocking poll() said
        while True:
            if self.ring.filled and (self.ring.gather_ns == 0 or self.ring.closed or readable > 0
                                     or poll(&watched, 1, 0) > 0):
                return True
            if self.ring.closed:
                return False
            milliseconds = -1
            if timeout is not None:
                remaining = deadline - monotonic_clock()
                if remaining <= 0:
                    return False
                # poll() takes int milliseconds: a longer wait goes round the loop again
                milliseconds = <int>min(remaining * 1000 + 1, INT_MAX)
            with nogil:
                readable = poll(&watched, 1, milliseconds)

    def drain(self, max_n=None):
        """Take up to `max_n` (default: all) waiting rows as a GroupBatch, oldest first.

        As with Monitor.drain(), taking everything that waits copies nothing: the batch's arrays
        are the ring's slots, and the store returns to the group when the batch is released."""
        cdef GroupRing *ring = self.ring
        self.check_made()
        cdef Py_ssize_t limit = drain_limit(max_n, ring.depth)
        if limit == 0 or ring.filled == 0:       # a glance without the lock: nothing is taken
            if self.retired:
                with nogil:
                    ring_lock(ring.lock)
                    ring.out_at_drain = ring.rows_in - ring.filled
                    ring_unlock(ring.lock)
            return self.empty_batch()
        cdef RingStore *out = take_spare(&self.spare, ring.depth, ring.slots.row_bytes)
        cdef Py_ssize_t first = 0, taken
        with nogil:
            ring_lock(ring.lock)
            ring.out_at_drain = ring.rows_in - ring.filled
            taken = take_rows(&ring.store, ring.depth, &ring.oldest, &ring.filled,
                              ring.slots.row_bytes, limit, &out, &first)
            if ring.filled == 0 and not ring.closed:
                group_clear_signal(ring)
            ring_unlock(ring.lock)
        if taken == 0:                           # another consumer took them meanwhile
            self.recycle(out)
            return self.empty_batch()
        return self.batch_of(RingBlock.owning(out, None, self), first, taken)

    cdef object batch_of(self, RingBlock block, Py_ssize_t first, Py_ssize_t n):
        """The GroupBatch of slots first..first+n of a handed-out store: views, no copy."""
        cdef RingStore *store = block.store
        cdef Py_ssize_t width = self.ring.slots.width
        # width-1 groups (scalars) give (k,) values, wider ones (k, width)
        values = store_column(block, self.dtype, store.values + first * self.ring.slots.row_bytes,
                              n, 0 if width == 1 else width)
        return _tuple_new(GroupBatch,
                          (store_column(block, INDEX_DTYPE, &store.index[first], n), values)
                          + alarm_columns(block, store, first, n)
                          + (store_column(block, EVENT_DTYPE, &store.events[first], n),))

    cdef object empty_batch(self):
        cdef Py_ssize_t width = self.ring.slots.width
        values = empty_column(self.dtype, 0 if width == 1 else width)
        return _tuple_new(GroupBatch, (empty_column(INDEX_DTYPE), values) + empty_alarm_columns()
                          + (empty_column(EVENT_DTYPE),))

    cdef void recycle(self, RingStore *store) noexcept:
        """Keep a store no batch uses any more as the next spare (one is enough)."""
        if self.spare == NULL and not self.ring.closed:
            self.spare = store
        else:
            free(store)

    # -- counters --------------------------------------------------------------------------

    def stats(self, which=None):
        """The group's counters (all members): updates delivered with data, bytes, first/last
        update time, rate over the last second, `dropped`, `failures`, `pending`, `members`.
        With a chid or an index, that member's: the same, less `pending` and `members`."""
        self.check_made()
        cdef GroupMember *member = NULL
        if which is not None:
            member = (<GroupSubscription>self.member_at(which)).member
        cdef dict result
        with nogil:
            ring_lock(self.ring.lock)
        try:
            if member != NULL:
                result = counters_dict(&member.counters)
                result['dropped'] = member.dropped
                result['failures'] = member.failures
            else:
                result = counters_dict(&self.ring.counters)
                result['dropped'] = self.ring.dropped
                result['failures'] = self.ring.failures
                result['pending'] = self.ring.filled
        finally:
            ring_unlock(self.ring.lock)
        if member == NULL:
            result['members'] = self.size
        return result

    def member_stats(self):
        """Every member's counters at once, as arrays by index (removed members included,
        until reuse_indices gives the index to a new member, whose counters start at zero):
        `updates`, `bytes`, `dropped`, `failures` (uint64) and `last_update` (POSIX seconds,
        NaN before the first)."""
        self.check_made()
        cdef Py_ssize_t n = len(self.members), i
        updates = numpy.zeros(n, numpy.uint64)
        nbytes = numpy.zeros(n, numpy.uint64)
        dropped = numpy.zeros(n, numpy.uint64)
        failures = numpy.zeros(n, numpy.uint64)
        last = numpy.full(n, numpy.nan)
        cdef unsigned long long[::1] u = updates, b = nbytes, d = dropped, f = failures
        cdef double[::1] t = last
        cdef GroupMember *member
        with nogil:
            ring_lock(self.ring.lock)
            for i in range(min(n, self.ring.member_capacity)):
                member = self.ring.members[i]
                if member == NULL:
                    continue
                u[i] = member.counters.updates
                b[i] = member.counters.bytes
                d[i] = member.dropped
                f[i] = member.failures
                if member.counters.updates:
                    t[i] = member.counters.last_time
            ring_unlock(self.ring.lock)
        return {'updates': updates, 'bytes': nbytes, 'dropped': dropped, 'failures': failures,
                'last_update': last}

    # -- notifier and closing --------------------------------------------------------------

    cdef start_notifier(self, notify, interval):
        self.stop_notifier = threading.Event()
        self.notifier = threading.Thread(target=_notify_batches, name='caffi-group-notifier',
                                         args=(self, notify, float(interval), self.stop_notifier),
                                         daemon=True)
        self.notifier.start()

    def close(self):
        """Unsubscribe every member; what is still in the ring can be drained. Idempotent."""
        if inherited(self.generation):
            self.ring.closed = True          # the parent's subscriptions: nothing to stop here
            return
        self.check_made()
        with nogil:
            ring_lock(self.ring.lock)
            self.ring.closed = True
            group_signal(self.ring, True)        # readable from now on: waiters wake up
            ring_unlock(self.ring.lock)
        for subscription in self.members:
            if subscription is not None:
                self.end_member(subscription)
        if self.notifier is not None:
            self.stop_notifier.set()
            if self.notifier is not threading.current_thread():
                self.notifier.join()
            self.notifier = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


cdef class RingBlock:
    """A store taken out of a ring: the base object of a drained batch's arrays, which
    store_column() makes on its memory. When the last array on it goes, the store returns to
    its Monitor or MonitorGroup as the spare for a later drain (or is freed). It also exposes
    the store through the buffer protocol (memoryview(batch.values.base))."""
    cdef RingStore *store
    cdef Monitor monitor
    cdef MonitorGroup group

    @staticmethod
    cdef RingBlock owning(RingStore *store, Monitor monitor, MonitorGroup group):
        cdef RingBlock block = RingBlock.__new__(RingBlock)
        block.store = store
        block.monitor = monitor
        block.group = group
        return block

    def __getbuffer__(self, Py_buffer *view, int flags):
        if self.store == NULL:
            raise ValueError('a RingBlock comes from drain(); this one holds nothing')
        PyBuffer_FillInfo(view, self, <void *>self.store, self.store.nbytes, 0, flags)

    def __dealloc__(self):
        # the owner may have been cleared first by the cycle collector: then just free
        if self.store == NULL:
            return
        if self.monitor is not None:
            self.monitor.recycle(self.store)
        elif self.group is not None:
            self.group.recycle(self.store)
        else:
            free(self.store)


def _notify_batches(source, notify, double interval, stop):
    """The notifier thread of a Monitor or MonitorGroup: every `interval` seconds, hand what
    arrived to `notify`."""
    while not stop.wait(interval):
        batch = source.drain()
        if len(batch.counts):
            call_reporting(notify, batch)      # an exception is reported; the thread goes on
        if source.closed and not source.pending:
            return
