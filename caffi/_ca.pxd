# What other extensions of caffi (caffi._monitor, caffi._testing) use of caffi._ca at C speed:
# the handle records, the opening of a call on a channel, subscription registration and the
# trampolines' helpers. Inline helpers of the update path are in _counters.pxd.

cimport cadef
from caffi._counters cimport UpdateCounters
from caffi._dbr cimport PutPayload


# C observers of a channel's connection changes, called on libca's thread without the GIL
# (MonitorGroup members). A watch is embedded first in its owner's struct.
cdef struct ConnectionWatch:
    void (*changed)(ConnectionWatch *watch, bint connected) noexcept nogil
    ConnectionWatch *next


# The part of a channel record libca's connection callback reads without the GIL: libca's user
# pointer of the channel points here.
cdef struct ChannelHook:
    void *record                     # the ChannelRecord, which owns this hook
    ConnectionWatch *watches         # changed under the watch lock of caffi._ca
    bint python_callback             # a connection callback of the user's is installed
    bint handler_installed           # libca calls caffi's connection trampoline


cdef class ContextRecord:
    """A libca client context; also the handle current_context() returns."""
    cdef cadef.ca_client_context *context
    cdef bint destroyed
    cdef set channels
    cdef list pending_reads        # (channel, DBRBuffer) of reads libca may still fill
    cdef set batch_reads           # PendingReads of its channels libca may still answer
    cdef dict group_reads          # gid -> DBRBuffers, until sg_block/sg_reset/sg_delete
    cdef object exception_callback
    cdef object printf_callback    # replace_printf_handler (§14); None: libca's default

    cdef void forget(self)


cdef class ChannelRecord:
    """A channel: the chid handle users hold and the record libca's user pointer leads to."""
    cdef cadef.chid chid
    cdef str channel_name
    cdef ContextRecord context
    cdef object connection_callback
    cdef object access_rights_callback
    cdef set subscriptions
    cdef set pending               # Read/WriteRequests awaiting their one callback
    cdef list abandoned_reads      # DBRBuffers of reads a pend_io gave up on (see pend_io)
    cdef bint closed               # cleared, or clearing: no more calls, no more callbacks
    cdef int users                 # calls into libca with this chid under way right now
    cdef ChannelHook *hook

    cdef cadef.chid acquire(self)
    cdef void release(self)
    cdef void destroy(self)
    cdef void forget(self)


cdef class PendingRead:
    """A read of many channels at once (caffi.aio's list caget) that libca may still answer.
    The context of its channels holds it in `batch_reads` until it is answered; a channel
    cleared meanwhile tells it that libca dropped that channel's read (libca calls back no more
    for a channel once ca_clear_channel has returned)."""
    cdef void channel_cleared(self, ChannelRecord channel) noexcept


cdef class SubscriptionRecord:
    """A subscription: the evid handle and the record its update callbacks arrive with."""
    cdef cadef.evid evid
    cdef ChannelRecord channel
    cdef object callback
    cdef bint use_numpy
    cdef bint active
    cdef UpdateCounters counters     # updated under the GIL by on_update


cdef enum:
    # what a subscription asks for when given no mask (§6.6): create_subscription, Monitor,
    # MonitorGroup
    DEFAULT_EVENT_MASK = cadef.DBE_VALUE | cadef.DBE_ALARM


cdef struct Native:
    short field_type                 # -1 while disconnected
    unsigned long element_count      # 0 while disconnected


# The opening of every call on a chid: the channel, acquired for libca calls (release() it when
# done), or None when `chid` is not a live channel.
cdef ChannelRecord acquired(object chid)
cdef Native native_of(cadef.chid chid)

# The C array of a write of `value` to the channel (caffi.ca.put's conversion) into `payload`;
# ECA_NORMAL or the ECA code the binding answers with itself.
cdef int prepare_write(PutPayload payload, cadef.chid c, object value, object chtype,
                       object count) except -1

# Add a watch of the acquired channel's connection changes (installing caffi's connection
# trampoline if the channel had none); returns libca's status. Remove it before it is freed,
# unless the channel went away first (then its watches are dropped).
cdef int watch_connection(ChannelRecord channel, ConnectionWatch *watch) except? -1
cdef void unwatch_connection(ChannelRecord channel, ConnectionWatch *watch) noexcept

# Registers `subscription` with its channel and subscribes; returns libca's status (on failure
# the subscription is left unregistered and inactive). The channel must be acquired.
cdef int subscribe(SubscriptionRecord subscription, ChannelRecord channel, long dbrtype,
                   unsigned long count, long mask, cadef.caEventCallBackFunc *handler,
                   void *user) except? -1

# A callable of user code run from Python code of caffi's own (a notifier thread): an exception
# is reported through sys.unraisablehook, as every callback's is.
cdef void call_reporting(object callback, object argument) noexcept

# The §10.3 dict of an update, as the trampolines build it (caffi._testing uses it offline).
cdef dict event_dict(ChannelRecord channel, cadef.event_handler_args *args, bint use_numpy)

# Bumped in a child process at every fork(): records made before it belong to the parent.
cdef int fork_generation() noexcept nogil

# libca's caPrintfFunc (§14), for caffi._testing to drive with a real va_list.
cdef int on_printf(const char *pformat, cadef.va_list args) noexcept nogil
