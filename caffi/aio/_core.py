"""caffi.aio's implementation: channels per event loop, caget/caput/connect/cainfo, camonitor.

One preemptive caffi context serves every thread and loop. libca calls back on its own
threads: read replies and write completions (caget, caput with wait=True) land in C memory
(caffi._aio.ReadCompletions), connection changes go into a C queue (caffi._aio.LoopEvents)
and subscriptions into caffi.monitor.MonitorGroup rings, or, those a group cannot carry (CTRL
fields...), into a DBR ring of their own (caffi._aio.UpdateQueue, signalled through
LoopEvents), all filled by libca without Python and waking the loop once per burst through a
descriptor (loop.add_reader), see caffi._aio. libca's threads never run Python for caffi.aio.
"""
import asyncio
import atexit
import collections
import sys
import threading
import time
import traceback
import warnings

import numpy
from epicscorelibs.ca import cadef, dbr  # type: ignore[import-untyped]

import caffi.ca as ca
from caffi import _aio
from caffi._aio import GroupDispatch, Member, value_of
from caffi.constants import ECA, ChannelState
from caffi.dbr import DBF, DBR
from caffi.monitor import MonitorGroup

DEFAULT_TIMEOUT = 5.0

# request type = base type + offset of its class (db_access.h's layout of the DBR codes)
_TIME_OFFSET = DBR.TIME_STRING - DBR.STRING
_CTRL_OFFSET = DBR.CTRL_STRING - DBR.STRING
_BASE_TYPES = frozenset(dbr.BasicDbrTypes)
_CHAR_TEXT_KINDS = {dbr.DBR_CHAR_STR: _aio.KIND_CHAR_STR,
                    dbr.DBR_CHAR_BYTES: _aio.KIND_CHAR_BYTES,
                    dbr.DBR_CHAR_UNICODE: _aio.KIND_CHAR_UNICODE}
_FLOAT_TYPES = (DBR.FLOAT, DBR.DOUBLE)
# numpy dtypes of the base types, from epicscorelibs' DBR layouts
_BASE_DTYPES = {code: numpy.dtype(dbr.DbrCodeToType[code].dtype) for code in _BASE_TYPES}

# camonitor's events when none are given, by format (aioca's defaults)
_DEFAULT_EVENTS = {
    dbr.FORMAT_RAW: cadef.DBE_VALUE,
    dbr.FORMAT_TIME: cadef.DBE_VALUE | cadef.DBE_ALARM,
    dbr.FORMAT_CTRL: cadef.DBE_VALUE | cadef.DBE_ALARM | cadef.DBE_PROPERTY,
}

# a MonitorGroup's ring: as deep as 65536 rows, but not more than this many bytes of values
_RING_ROWS = 65536
_RING_BYTES = 32 << 20
_RING_MIN_ROWS = 4
# A subscription of its own (_QueuedFeed: CTRL fields...) rings whole DBRs: up to this many
# bytes and rows (two stores of them: one filled, one being converted)
_QUEUE_BYTES = 1 << 20
_QUEUE_ROWS = 1024
# how long the rows of a batch gather after the first one before the loop wakes
_GATHER_SECONDS = 0.002

# How many lists of PVs a loop remembers the channels and requests of (known_reads).
_KNOWN_READ_LISTS = 16


class CANothing(Exception):  # noqa: N818  (aioca's name)
    """The result of an operation that has no value: success of caput and connect, or the
    failure of any operation (returned with throw=False, raised otherwise). `ok` is True only
    for ECA_NORMAL; bool(nothing) is `ok`."""

    def __init__(self, name, errorcode=ECA.NORMAL):
        self.name = name
        self.ok = errorcode == ECA.NORMAL
        self.errorcode = int(errorcode)

    def __repr__(self):
        return f'CANothing({self.name!r}, {self.errorcode})'

    def __str__(self):
        return f'{self.name}: {ca.message(self.errorcode)}'

    def __bool__(self):
        return self.ok


def _raise_status(status, function):
    """A libca call refused the request at once: epicscorelibs' CAException, as aioca's
    ctypes wrappers raise it."""
    if status != ECA.NORMAL:
        raise cadef.CAException(int(status), function)


# ----------------------------------------------------------------------------------------
# Timeouts, throw=False, lists


def _seconds_left(timeout):
    """None (never), a relative interval, or (absolute deadline,) -> seconds or None."""
    if isinstance(timeout, tuple):
        return timeout[0] - time.time()
    return timeout


async def _with_timeout(awaitable, name, timeout):
    seconds = _seconds_left(timeout)
    if seconds is None:
        return await awaitable
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except asyncio.TimeoutError as error:
        raise CANothing(name, ECA.TIMEOUT) from error


async def _single(operation, name, timeout, throw, *args):
    """One PV: the operation under its timeout; with throw=False failures become CANothing."""
    awaitable = _with_timeout(operation(name, *args), name, timeout)
    if throw:
        return await awaitable
    try:
        return await awaitable
    except CANothing as nothing:
        return nothing
    except cadef.CAException as error:
        return CANothing(name, error.status)
    except cadef.Disconnected:
        return CANothing(name, ECA.DISCONN)


async def _many(operation, names, timeout, throw, argument_lists):
    """A list of PVs in parallel. throw=True: one timeout for the whole list (a timeout then
    reports 'Multiple PVs'); throw=False: each PV its own timeout and its own CANothing."""
    _Context.cache().open_channels(names)
    if throw:
        gathered = asyncio.gather(*(operation(name, *args)
                                    for name, args in zip(names, argument_lists)))
        try:
            return list(await _with_timeout(gathered, 'Multiple PVs', timeout))
        except BaseException:
            gathered.cancel()
            raise
    return list(await asyncio.gather(*(_single(operation, name, timeout, False, *args)
                                       for name, args in zip(names, argument_lists))))


def _is_pv_list(pvs):
    return isinstance(pvs, (list, tuple))


# ----------------------------------------------------------------------------------------
# The context and the channels of each loop


class _Context:
    """The one preemptive libca context of caffi.aio, attached to every thread that uses it."""
    context = None
    lock = threading.Lock()
    caches: 'dict[asyncio.AbstractEventLoop, _ChannelCache]' = {}

    @classmethod
    def ensure_attached(cls):
        current = ca.current_context()
        with cls.lock:
            if cls.context is None:
                # the thread's own context will do if it is preemptive (create_context(True)
                # is then a no-op); libca's implicit ones are not: their callbacks would wait
                # for a pend_event that no asyncio program calls
                if current is not None and ca.create_context(True) == ECA.NOTTHREADED:
                    warnings.warn('this thread has a non-preemptive CA context: caffi.aio '
                                  'detaches it and makes a preemptive one', stacklevel=3)
                    ca.detach_context()
                    current = None
                if current is None:
                    ca.create_context(True)
                    current = ca.current_context()
                cls.context = current
                atexit.register(_shut_down)
                return
        if current is None:
            ca.attach_context(cls.context)
        elif current != cls.context:
            warnings.warn('this thread has a CA context of its own: caffi.aio detaches it and '
                          'uses the context it made first', stacklevel=3)
            ca.detach_context()
            ca.attach_context(cls.context)

    @classmethod
    def cache(cls):
        loop = asyncio.get_running_loop()
        try:
            return cls.caches[loop]
        except KeyError:
            pass
        cls.ensure_attached()
        for stale in [other for other in cls.caches if other.is_closed()]:
            cls.caches.pop(stale).orphan()
        cache = cls.caches[loop] = _ChannelCache(loop)
        return cache

    # Channels of loops that closed, by name, until a new loop asks for the same PV. Clearing
    # them at once would let libca close the circuit to their server just as the new loop's
    # channels search for it (they then wait for the next search cycle to connect).
    orphans: 'dict[str, Channel]' = {}


def purge_channel_caches():
    """Close every cached channel (and so every subscription) of every loop."""
    for cache in list(_Context.caches.values()):
        cache.purge()
    _Context.caches.clear()
    for channel in list(_Context.orphans.values()):
        channel.purge()
    _Context.orphans.clear()


def _shut_down():
    try:
        purge_channel_caches()
    except Exception:        # at exit, libca may already have been stopped by caffi
        pass


class Channel:
    """A libca channel of one event loop, shared by every operation on its PV there."""

    # bumped whenever a channel connects, disconnects, changes loop or goes: what was looked up
    # through the channels before (_ChannelCache.known_reads) may be stale
    generation = 0

    def __init__(self, name, cache, flush=True):
        self.name = name
        self.loop = cache.loop
        # Per channel only what a list of thousands needs (the cycle collector walks every
        # object made; a connect of 5000 PVs spent half its time there): a flag, and waits'
        # listeners only while someone waits.
        self._connected = False
        self.connect_listeners = None     # while waited for: one-shot calls (_until_connected)
        self.subscriptions = set()
        self.requests = {}        # (datatype, format) -> _Request, while connected
        self.chid = None
        self._watch = None
        self._watched_in = None   # the watching cache's token table
        # no Python connection callback: its changes reach the loop through _aio's C queue
        status, self.chid = ca.create_channel(name)
        _raise_status(status, ca.create_channel)
        self._watch_in(cache)
        if flush:
            ca.flush_io()

    def _watch_in(self, cache):
        """Connection changes from now on reach `cache`'s loop; one made before (the channel
        may have connected already) is read here."""
        self._watch = cache.watch(self)
        if ca.state(self.chid) == ChannelState.CONN:
            self._connection_changed(True)

    def _unwatch(self):
        if self._watch is not None:
            self._watch.close()
            self._watched_in.pop(self._watch.token, None)
            self._watch = None

    def _connection_changed(self, connected):
        if self.chid is None:
            return
        self.requests.clear()     # a reconnected channel may have another type or length
        Channel.generation += 1
        self._connected = connected
        if connected and self.connect_listeners:
            for listener in list(self.connect_listeners):
                listener(self)
        for subscription in list(self.subscriptions):
            subscription._connection_changed(connected)

    def adopt(self, cache):
        """Serve another loop (this one's closed): its connection state carries over."""
        self.loop = cache.loop
        self._connected = False
        self.connect_listeners = None     # waits of the closed loop: nobody awaits them
        self.requests.clear()
        Channel.generation += 1
        self._watch_in(cache)

    def connected(self):
        return self._connected

    def request(self, datatype, format):
        """The channel's _Request for (datatype, format), made once per connection."""
        key = (datatype, format)
        request = self.requests.get(key)
        if request is None:
            request = _Request(self, datatype, format)
            if self.connected():
                self.requests[key] = request
        return request

    async def wait(self):
        if not self._connected:
            await _until_connected(self.loop, (self,), None)

    def count_subscriptions(self):
        return len(self.subscriptions)

    def purge(self):
        for subscription in list(self.subscriptions):
            subscription.close()
        self._unwatch()
        self.requests.clear()
        Channel.generation += 1
        if self.chid is not None:
            ca.clear_channel(self.chid)
            self.chid = None
        self._connected = False


class _ChannelCache:
    def __init__(self, loop):
        self.loop = loop
        self.channels = {}
        self.dispatchers = {}     # (request, width, events) -> _GroupFeed
        self.flush_pending = False
        self._reads = None        # _aio.ReadCompletions of the list cagets, once there is one
        self._events = None       # _aio.LoopEvents of the channels and queues, once needed
        self._watched = {}        # watch token -> Channel, while it watches
        self._queues = {}         # token -> _QueuedFeed, while subscribed
        self._known_reads = {}    # (names, key) -> (Channel.generation, (chids, requests))

    def known_reads(self, names, key):
        """(chids, requests) to read a list of PVs through channels that are connected and
        have their request for `key` (a datatype and format) made, or None. A DAQ loop reads
        the same list again and again: its last few lists are remembered until a channel of
        the loop connects, disconnects or goes."""
        memo_key = (tuple(names), key)
        known = self._known_reads.get(memo_key)
        if known is not None and known[0] == Channel.generation:
            return known[1]
        reads = _aio.cached_reads(self.channels, names, key)
        if reads is not None:
            if len(self._known_reads) >= _KNOWN_READ_LISTS:
                del self._known_reads[next(iter(self._known_reads))]
            self._known_reads[memo_key] = (Channel.generation, reads)
        return reads

    def reads(self):
        """The loop's wake-up for list reads (one descriptor, read by the loop)."""
        if self._reads is None:
            self._reads = _aio.ReadCompletions()
            self.loop.add_reader(self._reads.fileno(), self._reads.take)
        return self._reads

    def events(self):
        """The loop's events from libca's threads (one descriptor, read by the loop)."""
        if self._events is None:
            self._events = _aio.LoopEvents()
            self.loop.add_reader(self._events.fileno(), self._take_events)
        return self._events

    def watch(self, channel):
        """The loop's watch of a channel's connection changes."""
        watch = self.events().watch(channel.chid)
        self._watched[watch.token] = channel
        channel._watched_in = self._watched
        return watch

    def queue_updates(self, feed, *args):
        """An _aio.UpdateQueue(self.events(), *args) whose updates `feed` takes."""
        queue = _aio.UpdateQueue(self.events(), *args)
        self._queues[queue.token] = feed
        return queue

    def forget_queue(self, queue):
        self._queues.pop(queue.token, None)

    def _take_events(self):
        events = self._events.take()
        if events is None:           # some were lost (no memory): read every state again
            for channel in list(self._watched.values()):
                if channel.chid is not None:
                    channel._connection_changed(ca.state(channel.chid) == ChannelState.CONN)
            for feed in list(self._queues.values()):
                feed.take()
            return
        for token, event in events:
            if event == _aio.UPDATES_EVENT:
                feed = self._queues.get(token)
                if feed is not None:
                    feed.take()
            else:
                channel = self._watched.get(token)
                if channel is not None:
                    channel._connection_changed(event == _aio.CONNECTED_EVENT)

    def get_channel(self, name, flush=True):
        channel = self.channels.get(name)
        if channel is None:
            channel = _Context.orphans.pop(name, None)
            if channel is not None:
                channel.adopt(self)
            else:
                channel = Channel(name, self, flush)
            self.channels[name] = channel
        return channel

    def open_channels(self, names):
        """The channels of a list of PVs, the new ones created with one flush: their searches
        leave together (a flush per channel costs a system call each)."""
        channels = self.channels
        found = [channels.get(name) for name in names]
        if None in found:
            found = [self.get_channel(name, flush=False) for name in names]
            ca.flush_io()
        return found

    def flush_soon(self):
        """One flush_io at the next turn of the loop for the requests queued until then (the
        subscriptions of a camonitor of many PVs)."""
        if not self.flush_pending:
            self.flush_pending = True
            self.loop.call_soon(self._flush)

    def _flush(self):
        self.flush_pending = False
        ca.flush_io()

    def feed(self, request, width, events):
        key = (request, width, events)
        feed = self.dispatchers.get(key)
        if feed is None or feed.closed:
            feed = self.dispatchers[key] = _GroupFeed(self, request, width, events)
        return feed

    def purge(self):
        self.orphan()
        for channel in list(_Context.orphans.values()):
            if channel.loop is self.loop:
                _Context.orphans.pop(channel.name).purge()

    def orphan(self):
        """The loop closed (or is purged): end its subscriptions and hand its channels over to
        whichever loop asks for them next."""
        for channel in list(self.channels.values()):
            for subscription in list(channel.subscriptions):
                subscription.close()
            channel._unwatch()       # the loop that adopts it watches it anew
            old = _Context.orphans.get(channel.name)
            if old is not None and old is not channel:
                old.purge()
            _Context.orphans[channel.name] = channel
        self.channels.clear()
        self._known_reads.clear()
        for feed in list(self.dispatchers.values()):
            feed.close()
        self.dispatchers.clear()
        # the list reads' descriptor stays: a purge leaves the loop running, and reads in flight
        # end through it (a channel cleared answers its read at once)


def _get_channel(name):
    return _Context.cache().get_channel(name)


class ChannelInfo:
    """A channel of the running loop: `name`, `connected`, `subscriber_count`."""

    def __init__(self, name, connected, subscriber_count):
        self.name = name
        self.connected = connected
        self.subscriber_count = subscriber_count


def get_channel_infos():
    """Information about every channel of the running loop."""
    return [ChannelInfo(channel.name, channel.connected(), channel.count_subscriptions())
            for channel in _Context.cache().channels.values()]


# ----------------------------------------------------------------------------------------
# Request types and the values they give


class _Request(_aio.Request):
    """What a (datatype, format) request of one channel asks libca for and how its data
    become a value (the fields are C fields of _aio.Request; a channel keeps its requests
    until it reconnects, see Channel.request)."""

    __slots__ = ()

    def __init__(self, channel, datatype, format):
        native = int(ca.field_type(channel.chid))
        self.element_count = ca.element_count(channel.chid)
        if datatype is None:
            datatype = native
            if datatype == DBF.CHAR and channel.name.endswith('$'):
                datatype = dbr.DBR_CHAR_STR        # long strings: CHAR arrays named ...$
        elif datatype == dbr.DBR_ENUM_STR:
            datatype = DBR.STRING if native == DBF.ENUM else native
        text_kind = None
        as_bytes = False          # datatype=bytes: strings kept as bytes
        if datatype in (dbr.DBR_STSACK_STRING, dbr.DBR_CLASS_NAME):
            self.dbrtype = self.base = int(datatype)
            format = dbr.FORMAT_RAW if datatype == dbr.DBR_CLASS_NAME else format
            self.kind = _aio.KIND_STR if self.element_count == 1 else _aio.KIND_STR_ARRAY
            self.dtype = _BASE_DTYPES[DBR.STRING]
            self.datatype = self.base
            self.format = format
            self.time_fields = False
            self.ctrl_fields = False
            return
        if datatype in _CHAR_TEXT_KINDS:
            text_kind = _CHAR_TEXT_KINDS[datatype]
            base = DBR.CHAR
        elif datatype in _BASE_TYPES:
            base = int(datatype)
        else:
            try:
                dtype = numpy.dtype(datatype)
                base = dbr.NumpyCharCodeToDbr[dtype.char]
            except Exception as error:
                raise dbr.InvalidDatatype(
                    f'Datatype "{datatype}" not supported for channel access') from error
            as_bytes = dtype.char == 'S'
        self.base = base
        self.datatype = base
        self.dtype = _BASE_DTYPES[base]
        if format == dbr.FORMAT_RAW:
            self.dbrtype = base
        elif format == dbr.FORMAT_TIME:
            self.dbrtype = base + _TIME_OFFSET
        elif format == dbr.FORMAT_CTRL:
            # strings have no CTRL fields: the richest they have is TIME
            self.dbrtype = base + (_TIME_OFFSET if base == DBR.STRING else _CTRL_OFFSET)
        else:
            raise dbr.InvalidDatatype('Format not recognised')
        self.format = format
        self.time_fields = self.dbrtype >= DBR.TIME_STRING and self.dbrtype <= DBR.TIME_DOUBLE
        self.ctrl_fields = self.dbrtype >= DBR.CTRL_STRING and self.dbrtype <= DBR.CTRL_DOUBLE
        scalar = self.element_count == 1
        if text_kind is not None:
            self.kind = text_kind
        elif base == DBR.STRING:
            if as_bytes:
                self.kind = _aio.KIND_BYTES if scalar else _aio.KIND_BYTES_ARRAY
            else:
                self.kind = _aio.KIND_STR if scalar else _aio.KIND_STR_ARRAY
        elif not scalar:
            self.kind = _aio.KIND_ARRAY
        else:
            self.kind = _aio.KIND_FLOAT if base in _FLOAT_TYPES else _aio.KIND_INT

    def value(self, name, data):
        """The augmented value of caffi's §9 result `data` (get or subscription callback)."""
        fields = data if isinstance(data, dict) else None
        raw = fields['value'] if fields is not None else data
        value = value_of(self.kind, raw, self.dtype)
        value.name = name
        value.ok = True
        value.datatype = self.datatype
        value.element_count = self.element_count
        if fields is None:
            return value
        value.status = int(fields['status'])
        value.severity = int(fields['severity'])
        stamp = fields.get('stamp')
        if stamp is not None:
            value.raw_stamp = (stamp['seconds'], stamp['nanoseconds'])
            value.timestamp = round(stamp['seconds'] + stamp['nanoseconds'] * 1e-9, 6)
        if 'strs' in fields:
            value.enums = list(fields['strs'])
        elif 'units' in fields:
            value.units = fields['units'] if isinstance(fields['units'], str) \
                else fields['units'].decode('utf-8', 'replace')
            for limit in ('upper_disp_limit', 'lower_disp_limit', 'upper_alarm_limit',
                          'lower_alarm_limit', 'upper_warning_limit', 'lower_warning_limit',
                          'upper_ctrl_limit', 'lower_ctrl_limit', 'precision'):
                if limit in fields:
                    setattr(value, limit, fields[limit])
        if 'ackt' in fields:
            value.ackt = int(fields['ackt'])
            value.acks = int(fields['acks'])
        return value


# ----------------------------------------------------------------------------------------
# caget


async def _caget_one(name, datatype, format, count):
    """One read, as a batch of one: libca's reply lands in C memory and wakes the loop through
    the descriptor of the list reads (libca's thread runs no Python and never waits for the
    GIL); its request leaves with the one flush of this turn of the loop."""
    channel = _get_channel(name)
    await channel.wait()
    cache = _Context.cache()
    batch = _aio.read_batch(cache.reads(), [name], [channel.chid],
                            [channel.request(datatype, format)], count, False)
    return await _one_value(batch, cache, ca.get)


async def caget(pvs, datatype=None, format=dbr.FORMAT_RAW, count=0, timeout=DEFAULT_TIMEOUT,
                throw=True):
    """Read one PV (a value) or a list of PVs (a list of values, read in one batch: every read
    issued in one call, the replies collected in C, one wake-up of the loop).

    datatype: None (native), a DBR_ code (including DBR_CHAR_STR, DBR_CHAR_UNICODE,
    DBR_CHAR_BYTES, DBR_ENUM_STR) or a Python/numpy type; format: FORMAT_RAW, FORMAT_TIME or
    FORMAT_CTRL; count: 0 the server's current length, -1 the full length, n at most n
    elements; timeout: seconds, None or (deadline,), one for a whole list; throw=False returns
    CANothing in place of a failure."""
    if _is_pv_list(pvs):
        return await _caget_many(list(pvs), datatype, format, count, timeout, throw)
    return await _single(_caget_one, pvs, timeout, throw, datatype, format, count)


async def _caget_many(names, datatype, format, count, timeout, throw):
    """A list caget. The reads of the connected channels leave in one call and come back with
    one wake-up (_read_batch): no task, future or callback per PV."""
    if not names:
        return []
    cache = _Context.cache()
    seconds = _seconds_left(timeout)
    reads = cache.known_reads(names, (datatype, format))
    if reads is not None:         # every channel known, connected, its request made
        batch = _aio.read_batch(cache.reads(), names, reads[0], reads[1], count)
        return await _batch_values(batch, cache, seconds, throw)
    channels = cache.open_channels(names)
    late = [i for i, channel in enumerate(channels) if not channel.connected()]
    if not late:
        return await _read_batch(cache, names, channels, datatype, format, count, seconds,
                                 throw)
    if throw:
        # one timeout for the whole list: connecting takes its share of it (a list connect
        # raises 'Multiple PVs' at the timeout, as the caget must)
        started = time.monotonic()
        await connect([names[i] for i in late], timeout=seconds)
        if seconds is not None:
            seconds -= time.monotonic() - started
        return await _read_batch(cache, names, channels, datatype, format, count, seconds,
                                 True)
    # throw=False, each PV under its own timeout: the connected ones are read at once, each
    # late one on its own once it connects (or is a CANothing)
    waiting = set(late)
    ready = [i for i in range(len(names)) if i not in waiting]
    results = await asyncio.gather(
        _read_batch(cache, [names[i] for i in ready], [channels[i] for i in ready], datatype,
                    format, count, seconds, False),
        *(_single(_caget_one, names[i], timeout, False, datatype, format, count)
          for i in late))
    values = [None] * len(names)
    for i, value in zip(ready, results[0]):
        values[i] = value
    for i, value in zip(late, results[1:]):
        values[i] = value
    return values


async def _read_batch(cache, names, channels, datatype, format, count, seconds, throw):
    """Read connected channels in one batch (a channel that disconnected since is answered
    with ECA_DISCONN)."""
    if not names:
        return []
    batch = _aio.read_batch(cache.reads(), names, [channel.chid for channel in channels],
                            [channel.request(datatype, format) for channel in channels], count)
    return await _batch_values(batch, cache, seconds, throw)


class _BatchExpired(Exception):
    """A timer set on a future expired first: a batch read's before every read was answered,
    or a list's connection wait (_until_connected) before every channel connected."""


def _expire(future):
    if not future.done():
        future.set_exception(_BatchExpired())


async def _batch_values(batch, cache, seconds, throw, issued_by=ca.get):
    """The values of a batch read once it is answered. throw=False: a CANothing for each
    failure (ECA_TIMEOUT for a read not answered within `seconds`); else the first raises,
    and a request libca refused at once raises CAException (naming `issued_by`) at once, as
    aioca's call raises it."""
    if throw:
        refused = batch.refused()
        if refused is not None:
            _raise_status(refused, issued_by)
    loop = cache.loop
    batch.future = future = loop.create_future()
    # the timeout as one timer on the future itself (asyncio.wait_for wraps it in more futures)
    expiry = None if seconds is None else loop.call_later(seconds, _expire, future)
    try:
        await future
    except _BatchExpired:
        if throw:
            raise CANothing('Multiple PVs', ECA.TIMEOUT) from None
    finally:
        if expiry is not None:
            expiry.cancel()
    values = batch.values(CANothing)
    if throw and batch.failures:
        raise next(value for value in values if isinstance(value, CANothing))
    return values


async def _one_value(batch, cache, issued_by):
    """The value of a batch of one PV's request, issued without a flush: it leaves with this
    loop turn's one flush; a failure raises (the caller's timeout bounds the wait)."""
    cache.flush_soon()
    values = await _batch_values(batch, cache, None, True, issued_by)
    return values[0]


# ----------------------------------------------------------------------------------------
# caput


def _put_payload(channel, datatype, value):
    """(request type, data) to write `value`, converted as aioca converts (numpy casting)."""
    if datatype is None:
        if isinstance(value, (str, bytes)):
            datatype = DBR.STRING        # the server converts text to the field's type
        else:
            datatype = int(ca.field_type(channel.chid))
            if datatype == DBF.CHAR and channel.name.endswith('$'):
                datatype = dbr.DBR_CHAR_STR
    if datatype in (dbr.DBR_CHAR_STR, dbr.DBR_CHAR_UNICODE, dbr.DBR_CHAR_BYTES):
        text = value.encode('utf-8') if isinstance(value, str) else bytes(value)
        return DBR.CHAR, numpy.frombuffer(text, numpy.uint8)
    if datatype in (dbr.DBR_PUT_ACKT, dbr.DBR_PUT_ACKS):
        return int(datatype), int(value)
    if datatype not in _BASE_TYPES:
        try:
            datatype = dbr.NumpyCharCodeToDbr[numpy.dtype(datatype).char]
        except Exception as error:
            raise dbr.InvalidDatatype(
                f'Datatype "{datatype}" not supported for channel access') from error
    datatype = int(datatype)
    if datatype == DBR.STRING:
        try:
            data = numpy.require(value, dtype=_BASE_DTYPES[DBR.STRING], requirements='C')
        except UnicodeEncodeError:
            data = numpy.array([text.encode('utf-8') for text in numpy.atleast_1d(value)],
                               dtype=_BASE_DTYPES[DBR.STRING])
        return datatype, [bytes(item) for item in numpy.atleast_1d(data)]
    data = numpy.require(value, dtype=_BASE_DTYPES[datatype], requirements='C')
    if data.ndim == 0:
        data = data.reshape(1)
    if data.ndim != 1:
        raise ValueError("Can't put multidimensional arrays!")
    return datatype, data


async def _caput_one(name, value, datatype, wait):
    channel = _get_channel(name)
    await channel.wait()
    request_type, data = _put_payload(channel, datatype, value)
    if not wait:
        _raise_status(ca.put(channel.chid, data, request_type), ca.put)
        ca.flush_io()
        return CANothing(name)
    # its completion lands in C memory and wakes the loop as a read's reply does (libca's
    # thread runs no Python for it); the writes of a list leave in one flush
    cache = _Context.cache()
    batch = _aio.write_batch(cache.reads(), name, channel.chid, data, request_type)
    return await _one_value(batch, cache, ca.put)


async def caput(pvs, values, repeat_value=False, datatype=None, wait=False,
                timeout=DEFAULT_TIMEOUT, throw=True):
    """Write one PV, or a list of PVs in parallel (values[i] to pvs[i]; one value to all with
    repeat_value=True or when it is a str or not iterable). wait=True waits for the server to
    finish processing. Returns CANothing (ok) per PV."""
    if not _is_pv_list(pvs):
        return await _single(_caput_one, pvs, timeout, throw, values, datatype, wait)
    if repeat_value or isinstance(values, str):
        values = [values] * len(pvs)
    else:
        try:
            values = list(values)
        except TypeError:
            values = [values] * len(pvs)
    if len(values) != len(pvs):
        raise ValueError('PV and value lists must match in length')
    return await _many(_caput_one, pvs, timeout, throw,
                       [(value, datatype, wait) for value in values])


# ----------------------------------------------------------------------------------------
# connect, cainfo


class CAInfo:
    """Connection facts of a channel, as cainfo() returns them."""

    state_strings = ['never connected', 'previously connected', 'connected', 'closed']
    datatype_strings = ['string', 'short', 'float', 'enum', 'char', 'long', 'double',
                        'no access']

    def __init__(self, pv, channel):
        chid = channel.chid
        self.ok = True
        self.name = pv
        self.state = int(ca.state(chid))
        self.host = ca.host_name(chid)
        self.read = bool(ca.read_access(chid))
        self.write = bool(ca.write_access(chid))
        if self.state == ChannelState.CONN:
            self.count = ca.element_count(chid)
            self.datatype = int(ca.field_type(chid))
        else:
            self.count = 0
            self.datatype = len(self.datatype_strings) - 1     # DBF_NO_ACCESS

    def __str__(self):
        return (f'{self.name}:\n'
                f'    State: {self.state_strings[self.state]}\n'
                f'    Host: {self.host}\n'
                f'    Access: {self.read}, {self.write}\n'
                f'    Data type: {self.datatype_strings[self.datatype]}\n'
                f'    Count: {self.count}')


async def _until_connected(loop, channels, seconds):
    """Wait until every channel of a list has connected, at most `seconds` (None: for ever).
    Returns the channels that did not connect in time (empty: all did). One future and one
    timer for the whole list, where a task per PV (asyncio.gather) costs ~10 us of CPU each."""
    late = {channel for channel in channels if not channel.connected()}
    if not late:
        return late
    waited = list(late)
    future = loop.create_future()

    def connected(channel):
        late.discard(channel)
        if not late and not future.done():
            future.set_result(None)

    for channel in waited:
        if channel.connect_listeners is None:
            channel.connect_listeners = set()
        channel.connect_listeners.add(connected)
    expiry = None if seconds is None else loop.call_later(seconds, _expire, future)
    try:
        await future
    except _BatchExpired:
        pass
    finally:
        if expiry is not None:
            expiry.cancel()
        for channel in waited:
            if channel.connect_listeners is not None:
                channel.connect_listeners.discard(connected)
    return late


async def _when_connected(names, wait, timeout, throw, result):
    """connect / cainfo of a list: result(name, channel) for each PV once all are connected.
    throw=True: one timeout for the list ('Multiple PVs'); throw=False: the PVs that did not
    connect in time are CANothing(name, ECA_TIMEOUT) (each had the same timeout, from the same
    start, as if waited for one by one)."""
    cache = _Context.cache()
    channels = cache.open_channels(names)
    late = set()
    if wait:
        late = await _until_connected(cache.loop, channels, _seconds_left(timeout))
        if late and throw:
            raise CANothing('Multiple PVs', ECA.TIMEOUT)
    return [CANothing(name, ECA.TIMEOUT) if channel in late else result(name, channel)
            for name, channel in zip(names, channels)]


async def _connect_one(name, wait):
    channel = _get_channel(name)
    if wait:
        await channel.wait()
    return CANothing(name)


async def _cainfo_one(name, wait):
    channel = _get_channel(name)
    if wait:
        await channel.wait()
    return CAInfo(name, channel)


async def connect(pvs, wait=True, timeout=DEFAULT_TIMEOUT, throw=True):
    """Connect one PV or a list of PVs (wait=False: start connecting, do not wait)."""
    if _is_pv_list(pvs):
        return await _when_connected(list(pvs), wait, timeout, throw,
                                     lambda name, channel: CANothing(name))
    return await _single(_connect_one, pvs, timeout, throw, wait)


async def cainfo(pvs, wait=True, timeout=DEFAULT_TIMEOUT, throw=True):
    """CAInfo of one PV or of a list of PVs."""
    if _is_pv_list(pvs):
        return await _when_connected(list(pvs), wait, timeout, throw, CAInfo)
    return await _single(_cainfo_one, pvs, timeout, throw, wait)


# ----------------------------------------------------------------------------------------
# camonitor


class _GroupFeed:
    """One MonitorGroup of a loop (one request type, width and event mask) and its reader."""

    def __init__(self, cache, request, width, events):
        self.cache = cache
        self.loop = cache.loop
        depth = max(_RING_MIN_ROWS, min(_RING_ROWS, _RING_BYTES // (
            width * _BASE_DTYPES[request % _TIME_OFFSET].itemsize)))
        # The rest of a server's burst (an IOC scan of many records) follows the first row
        # within a millisecond or so: the group's descriptor is readable once the batch has
        # gathered (a timerfd the first row arms), so one wake-up and one drain serve it.
        # Subscriptions come and go for the program's life: a closed one's index is taken
        # again once its rows are behind a later drain (each drain's batch is dispatched
        # whole before the next), so the group's tables stay as large as the most members
        # it had at once.
        self.group = MonitorGroup([], request, count=width, depth=depth, mask=events,
                                  gather=_GATHER_SECONDS, reuse_indices=True)
        # rows so large that the ring holds only a few: values view them rather than copy
        self.dispatch = GroupDispatch(self.group, view_rows=depth <= _RING_MIN_ROWS)
        self.fd = self.group.fileno()
        self.loop.add_reader(self.fd, self._on_readable)
        self.closed = False

    def _on_readable(self):
        self.dispatch.on_readable()
        if self.group.closed and not self.closed:
            # closed under us (its context went): the descriptor stays readable, stop reading
            self.closed = True
            self.loop.remove_reader(self.fd)

    def add(self, member, channel, count):
        index = self.group.add(channel.chid, count)
        self.dispatch.set_member(index, member)
        self.cache.flush_soon()
        return index

    def remove(self, index):
        self.dispatch.set_member(index, None)
        if not self.group.closed:
            self.group.remove(index)
        if self.group.size == 0:
            self.close()

    def close(self):
        if self.closed:
            return
        self.closed = True
        if not self.loop.is_closed():
            self.loop.remove_reader(self.fd)
        self.group.close()


class _QueuedFeed:
    """A subscription MonitorGroup cannot carry (CTRL fields, STSACK_STRING, CLASS_NAME):
    libca's thread copies its updates' DBRs into a C ring (_aio.UpdateQueue) and signals the
    loop through its LoopEvents; the loop converts them a burst at a time."""

    def __init__(self, subscription, channel, request, count, events):
        self.subscription = subscription
        self.request = request
        self.cache = _Context.cache()
        width = count if count > 0 else max(request.element_count, 1)
        self.queue = self.cache.queue_updates(self, request.dbrtype, width, _QUEUE_BYTES,
                                              _RING_MIN_ROWS, _QUEUE_ROWS)
        status = self.queue.subscribe(channel.chid, count, events)
        if status != ECA.NORMAL:
            self.cache.forget_queue(self.queue)
        _raise_status(status, ca.create_subscription)
        self.cache.flush_soon()

    def take(self):
        if self.queue is None:
            return
        updates, lost = self.queue.take()
        member = self.subscription._member
        member.dropped += lost
        if not member.all_updates and len(updates) > 1:
            member.dropped += len(updates) - 1
            updates = updates[-1:]
        name = self.subscription.name
        for data in updates:
            if member.closed:
                return
            member.deliver(self.request.value(name, data))

    def close(self):
        if self.queue is not None:
            ca.clear_subscription(self.queue)
            self.cache.forget_queue(self.queue)
            self.queue = None


class Subscription:
    """A camonitor subscription of one PV; close() ends it. `dropped_callbacks` counts the
    updates merged into a later one (all_updates=False)."""

    OPENING = 0
    OPEN = 1
    CLOSED = 2

    def __init__(self, name, callback, events=None, datatype=None, format=dbr.FORMAT_RAW,
                 count=0, all_updates=False, notify_disconnect=False, connect_timeout=None,
                 _index=None):
        self.name = name
        self.callback = callback
        self.all_updates = all_updates
        self.notify_disconnect = notify_disconnect
        self.state = self.OPENING
        self.loop = asyncio.get_running_loop()
        self.channel = _get_channel(name)
        self._member = Member(self, name, callback, _index, 0, None, all_updates,
                              notify_disconnect, False, 0, 0)
        self._pending = None      # a coroutine callback's queue of values, made with its task
        self._wakeup = None
        self._worker = None
        self._feed = None
        self._member_index = None
        if events is None:
            events = _DEFAULT_EVENTS[format]
        if self.channel.connected():
            # the common case after a connect(): subscribe now, without a task (a camonitor
            # of thousands of PVs made a task each, and fed the cycle collector with them)
            self._task = None
            self._open_connected(events, datatype, format, count)
        else:
            self._task = asyncio.ensure_future(
                self._open(events, datatype, format, count, connect_timeout))

    @property
    def dropped_callbacks(self):
        return self._member.dropped

    async def _open(self, events, datatype, format, count, connect_timeout):
        channel = self.channel
        try:
            try:
                await _with_timeout(channel.wait(), self.name, connect_timeout)
            except CANothing as nothing:
                # not connected in time: the callback hears it (notify_disconnect or not),
                # then the subscription waits for the connection as long as it takes
                self._member.deliver(nothing)
                await channel.wait()
            if self.state == self.CLOSED:
                return
        except asyncio.CancelledError:
            raise
        except Exception:
            self._not_made()
            return
        self._open_connected(events, datatype, format, count)

    def _open_connected(self, events, datatype, format, count):
        try:
            self._subscribe(self.channel, events, datatype, format, count)
        except Exception:
            self._not_made()

    def _not_made(self):
        print(f'Subscription {self.name} could not be made', file=sys.stderr)
        traceback.print_exc()
        self.close()

    def _subscribe(self, channel, events, datatype, format, count):
        request = channel.request(datatype, format)
        member = self._member
        member.kind = request.kind
        member.dtype = request.dtype
        member.time_fields = request.time_fields
        member.datatype = request.datatype
        member.element_count = request.element_count
        native = request.element_count
        channel.subscriptions.add(self)
        self.state = self.OPEN
        if DBR.STRING <= request.dbrtype <= DBR.DOUBLE or request.time_fields:
            width = native if count <= 0 else min(count, native)
            # count 0: the server sends its current length, up to the width
            member_count = None if count == 0 else width
            feed = _Context.cache().feed(request.dbrtype, max(width, 1), events)
            self._member_index = feed.add(member, channel, member_count)
            self._feed = feed
        else:
            self._feed = _QueuedFeed(self, channel, request, request.count_to_read(count),
                                     events)

    def _connection_changed(self, connected):
        # a queued feed has no connection rows: tell it from the channel's own events
        if isinstance(self._feed, _QueuedFeed) and not connected and self.notify_disconnect:
            self._member.deliver(self._disconnected_value())

    def _disconnected_value(self):
        return CANothing(self.name, ECA.DISCONN)

    # coroutine callbacks: one task per subscription runs them one after the other

    def _enqueue(self, value):
        if self._pending.maxlen is not None and self._pending:
            self._member.dropped += 1
        self._pending.append(value)
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _start_worker(self, first_awaitable):
        if self._pending is None:
            # made only now: a camonitor of thousands of PVs with a plain callback (the usual
            # case) makes no deque per subscription for the cycle collector to walk
            self._pending = collections.deque(maxlen=None if self.all_updates else 1)
        if self._worker is None or self._worker.done():
            self._worker = self.loop.create_task(self._work(first_awaitable))
        else:      # a plain function returned an awaitable: run it beside the worker
            self.loop.create_task(self._run_callback(first_awaitable))

    async def _run_callback(self, awaitable):
        try:
            await awaitable
        except asyncio.CancelledError:
            raise
        except Exception:
            _aio.report_callback_error(self.name)

    async def _work(self, first_awaitable):
        await self._run_callback(first_awaitable)
        member = self._member
        while not member.closed:
            if not self._pending:
                self._wakeup = self.loop.create_future()
                await self._wakeup
                self._wakeup = None
                continue
            value = self._pending.popleft()
            try:
                if member.callback_index is None:
                    returned = self.callback(value)
                else:
                    returned = self.callback(value, member.callback_index)
            except Exception:
                _aio.report_callback_error(self.name)
                continue
            if returned is not None and hasattr(returned, '__await__'):
                await self._run_callback(returned)

    def close(self):
        """End the subscription: no callback runs after this, not even for updates already
        received. Idempotent; allowed inside the callback."""
        if self.state == self.CLOSED:
            return
        self.state = self.CLOSED
        self._member.closed = True
        self.channel.subscriptions.discard(self)
        feed, self._feed = self._feed, None
        if isinstance(feed, _GroupFeed):
            feed.remove(self._member_index)
        elif feed is not None:
            feed.close()
        if not self.loop.is_closed():
            current = asyncio.current_task(self.loop) if self.loop.is_running() else None
            if self._task is not None and not self._task.done() \
                    and self._task is not current:
                self._task.cancel()
            if self._worker is not None and not self._worker.done() \
                    and self._worker is not current:
                self._worker.cancel()
            if self.loop.is_running():
                self._flush_clear()

    def _flush_clear(self):
        """Send the subscription's clear request: in the loop's own thread, with one flush at
        its next turn for every subscription closed in this one (a flush each is a system call
        each: closing 5000 subscriptions took 0.3 s); from another thread, at once."""
        try:
            in_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:
            in_loop = False
        cache = _Context.caches.get(self.loop) if in_loop else None
        if cache is not None:
            cache.flush_soon()
        else:
            ca.flush_io()


def camonitor(pvs, callback, events=None, datatype=None, format=dbr.FORMAT_RAW, count=0,
              all_updates=False, notify_disconnect=False, connect_timeout=None):
    """Subscribe to one PV (returns a Subscription; callback(value)) or to a list of PVs
    (returns a list of Subscriptions; callback(value, index)). Must be called with a loop
    running; callbacks run in that loop, plain functions or coroutines."""
    options = dict(events=events, datatype=datatype, format=format, count=count,
                   all_updates=all_updates, notify_disconnect=notify_disconnect,
                   connect_timeout=connect_timeout)
    if isinstance(pvs, str):
        return Subscription(pvs, callback, **options)
    _Context.cache().open_channels(pvs)
    return [Subscription(name, callback, _index=index, **options)
            for index, name in enumerate(pvs)]


# ----------------------------------------------------------------------------------------
# run


def run(coro, forever=False):
    """Run a coroutine in a new event loop and close the loop (and its channels) after it.
    With forever=True the loop runs on after the coroutine, until stopped. Deprecated in
    aioca in favour of asyncio.run, and warned about in the same way."""
    warnings.warn('aioca.run is deprecated, please use asyncio.run instead',
                  DeprecationWarning, stacklevel=2)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    task = None
    try:
        if forever:
            task = loop.create_task(coro)
            loop.run_forever()
        else:
            return loop.run_until_complete(coro)
    finally:
        if task is not None:
            task.cancel()
        cache = _Context.caches.pop(loop, None)
        if cache is not None:
            cache.purge()
        loop.stop()
        loop.close()
        asyncio.set_event_loop(None)
