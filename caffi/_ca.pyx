# cython: language_level=3, boundscheck=False, wraparound=False
"""libca calls, the handle records behind chids/evids/contexts, and the callback trampolines.

Rules this module keeps (API.md §11):
* every libca call is made with the GIL released;
* a record a callback will need (channel, subscription, read/write request, context) is
  registered before the libca call that may trigger it, and libca gets a pointer to it as its
  user argument, so a trampoline never looks anything up by address;
* user code never runs while this module holds anything but the GIL.
"""

from libc.stdlib cimport calloc, malloc, free
from libc.stdio cimport stderr, fwrite, fflush
from posix.unistd cimport usleep
from cpython.ref cimport Py_DECREF

cimport cadef
cimport caerr
cimport db_access as dba
from epics_sync cimport epicsMutexId, epicsMutexOsiCreate, epicsMutexLock, epicsMutexUnlock
from python_threads cimport (PyGILState_Ensure, PyGILState_GetThisThreadState, PyEval_SaveThread,
                             PyThreadState_Get, PyThreadState_Clear, PyThreadState_DeleteCurrent,
                             PyObject, PyObject_CallOneArg, PyErr_WriteUnraisable,
                             PyThread_get_thread_ident, caffi_interpreter_finalizing,
                             epicsAtThreadExit)
from stdarg_io cimport va_copy, va_end, vsnprintf
from caffi._counters cimport count_update, counters_dict
from caffi._dbr cimport (DBRBuffer, DBRValue, PutPayload, dbr_member, dbf_member, eca_member,
                         op_member, channel_state_member, format_buffer, request_size, prepare_put)

import atexit
import os
import threading
from operator import index as _index

from caffi._dbr import ECA, ChannelState, DBF, CA_PRIORITY, message


# ---------------------------------------------------------------------------------------------
# Entering Python from libca's threads.
#
# Cython's `with gil` uses PyGILState_Ensure, which on a thread without a Python thread state
# creates one and deletes it again on release: 8.7 us per update measured here. A libca thread
# therefore gets one thread state on its first callback that it keeps until it exits
# (epicsAtThreadExit), and later callbacks only take and drop the GIL.

cdef extern from *:
    """
    static __thread int caffi_thread_has_state = 0;
    static __thread int caffi_callback_depth = 0;
    static volatile int caffi_shutting_down = 0;
    static int caffi_in_flight_count = 0;
    static int caffi_fork_generation = 0;
    #define caffi_atomic_add(delta) __atomic_add_fetch(&caffi_in_flight_count, (delta), __ATOMIC_SEQ_CST)
    """
    int caffi_thread_has_state
    int caffi_callback_depth           # > 0 while this thread runs a user callback
    int caffi_shutting_down            # set at interpreter exit: deliveries are dropped
    int caffi_in_flight_count
    int caffi_fork_generation          # how many fork()s this process is from its first one
    int caffi_atomic_add(int delta) nogil   # on caffi_in_flight_count; returns the new count


# Idents of the libca threads that keep a thread state: Python lists them among its threads
# (threading.enumerate()) once they run Python code, but they are not Python's to wait for.
cdef set _libca_thread_idents = set()


cdef void drop_thread_state(void *unused) noexcept nogil:
    # counted like a delivery (enter_python), so that interpreter exit waits for it too
    caffi_atomic_add(1)
    if not (caffi_shutting_down or caffi_interpreter_finalizing()):
        forget_libca_thread()
        PyGILState_Ensure()
        PyThreadState_Clear(PyThreadState_Get())
        PyThreadState_DeleteCurrent()
    caffi_atomic_add(-1)


cdef void remember_libca_thread() noexcept with gil:
    _libca_thread_idents.add(PyThread_get_thread_ident())


cdef void forget_libca_thread() noexcept with gil:
    _libca_thread_idents.discard(PyThread_get_thread_ident())


cdef inline bint enter_python() noexcept nogil:
    """False when deliveries must be dropped; otherwise `with gil` is cheap afterwards, and
    leave_python() must follow. Counting the threads in between lets interpreter exit wait
    until none can still be queued for the GIL: one that asked for it while Python finalizes
    would be unwound by pthread_exit through libca's C++ frames, which aborts the process."""
    global caffi_thread_has_state
    caffi_atomic_add(1)
    if caffi_shutting_down or caffi_interpreter_finalizing():
        caffi_atomic_add(-1)
        return False
    if not caffi_thread_has_state:
        caffi_thread_has_state = 1
        if PyGILState_GetThisThreadState() == NULL:
            # A libca thread: this Ensure is never released, so its thread state stays.
            PyGILState_Ensure()
            PyEval_SaveThread()
            epicsAtThreadExit(drop_thread_state, NULL)
            remember_libca_thread()
    return True


cdef inline void leave_python() noexcept nogil:
    caffi_atomic_add(-1)


cdef void call_reporting(object callback, object argument) noexcept:
    cdef PyObject *result = PyObject_CallOneArg(callback, argument)
    if result == NULL:
        PyErr_WriteUnraisable(callback)
    else:
        Py_DECREF(<object>result)


cdef void call_user(object callback, object argument) noexcept:
    """Run a user callback of a trampoline; an exception is reported and swallowed (§11.5)."""
    global caffi_callback_depth
    caffi_callback_depth += 1
    call_reporting(callback, argument)
    caffi_callback_depth -= 1


# ---------------------------------------------------------------------------------------------
# Records. Each lives as long as libca may hand its pointer back (§11.6).

cdef dict _contexts = {}          # address of a live libca context -> ContextRecord


cdef class ContextRecord:
    """A libca client context; also the handle current_context() returns."""

    def __cinit__(self):
        self.channels = set()
        self.pending_reads = []
        self.batch_reads = set()
        self.group_reads = {}

    def __repr__(self):
        state = 'destroyed' if self.destroyed else f'0x{<size_t>self.context:x}'
        return f'<caffi context {state}>'

    cdef void forget(self):
        """The context is gone: every handle of it becomes stale."""
        self.destroyed = True
        for channel in list(self.channels):
            (<ChannelRecord>channel).forget()
        self.channels.clear()
        self.pending_reads.clear()
        self.batch_reads.clear()
        self.group_reads.clear()
        self.exception_callback = None
        self.printf_callback = None


cdef ContextRecord record_of_context(cadef.ca_client_context *context):
    key = <size_t>context
    record = _contexts.get(key)
    if record is None:
        record = ContextRecord()
        (<ContextRecord>record).context = context
        _contexts[key] = record
    return record


cdef ContextRecord thread_context(bint create):
    """The calling thread's context; with `create`, a non-preemptive one is made if absent,
    as libca itself does on the first call that needs one (§11.2)."""
    cdef cadef.ca_client_context *context
    with nogil:
        context = cadef.ca_current_context()
        if context == NULL and create:
            cadef.ca_context_create(cadef.ca_disable_preemptive_callback)
            context = cadef.ca_current_context()
    if context == NULL:
        return None
    return record_of_context(context)


# Guards every channel's list of connection watches: taken by libca's connection callback and
# by whoever adds or removes a watch, never while Python code runs.
cdef epicsMutexId watch_lock = epicsMutexOsiCreate(b'caffi/_ca.pyx', 0)


cdef class ChannelRecord:
    """A channel: the chid handle users hold and the record libca's user pointer leads to."""

    def __cinit__(self):
        self.subscriptions = set()
        self.pending = set()
        self.abandoned_reads = []
        self.hook = <ChannelHook *>calloc(1, sizeof(ChannelHook))
        if self.hook == NULL:
            raise MemoryError()
        self.hook.record = <void *>self

    def __dealloc__(self):
        free(self.hook)         # libca no longer calls back: the channel was cleared, or never made

    def __repr__(self):
        return f'<caffi chid {self.channel_name!r}{" cleared" if self.closed else ""}>'

    cdef cadef.chid acquire(self):
        """The chid for one libca call, or NULL when the channel is stale."""
        if self.closed or self.chid == NULL:
            return NULL
        self.users += 1
        return self.chid

    cdef void release(self):
        self.users -= 1
        if self.users == 0 and self.closed and self.chid != NULL:
            self.destroy()

    cdef void destroy(self):
        """ca_clear_channel, once no other thread is inside libca with this chid."""
        cdef cadef.chid chid = self.chid
        with nogil:
            cadef.ca_clear_channel(chid)
        self.forget()

    cdef void forget(self):
        self.closed = True
        self.chid = NULL
        for subscription in self.subscriptions:
            (<SubscriptionRecord>subscription).active = False
            (<SubscriptionRecord>subscription).evid = NULL
        self.subscriptions.clear()
        self.pending.clear()              # libca dropped the channel's outstanding reads
        self.abandoned_reads.clear()
        if self.context is not None and self.context.batch_reads:
            for batch in list(self.context.batch_reads):
                (<PendingRead>batch).channel_cleared(self)
        self.connection_callback = None
        self.access_rights_callback = None
        with nogil:
            epicsMutexLock(watch_lock)
            self.hook.watches = NULL       # their owners learn it from their subscriptions
            self.hook.python_callback = False
            epicsMutexUnlock(watch_lock)
        if self.context is not None:
            self.context.channels.discard(self)


cdef class PendingRead:

    cdef void channel_cleared(self, ChannelRecord channel) noexcept:
        pass


cdef class SubscriptionRecord:
    """A subscription: the evid handle and the record its update callbacks arrive with."""

    def __repr__(self):
        return f'<caffi evid of {self.channel.channel_name!r}{"" if self.active else " cleared"}>'


cdef class CompletionRequest:
    """One get or put with callback: libca calls back exactly once (or never, if cleared)."""
    cdef ChannelRecord channel
    cdef object callback
    cdef bint use_numpy


cdef ChannelRecord channel_or_none(object chid):
    return chid if isinstance(chid, ChannelRecord) else None


cdef ChannelRecord acquired(object chid):
    """The channel of `chid` acquired for libca calls (release() it after them), or None when
    `chid` is not a live channel."""
    cdef ChannelRecord channel = channel_or_none(chid)
    if channel is None or channel.acquire() == NULL:
        return None
    return channel


cdef ChannelRecord channel_for_info(object chid):
    if not isinstance(chid, ChannelRecord):
        raise TypeError(f'expected a chid from create_channel(), got {type(chid).__name__}')
    return chid


# ---------------------------------------------------------------------------------------------
# Trampolines: libca -> Python.

# Each trampoline is a GIL-free shell around a `with gil` body. The shell holds no Python
# object, so after leave_python() nothing of it touches the GIL again: Cython gives a nogil
# function with Python locals a GIL-taking cleanup at its exit, which ran even when delivery
# was refused, and in a finalizing interpreter that take kills the thread (pthread_exit through
# libca's C++ frames aborts the process). The body cleans its locals up while it holds the GIL.

cdef void on_connection(cadef.connection_handler_args args) noexcept nogil:
    cdef ChannelHook *hook = <ChannelHook *>cadef.ca_puser(args.chid)
    cdef ConnectionWatch *watch
    if hook == NULL:
        return
    epicsMutexLock(watch_lock)
    watch = hook.watches
    while watch != NULL:
        watch.changed(watch, args.op == cadef.CA_OP_CONN_UP)
        watch = watch.next
    epicsMutexUnlock(watch_lock)
    if hook.python_callback and enter_python():
        deliver_connection(hook, &args)
        leave_python()


cdef void deliver_connection(ChannelHook *hook, cadef.connection_handler_args *args) noexcept with gil:
    channel = <ChannelRecord>hook.record
    if channel.closed:
        return
    if channel.chid == NULL:
        channel.chid = args.chid          # libca may call before ca_create_channel returned
    callback = channel.connection_callback
    if callback is not None:
        call_user(callback, {'chid': channel, 'op': op_member(args.op)})


cdef void on_access_rights(cadef.access_rights_handler_args args) noexcept nogil:
    cdef ChannelHook *hook = <ChannelHook *>cadef.ca_puser(args.chid)
    if hook != NULL and enter_python():
        deliver_access_rights(hook, &args)
        leave_python()


cdef void deliver_access_rights(ChannelHook *hook,
                                cadef.access_rights_handler_args *args) noexcept with gil:
    channel = <ChannelRecord>hook.record
    callback = channel.access_rights_callback
    if channel.closed or callback is None:
        return
    call_user(callback, {'chid': channel,
                         'read_access': bool(args.ar.read_access),
                         'write_access': bool(args.ar.write_access)})


cdef inline dict update_dict(ChannelRecord channel, cadef.event_handler_args *args, bint use_numpy):
    """The §10.3 dict; libca passes no data when the status is not NORMAL."""
    value = None
    if args.status == caerr.ECA_NORMAL and args.dbr != NULL:
        value = format_buffer(args.type, args.count, args.dbr, use_numpy)
    return {'chid': channel, 'type': dbr_member(args.type), 'count': args.count,
            'status': eca_member(args.status), 'value': value}


cdef dict event_dict(ChannelRecord channel, cadef.event_handler_args *args, bint use_numpy):
    # update_dict for other modules; the trampolines keep the inline one
    return update_dict(channel, args, use_numpy)


cdef void on_update(cadef.event_handler_args args) noexcept nogil:
    if enter_python():
        deliver_update(&args)
        leave_python()


cdef void deliver_update(cadef.event_handler_args *args) noexcept with gil:
    subscription = <SubscriptionRecord>args.usr
    if not subscription.active:
        return
    if args.status == caerr.ECA_NORMAL:
        count_update(&subscription.counters, request_size(args.type, args.count))
    if subscription.callback is not None:
        call_user(subscription.callback, update_dict(subscription.channel, args, subscription.use_numpy))


cdef inline CompletionRequest take_completion(void *user):
    """The request of a one-shot callback, unregistered; None if its channel went away."""
    request = <CompletionRequest>user
    channel = request.channel
    if channel.closed or request not in channel.pending:
        return None
    channel.pending.discard(request)
    return request


cdef void on_read(cadef.event_handler_args args) noexcept nogil:
    if enter_python():
        deliver_read(&args)
        leave_python()


cdef void deliver_read(cadef.event_handler_args *args) noexcept with gil:
    request = take_completion(args.usr)
    if request is not None:
        call_user(request.callback, update_dict(request.channel, args, request.use_numpy))


cdef void on_write(cadef.event_handler_args args) noexcept nogil:
    if enter_python():
        deliver_write(&args)
        leave_python()


cdef void deliver_write(cadef.event_handler_args *args) noexcept with gil:
    request = take_completion(args.usr)
    if request is not None:
        call_user(request.callback, {'chid': request.channel, 'type': dbr_member(args.type),
                                     'count': args.count, 'status': eca_member(args.status)})


cdef void on_exception(cadef.exception_handler_args args) noexcept nogil:
    cdef ChannelHook *hook = NULL
    if args.chid != NULL:
        hook = <ChannelHook *>cadef.ca_puser(args.chid)
    if enter_python():
        deliver_exception(hook, &args)
        leave_python()


cdef void deliver_exception(ChannelHook *hook, cadef.exception_handler_args *args) noexcept with gil:
    context = <ContextRecord>args.usr
    callback = context.exception_callback
    if context.destroyed or callback is None:
        return
    call_user(callback, {
        'chid': <ChannelRecord>hook.record if hook != NULL else None,
        'type': dbr_member(args.type),
        'count': args.count,
        'addr': <size_t>args.addr if args.addr != NULL else None,
        'stat': eca_member(args.stat),
        'op': op_member(args.op),
        'ctx': (<bytes>args.ctx).decode('utf-8', 'replace') if args.ctx != NULL else '',
        'file': (<bytes>args.pFile).decode('utf-8', 'replace') if args.pFile != NULL else '',
        'lineNo': args.lineNo,
    })


# ---------------------------------------------------------------------------------------------
# Argument resolution shared by get/put/subscribe (API.md §7).

cdef Native native_of(cadef.chid chid):
    """The channel's native type and count, read in one trip out of the GIL."""
    cdef Native native
    with nogil:
        native.field_type = cadef.ca_field_type(chid)
        native.element_count = cadef.ca_element_count(chid)
    return native


cdef long requested_type(object chtype, Native native) except? -100:
    """An explicit request type, or the channel's native type."""
    return native.field_type if chtype is None else _index(chtype)


cdef unsigned long resolved_count(object count, unsigned long native, bint zero_asks_server) except? 0:
    """§7: None, negative or too large -> native; 0 -> native, or "server's length" for
    callback reads and subscriptions."""
    if count is None:
        return native
    cdef object n = _index(count)
    if n == 0 and zero_asks_server:
        return 0
    if n <= 0 or n > native:
        return native
    return n


cdef struct ReadRequest:
    long dbrtype
    unsigned long count


cdef int resolve_read(cadef.chid c, object chtype, object count, bint zero_asks_server,
                      ReadRequest *read) except -1:
    """The request type and count of a read or subscription (§7) into `read`; ECA_NORMAL, or
    ECA_BADTYPE for a type no read can ask for (a disconnected channel's native type too)."""
    cdef Native native = native_of(c)
    read.dbrtype = requested_type(chtype, native)
    if not readable_type(read.dbrtype):
        return caerr.ECA_BADTYPE
    read.count = resolved_count(count, native.element_count, zero_asks_server)
    return caerr.ECA_NORMAL


cdef int prepare_write(PutPayload payload, cadef.chid c, object value, object chtype,
                       object count) except -1:
    """The C array of a write to the channel (§8) into `payload`; ECA_NORMAL or the ECA code
    the binding answers with itself."""
    cdef Native native = native_of(c)
    return prepare_put(payload, value, requested_type(chtype, native), count, native.element_count)


cdef CompletionRequest new_completion(ChannelRecord channel, object callback, bint use_numpy):
    """A one-shot callback's request, registered with its channel before libca can call back
    (discard it from channel.pending when the libca call fails)."""
    cdef CompletionRequest request = CompletionRequest()
    request.channel = channel
    request.callback = callback
    request.use_numpy = use_numpy
    channel.pending.add(request)
    return request


cdef enum:
    PENDING_READS_BOUND = 1024


cdef void keep_until_read(ChannelRecord channel, DBRBuffer buffer):
    """Keep `buffer` while libca may write into it (§11.7): until a pend_io of the context
    returns NORMAL (the read completed), or else until the channel goes away.

    A program that reads without ever calling pend_io would keep every buffer, so past a bound
    the buffers are dropped as soon as libca reports all reads of the context done (test_io,
    which only answers for the calling thread's context)."""
    cdef ContextRecord context = channel.context
    context.pending_reads.append((channel, buffer))
    cdef Py_ssize_t issued = len(context.pending_reads)
    if issued < PENDING_READS_BOUND:
        return
    cdef cadef.ca_client_context *own
    cdef int status
    with nogil:
        own = cadef.ca_current_context()
        status = cadef.ca_test_io() if own == context.context else caerr.ECA_IOINPROGRESS
    if status == caerr.ECA_IODONE:
        del context.pending_reads[:issued]


cdef inline bint readable_type(long dbrtype):
    return 0 <= dbrtype <= dba.LAST_BUFFER_TYPE


cdef inline object blocked_in_callback():
    """pend_event/pend_io/sg_block would deadlock from inside a callback (§11.3)."""
    return ECA.EVDISALLOW if caffi_callback_depth > 0 else None


# ---------------------------------------------------------------------------------------------
# §6.1 Contexts

def create_context(preemptive_callback=True):
    cdef cadef.ca_preemptive_callback_select select = (
        cadef.ca_enable_preemptive_callback if preemptive_callback else cadef.ca_disable_preemptive_callback)
    cdef int status
    with nogil:
        status = cadef.ca_context_create(select)
    if status == caerr.ECA_NORMAL:
        thread_context(False)
    return eca_member(status)


def destroy_context():
    cdef cadef.ca_client_context *context
    with nogil:
        context = cadef.ca_current_context()
    if context == NULL:
        return None
    record = <ContextRecord>_contexts.pop(<size_t>context, None)
    if record is not None:
        # Make every handle stale first, then let calls already inside libca finish.
        for channel in record.channels:
            (<ChannelRecord>channel).closed = True
        wait_for_channel_users(record)
    with nogil:
        cadef.ca_context_destroy()
    if record is not None:
        record.forget()
    return None


cdef void wait_for_channel_users(ContextRecord record):
    cdef int attempts = 0
    while attempts < 20000 and any((<ChannelRecord>c).users for c in record.channels):
        attempts += 1
        with nogil:
            usleep(100)


def attach_context(context):
    if context is None:
        raise TypeError('attach_context() needs a context from current_context(), not None')
    if not isinstance(context, ContextRecord):
        raise TypeError(f'expected a context from current_context(), got {type(context).__name__}')
    record = <ContextRecord>context
    if record.destroyed:
        return ECA.NOCACTX
    cdef cadef.ca_client_context *pointer = record.context
    cdef int status
    with nogil:
        status = cadef.ca_attach_context(pointer)
    return eca_member(status)


def detach_context():
    with nogil:
        cadef.ca_detach_context()
    return None


def current_context():
    return thread_context(False)


def show_context(context=None, level=0):
    cdef unsigned detail = level            # negative -> OverflowError
    cdef cadef.ca_client_context *pointer
    if context is None:
        thread_context(True)
        with nogil:
            cadef.ca_client_status(detail)
        return None
    if not isinstance(context, ContextRecord):
        raise TypeError(f'expected a context from current_context(), got {type(context).__name__}')
    if (<ContextRecord>context).destroyed:
        return None
    pointer = (<ContextRecord>context).context
    with nogil:
        cadef.ca_context_status(pointer, detail)
    return None


# ---------------------------------------------------------------------------------------------
# §6.2 Channels

def create_channel(name, callback=None, priority=CA_PRIORITY.DEFAULT):
    cdef bytes encoded
    if isinstance(name, str):
        name = str(name)                            # a str subclass counts as str
        encoded = name.encode('utf-8')
    elif isinstance(name, bytes):
        encoded = bytes(name)
        name = encoded.decode('utf-8', 'replace')
    else:
        raise TypeError(f'channel name must be str or bytes, not {type(name).__name__}')
    cdef cadef.capri channel_priority = _index(priority)
    cdef ContextRecord context = thread_context(True)
    cdef ChannelRecord channel = ChannelRecord()
    channel.channel_name = name
    channel.context = context
    channel.connection_callback = callback if callable(callback) else None
    channel.hook.python_callback = channel.hook.handler_installed = callable(callback)
    context.channels.add(channel)

    cdef const char *c_name = encoded
    cdef cadef.caCh *handler = NULL
    if channel.connection_callback is not None:
        handler = on_connection
    cdef cadef.chid chid = NULL
    cdef void *user = <void *>channel.hook
    cdef int status
    with nogil:
        status = cadef.ca_create_channel(c_name, handler, user, channel_priority, &chid)
    if status != caerr.ECA_NORMAL:
        channel.forget()
        return eca_member(status), None
    channel.chid = chid
    return ECA.NORMAL, channel


def clear_channel(chid):
    channel = channel_or_none(chid)
    if channel is None or channel.closed or channel.chid == NULL:
        return ECA.BADCHID
    channel.closed = True
    if channel.users == 0:
        channel.destroy()
    # else: the last call still inside libca with this chid clears it when it returns
    return ECA.NORMAL


cdef enum ChannelHandler:
    CONNECTION_HANDLER, ACCESS_RIGHTS_HANDLER


cdef object replace_channel_handler(object chid, ChannelHandler which, object callback):
    """Install (callable) or remove (anything else) a channel's connection or access rights
    callback. The callable is stored first: libca calls a new access rights handler at once,
    inside the call, when the channel is connected."""
    channel = acquired(chid)
    if channel is None:
        return ECA.BADCHID
    cdef cadef.chid c = channel.chid
    cdef bint installed = callable(callback)
    if which == CONNECTION_HANDLER:
        channel.connection_callback = callback if installed else None
        channel.hook.python_callback = installed
    else:
        channel.access_rights_callback = callback if installed else None
    # the connection trampoline stays while caffi watches the channel (a MonitorGroup member)
    cdef bint trampoline = installed or channel.hook.watches != NULL
    if which == CONNECTION_HANDLER:
        channel.hook.handler_installed = trampoline
    cdef cadef.caCh *connection_handler = on_connection if trampoline else <cadef.caCh *>NULL
    cdef cadef.caArh *access_rights_handler = on_access_rights if installed else <cadef.caArh *>NULL
    cdef int status
    try:
        with nogil:
            if which == CONNECTION_HANDLER:
                status = cadef.ca_change_connection_event(c, connection_handler)
            else:
                status = cadef.ca_replace_access_rights_event(c, access_rights_handler)
    finally:
        channel.release()
    return eca_member(status)


cdef int watch_connection(ChannelRecord channel, ConnectionWatch *watch) except? -1:
    cdef ChannelHook *hook = channel.hook
    cdef cadef.chid c = channel.chid
    cdef int status = caerr.ECA_NORMAL
    with nogil:
        epicsMutexLock(watch_lock)
        watch.next = hook.watches
        hook.watches = watch
        epicsMutexUnlock(watch_lock)
        if not hook.handler_installed:
            # libca then no longer counts this channel's connection in pend_io
            status = cadef.ca_change_connection_event(c, on_connection)
    if status == caerr.ECA_NORMAL:
        hook.handler_installed = True
    else:
        unwatch_connection(channel, watch)
    return status


cdef void unwatch_connection(ChannelRecord channel, ConnectionWatch *watch) noexcept:
    cdef ChannelHook *hook = channel.hook
    cdef ConnectionWatch **link
    with nogil:
        epicsMutexLock(watch_lock)
        link = &hook.watches
        while link[0] != NULL and link[0] != watch:
            link = &link[0].next
        if link[0] == watch:
            link[0] = watch.next
        epicsMutexUnlock(watch_lock)


def change_connection_event(chid, callback=None):
    return replace_channel_handler(chid, CONNECTION_HANDLER, callback)


def replace_access_rights_event(chid, callback=None):
    return replace_channel_handler(chid, ACCESS_RIGHTS_HANDLER, callback)


# ---------------------------------------------------------------------------------------------
# §6.3 Channel information. Cleared channels answer from the record (§12), never from libca.

cdef enum ChannelQuery:
    QUERY_FIELD_TYPE, QUERY_ELEMENT_COUNT, QUERY_STATE, QUERY_READ_ACCESS, QUERY_WRITE_ACCESS


cdef long query_channel(object chid, ChannelQuery query, long when_stale) except? -2:
    """One libca information call on a live channel; `when_stale` for a cleared one (§12)."""
    channel = acquired(channel_for_info(chid))
    if channel is None:
        return when_stale
    cdef cadef.chid c = channel.chid
    cdef long answer
    with nogil:
        if query == QUERY_FIELD_TYPE:
            answer = cadef.ca_field_type(c)
        elif query == QUERY_ELEMENT_COUNT:
            answer = cadef.ca_element_count(c)
        elif query == QUERY_STATE:
            answer = cadef.ca_state(c)
        elif query == QUERY_READ_ACCESS:
            answer = cadef.ca_read_access(c)
        else:
            answer = cadef.ca_write_access(c)
    channel.release()
    return answer


def field_type(chid):
    return dbf_member(query_channel(chid, QUERY_FIELD_TYPE, -1))


def element_count(chid):
    return query_channel(chid, QUERY_ELEMENT_COUNT, 0)


def name(chid):
    return channel_for_info(chid).channel_name


def state(chid):
    if chid is None:
        return ChannelState.NEVER_SEARCH
    return channel_state_member(query_channel(chid, QUERY_STATE, cadef.cs_closed))


def host_name(chid):
    channel = acquired(channel_for_info(chid))
    if channel is None:
        return ''
    cdef cadef.chid c = channel.chid
    cdef char text[256]
    with nogil:
        cadef.ca_get_host_name(c, text, sizeof(text))
    channel.release()
    return (<bytes>text).decode('utf-8', 'replace')


def read_access(chid):
    return bool(query_channel(chid, QUERY_READ_ACCESS, 0))


def write_access(chid):
    return bool(query_channel(chid, QUERY_WRITE_ACCESS, 0))


# ---------------------------------------------------------------------------------------------
# §6.4 get, §6.5 put, §6.6 subscriptions

cdef object _NOT_GIVEN = object()


cdef object alias_of_chtype(object chtype, object ctype):
    if ctype is _NOT_GIVEN:
        return chtype
    if chtype is not None:
        raise TypeError('pass the request type as chtype or as ctype, not both')
    return ctype


def get(chid, chtype=None, count=None, callback=None, use_numpy=False, *, ctype=_NOT_GIVEN):
    chtype = alias_of_chtype(chtype, ctype)
    channel = acquired(chid)
    if channel is None:
        return ECA.BADCHID, None
    cdef cadef.chid c = channel.chid
    cdef bint with_callback = callable(callback)
    cdef ReadRequest read
    cdef int status
    cdef CompletionRequest request
    cdef DBRBuffer buffer
    try:
        status = resolve_read(c, chtype, count, with_callback, &read)
        if status != caerr.ECA_NORMAL:
            return eca_member(status), None
        if with_callback:
            request = new_completion(channel, callback, use_numpy)
            with nogil:
                status = cadef.ca_array_get_callback(read.dbrtype, read.count, c, on_read,
                                                     <void *>request)
            if status != caerr.ECA_NORMAL:
                channel.pending.discard(request)
            return eca_member(status), None
        buffer = DBRBuffer(request_size(read.dbrtype, read.count))
        with nogil:
            status = cadef.ca_array_get(read.dbrtype, read.count, c, buffer.data)
        if status == caerr.ECA_NORMAL:
            keep_until_read(channel, buffer)
        return eca_member(status), DBRValue(dbr_member(read.dbrtype), read.count, buffer, use_numpy)
    finally:
        channel.release()


def put(chid, value, chtype=None, count=None, callback=None):
    channel = acquired(chid)
    if channel is None:
        return ECA.BADCHID
    cdef cadef.chid c = channel.chid
    cdef int status
    cdef PutPayload payload = PutPayload()
    cdef CompletionRequest request
    try:
        status = prepare_write(payload, c, value, chtype, count)
        if status != caerr.ECA_NORMAL:
            return eca_member(status)
        if not callable(callback):
            with nogil:
                status = cadef.ca_array_put(payload.dbrtype, payload.count, c, payload.data)
            return eca_member(status)
        request = new_completion(channel, callback, False)
        with nogil:
            status = cadef.ca_array_put_callback(payload.dbrtype, payload.count, c, payload.data,
                                                 on_write, <void *>request)
        if status != caerr.ECA_NORMAL:
            channel.pending.discard(request)
        return eca_member(status)
    finally:
        channel.release()


def create_subscription(chid, callback, chtype=None, count=None, mask=None, use_numpy=False):
    channel = acquired(chid)
    if channel is None:
        return ECA.BADCHID, None
    cdef long event_mask = DEFAULT_EVENT_MASK if mask is None else _index(mask)
    cdef ReadRequest read
    cdef int status
    cdef SubscriptionRecord subscription
    try:
        status = resolve_read(channel.chid, chtype, count, True, &read)
        if status != caerr.ECA_NORMAL:
            return eca_member(status), None
        subscription = SubscriptionRecord()
        subscription.callback = callback if callable(callback) else None
        subscription.use_numpy = use_numpy
        status = subscribe(subscription, channel, read.dbrtype, read.count, event_mask,
                           on_update, <void *>subscription)
        if status != caerr.ECA_NORMAL:
            return eca_member(status), None
        return ECA.NORMAL, subscription
    finally:
        channel.release()


cdef int subscribe(SubscriptionRecord subscription, ChannelRecord channel, long dbrtype,
                   unsigned long count, long mask, cadef.caEventCallBackFunc *handler,
                   void *user) except? -1:
    # registered first: libca may call back before ca_create_subscription returns
    subscription.channel = channel
    subscription.active = True
    channel.subscriptions.add(subscription)
    cdef cadef.chid c = channel.chid
    cdef int status
    with nogil:
        status = cadef.ca_create_subscription(dbrtype, count, c, mask, handler, user,
                                              &subscription.evid)
    if status != caerr.ECA_NORMAL:
        subscription.active = False
        channel.subscriptions.discard(subscription)
    return status


def clear_subscription(evid):
    if evid is None:
        raise TypeError('clear_subscription() needs an evid from create_subscription(), not None')
    if not isinstance(evid, SubscriptionRecord):
        return ECA.BADCHID
    subscription = <SubscriptionRecord>evid
    channel = subscription.channel
    if not subscription.active or subscription.evid == NULL:
        return ECA.BADCHID
    if acquired(channel) is None:
        return ECA.BADCHID
    cdef cadef.evid e = subscription.evid
    subscription.active = False
    subscription.evid = NULL
    cdef int status
    try:
        with nogil:
            status = cadef.ca_clear_subscription(e)
        channel.subscriptions.discard(subscription)
    finally:
        channel.release()
    return eca_member(status)


# ---------------------------------------------------------------------------------------------
# §6.7 Execution and flushing (the calling thread's context, created implicitly)

def pend_event(timeout):
    cdef double seconds = timeout
    refused = blocked_in_callback()
    if refused is not None:
        return refused
    thread_context(True)
    cdef int status
    with nogil:
        status = cadef.ca_pend_event(seconds)
    return eca_member(status)


def poll():
    return pend_event(1e-12)


def pend_io(timeout):
    cdef double seconds = timeout
    refused = blocked_in_callback()
    if refused is not None:
        return refused
    cdef ContextRecord context = thread_context(True)
    cdef Py_ssize_t issued_before = len(context.pending_reads)
    cdef int status
    with nogil:
        status = cadef.ca_pend_io(seconds)
    if status != caerr.ECA_NORMAL:
        # libca gave up counting these reads but still copies a late reply into the buffer, so
        # each stays with its channel until the channel is cleared or its context destroyed
        for channel, buffer in context.pending_reads[:issued_before]:
            (<ChannelRecord>channel).abandoned_reads.append(buffer)
    del context.pending_reads[:issued_before]
    return eca_member(status)


def pend(timeout, early):
    return pend_io(timeout) if early else pend_event(timeout)


def flush_io():
    thread_context(True)
    cdef int status
    with nogil:
        status = cadef.ca_flush_io()
    return eca_member(status)


def test_io():
    thread_context(True)
    cdef int status
    with nogil:
        status = cadef.ca_test_io()
    return eca_member(status)


# ---------------------------------------------------------------------------------------------
# §6.8 Synchronous groups

def sg_create():
    thread_context(True)
    cdef cadef.CA_SYNC_GID gid
    cdef int status
    with nogil:
        status = cadef.ca_sg_create(&gid)
    if status != caerr.ECA_NORMAL:
        return eca_member(status), None
    return ECA.NORMAL, gid


cdef object finish_group(object gid, int status):
    """libca no longer writes the group's read buffers once this returned (§11.7)."""
    context = thread_context(False)
    if context is not None:
        (<ContextRecord>context).group_reads.pop(gid, None)
    return eca_member(status)


# ca_sg_delete, ca_sg_reset and ca_sg_test: a group's one-argument calls, as cadef.h declares them
ctypedef int (*GroupCall)(const cadef.CA_SYNC_GID) noexcept nogil


cdef int call_group(cadef.CA_SYNC_GID group, GroupCall call) except? -1:
    """One libca call on a synchronous group of the calling thread's context. Callers convert
    the gid with operator.index: floats are refused, as caffi did."""
    thread_context(True)
    cdef int status
    with nogil:
        status = call(group)
    return status


def sg_delete(gid):
    return finish_group(gid, call_group(_index(gid), cadef.ca_sg_delete))


def sg_block(gid, timeout):
    cdef cadef.CA_SYNC_GID group = _index(gid)
    cdef double seconds = timeout
    refused = blocked_in_callback()
    if refused is not None:
        return refused
    thread_context(True)
    cdef int status
    with nogil:
        status = cadef.ca_sg_block(group, seconds)
    return finish_group(gid, status)


def sg_reset(gid):
    return finish_group(gid, call_group(_index(gid), cadef.ca_sg_reset))


def sg_test(gid):
    return eca_member(call_group(_index(gid), cadef.ca_sg_test))


def sg_get(gid, chid, chtype=None, count=None, use_numpy=False, *, ctype=_NOT_GIVEN):
    chtype = alias_of_chtype(chtype, ctype)
    cdef cadef.CA_SYNC_GID group = _index(gid)     # floats are refused, as caffi did
    channel = acquired(chid)
    if channel is None:
        return ECA.BADCHID, None
    cdef cadef.chid c = channel.chid
    cdef ReadRequest read
    cdef int status
    cdef DBRBuffer buffer
    try:
        status = resolve_read(c, chtype, count, False, &read)
        if status != caerr.ECA_NORMAL:
            # a disconnected channel has no native type to read; libca would say DISCONN
            return (ECA.DISCONN if chtype is None and read.dbrtype < 0 else eca_member(status)), None
        buffer = DBRBuffer(request_size(read.dbrtype, read.count))
        context = thread_context(True)
        with nogil:
            status = cadef.ca_sg_array_get(group, read.dbrtype, read.count, c, buffer.data)
        if status != caerr.ECA_NORMAL:
            return eca_member(status), None
        (<ContextRecord>context).group_reads.setdefault(gid, []).append(buffer)
        return ECA.NORMAL, DBRValue(dbr_member(read.dbrtype), read.count, buffer, use_numpy)
    finally:
        channel.release()


def sg_put(gid, chid, value, chtype=None, count=None):
    cdef cadef.CA_SYNC_GID group = _index(gid)     # floats are refused, as caffi did
    channel = acquired(chid)
    if channel is None:
        return ECA.BADCHID
    cdef cadef.chid c = channel.chid
    cdef int status
    cdef PutPayload payload = PutPayload()
    try:
        status = prepare_write(payload, c, value, chtype, count)
        if status != caerr.ECA_NORMAL:
            return eca_member(status)
        thread_context(True)
        with nogil:
            status = cadef.ca_sg_array_put(group, payload.dbrtype, payload.count, c, payload.data)
        return eca_member(status)
    finally:
        channel.release()


# ---------------------------------------------------------------------------------------------
# §6.9 Miscellaneous

def add_exception_event(callback=None):
    cdef ContextRecord context = thread_context(True)
    cdef int status
    if callable(callback):
        context.exception_callback = callback
        with nogil:
            status = cadef.ca_add_exception_event(on_exception, <void *>context)
    else:
        with nogil:
            status = cadef.ca_add_exception_event(NULL, NULL)
        context.exception_callback = None
    return eca_member(status)


def version():
    cdef const char *text
    with nogil:
        text = cadef.ca_version()
    return (<bytes>text).decode('ascii')


def subscription_counters(evid):
    """Counters of a subscription: updates delivered with data, their DBR bytes, the POSIX times
    of the first and last update (None before any) and the update rate over the last second."""
    if not isinstance(evid, SubscriptionRecord):
        raise TypeError(f'expected an evid from create_subscription(), got {type(evid).__name__}')
    return counters_dict(&(<SubscriptionRecord>evid).counters)


def run_repeater():
    """Run libca's CA repeater in the calling thread; it never returns."""
    with nogil:
        cadef.caRepeaterThread(NULL)


# ---------------------------------------------------------------------------------------------
# §14 replace_printf_handler: libca's diagnostic messages (the default exception handler's
# reports, warnings of its auxiliary threads) go to a Python callable as one str per message.

cdef enum:
    PRINTF_BUFFER = 512            # most messages fit; longer ones get a heap buffer


cdef object printf_callback_of(cadef.ca_client_context *context):
    """The printf callable of the context that is printing.

    libca passes a printf handler no user argument, so unlike every other trampoline this one
    has to find its record by address: the handler is stored per context and libca calls it on
    a thread attached to that context (the caller, or an auxiliary thread of the context), so
    the calling thread's context is the one whose handler this is. A thread without a context
    (e.g. one of libca's timer threads) can only have been sent here by a context that has
    this handler installed: when exactly one such context exists, it is that one. None (libca's
    default output) otherwise, e.g. for a context being destroyed, whose record is gone."""
    if context != NULL:
        record = _contexts.get(<size_t>context)
        return (<ContextRecord>record).printf_callback if record is not None else None
    installed = [(<ContextRecord>r).printf_callback for r in _contexts.values()
                 if (<ContextRecord>r).printf_callback is not None]
    return installed[0] if len(installed) == 1 else None


cdef bint deliver_printf(const char *text, Py_ssize_t length) noexcept nogil:
    """Hand one formatted message to the context's callable; False when there is none."""
    cdef cadef.ca_client_context *context = cadef.ca_current_context()
    cdef bint delivered
    if not enter_python():
        return False
    delivered = deliver_printf_text(context, text, length)
    leave_python()
    return delivered


cdef bint deliver_printf_text(cadef.ca_client_context *context, const char *text,
                              Py_ssize_t length) noexcept with gil:
    callback = printf_callback_of(context)
    if callback is None:
        return False
    call_user(callback, text[:length].decode('utf-8', 'replace'))
    return True


cdef int on_printf(const char *pformat, cadef.va_list args) noexcept nogil:
    """libca's caPrintfFunc: format in C, then deliver one str (or print it as libca would)."""
    cdef char small[PRINTF_BUFFER]
    cdef char *text = small
    cdef cadef.va_list pass_args
    cdef int length
    # `args` is never consumed itself: each formatting pass works on a copy
    va_copy(pass_args, args)
    length = vsnprintf(small, sizeof(small), pformat, pass_args)
    va_end(pass_args)
    if length < 0:
        return length
    if <size_t>length >= sizeof(small):
        text = <char *>malloc(<size_t>length + 1)
        if text == NULL:
            text = small                   # deliver the truncated message rather than none
            length = sizeof(small) - 1
        else:
            va_copy(pass_args, args)
            vsnprintf(text, <size_t>length + 1, pformat, pass_args)
            va_end(pass_args)
    if not deliver_printf(text, length):
        # no callable (interpreter exiting, or a context without one): libca's own default
        fwrite(text, 1, length, stderr)
        fflush(stderr)
    if text != small:
        free(text)
    return length


def replace_printf_handler(callback=None):
    """Send the calling thread's context's libca diagnostic messages to `callback` (one formatted
    str per message); a non-callable (None) restores libca's default printing."""
    cdef ContextRecord context = thread_context(True)
    cdef int status
    if callable(callback):
        context.printf_callback = callback          # reachable before libca can print
        with nogil:
            status = cadef.ca_replace_printf_handler(on_printf)
    else:
        with nogil:
            status = cadef.ca_replace_printf_handler(NULL)
        context.printf_callback = None
    return eca_member(status)


# ---------------------------------------------------------------------------------------------
# Interpreter exit: stop delivering, then (when no other Python thread can be using them) shut
# the preemptive contexts down so that no libca thread is left waiting for a GIL that will never
# be given back.

def _shut_down():
    global caffi_shutting_down
    caffi_shutting_down = 1
    # Let deliveries already past enter_python() finish (the GIL is released while waiting);
    # after this no libca thread asks for the GIL again. A callback of this very thread (exit
    # from inside a callback) cannot finish first, hence the comparison with its own depth.
    cdef int waited_ms = 0
    while caffi_atomic_add(0) > caffi_callback_depth and waited_ms < 5000:
        with nogil:
            usleep(1000)
        waited_ms += 1
    # Daemon threads still run while exit handlers do, and one of them may be inside libca with
    # any context: destroying contexts under it would crash. Then deliveries just stop here.
    # (libca's own threads appear in the list once they have run a callback; they are not
    # Python's, and destroying their contexts is what stops them.)
    others = [thread for thread in threading.enumerate()
              if thread is not threading.main_thread() and thread.is_alive()
              and thread.ident not in _libca_thread_idents]
    if others:
        return
    cdef cadef.ca_client_context *pointer
    cdef int status
    own = thread_context(False)
    if own is not None:
        destroy_context()
    for record in list(_contexts.values()):
        context = <ContextRecord>record
        for channel in context.channels:
            (<ChannelRecord>channel).closed = True
        wait_for_channel_users(context)
        pointer = context.context
        with nogil:
            # non-preemptive contexts refuse (NOTTHREADED); they have no threads of their own
            status = cadef.ca_attach_context(pointer)
            if status == caerr.ECA_NORMAL:
                cadef.ca_context_destroy()
        context.forget()
    _contexts.clear()

atexit.register(_shut_down)


# ---------------------------------------------------------------------------------------------
# fork(): libca does not survive it. The child has only the thread that forked: a context's
# threads are gone, and a lock one of them held stays locked, so any libca call on an inherited
# context, channel or subscription could hang. In the child every inherited handle is therefore
# made stale at once, without calling libca: calls on inherited chids and evids answer as for
# cleared ones (§12: BADCHID), attach_context() of an inherited context NOCACTX, the forking
# thread is detached from its context, and buffered monitors refuse to work (they would take
# locks of the parent's libca threads). The child can create a context of its own and use it
# as any process would.

cdef int fork_generation() noexcept nogil:
    return caffi_fork_generation


cdef void abandon_channel(ChannelRecord channel) noexcept:
    """The child's view of an inherited channel: stale, touching neither libca nor a lock."""
    channel.closed = True
    channel.chid = NULL
    channel.users = 0
    for subscription in channel.subscriptions:
        (<SubscriptionRecord>subscription).active = False
        (<SubscriptionRecord>subscription).evid = NULL
    channel.subscriptions.clear()
    channel.pending.clear()
    channel.abandoned_reads.clear()       # the buffers' memory is the child's own copy: freed
    channel.connection_callback = None
    channel.access_rights_callback = None
    channel.hook.watches = NULL
    channel.hook.python_callback = False


def _after_fork_in_child():
    global caffi_fork_generation, caffi_in_flight_count, caffi_callback_depth, watch_lock
    caffi_fork_generation += 1
    caffi_in_flight_count = 0              # deliveries under way belonged to the parent's threads
    caffi_callback_depth = 0
    _libca_thread_idents.clear()
    # a libca thread may have held it at fork(): the child starts with a lock of its own
    watch_lock = epicsMutexOsiCreate(b'caffi/_ca.pyx', 0)
    for record in list(_contexts.values()):
        context = <ContextRecord>record
        for channel in list(context.channels):
            abandon_channel(<ChannelRecord>channel)
        context.channels.clear()
        context.pending_reads.clear()
        context.batch_reads.clear()
        context.group_reads.clear()
        context.destroyed = True
        context.exception_callback = None
        context.printf_callback = None
    _contexts.clear()
    cadef.ca_detach_context()              # only the thread's own pointer: no lock, no libca I/O


os.register_at_fork(after_in_child=_after_fork_in_child)
