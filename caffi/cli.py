"""The ``caffi`` command: Channel Access from the shell, and a self-contained demo.

    caffi get PV... [--type DBR] [--numpy]
    caffi put PV VALUE... [--type DBR] [--wait]
    caffi monitor PV... [--type DBR] [--stats] [--seconds N] [--updates N] [--quiet]
    caffi info PV...
    caffi demo [--seconds N] [--elements N]

Every command takes ``--timeout SECONDS`` (default 5): how long to wait for channels to connect
and for replies. Exit status: 0 success, 1 a Channel Access failure (PV not found, timeout,
write rejected or denied), 2 a usage error (bad type name, value that cannot be converted),
130 interrupted. Errors are one line on stderr, never a traceback (set ``CAFFI_DEBUG=1`` to get
one for unexpected internal errors).

Also runnable as ``python -m caffi``.
"""
import argparse
import collections
import datetime
import enum
import os
import sys
import threading
import time

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

DEFAULT_TIMEOUT = 5.0
FULL_ARRAY_LIMIT = 1000         # `get` prints arrays up to this length in full, longer ones summarized
EPICS_EPOCH = 631152000         # POSIX seconds of a never-processed record's time stamp

DEMO_PV = 'demo:wave'
DEMO_DB = '''record(waveform, "%s") {
    field(DESC, "caffi demo waveform")
    field(FTVL, "DOUBLE")
    field(NELM, "%d")
}
'''


class CliError(Exception):
    """A failure reported as one line on stderr with exit status *code*."""

    def __init__(self, message, code=EXIT_FAILURE):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------------------
# Argument types

def dbr_type(text):
    """argparse type: a DBR request type by name, case-insensitive, with or without 'DBR_'
    ('DOUBLE', 'DBR_DOUBLE', 'time_double'), or its number."""
    from .dbr import DBR
    name = text.strip().upper()
    if name.startswith('DBR_'):
        name = name[4:]
    member = None
    if name.lstrip('-').isdigit():
        try:
            member = DBR(int(name))
        except ValueError:
            member = None
    else:
        member = DBR.__members__.get(name)
    if member is None or member == DBR.INVALID:
        raise argparse.ArgumentTypeError(
            f'unknown DBR type {text!r} (expected a name such as DOUBLE, DBR_LONG, time_double, '
            f'ctrl_enum; one of: {", ".join(n for n in DBR.__members__ if n != "INVALID")})')
    return member


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not a number: {text!r}')
    if not value > 0:
        raise argparse.ArgumentTypeError(f'must be > 0: {text!r}')
    return value


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not an integer: {text!r}')
    if value <= 0:
        raise argparse.ArgumentTypeError(f'must be > 0: {text!r}')
    return value


# ---------------------------------------------------------------------------------------------
# Formatting of the values caffi delivers (DBRValue.get() / callback 'value', API.md §9)

def _is_array(value):
    return isinstance(value, (list, tuple)) or (hasattr(value, 'dtype') and hasattr(value, 'ndim')
                                                and value.ndim == 1)


def format_scalar(value):
    if isinstance(value, enum.Enum):
        return value.name
    if hasattr(value, 'dtype') and hasattr(value, 'item'):      # numpy scalar
        return format_scalar(value.item())
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes):            # text that is not UTF-8 (API.md §12)
        return repr(value)
    if value == '':
        return '""'
    return str(value)


def _elements(seq):
    return seq.tolist() if hasattr(seq, 'tolist') else list(seq)


def summarize_array(value, edge=3):
    """'N elements: a b c ... x y z (min m, max M)' -- count, first/last elements, min/max."""
    n = len(value)
    if n == 0:
        return '0 elements'
    if n <= 2 * edge:
        shown = ' '.join(format_scalar(x) for x in _elements(value))
    else:
        shown = (' '.join(format_scalar(x) for x in _elements(value[:edge])) + ' ... '
                 + ' '.join(format_scalar(x) for x in _elements(value[-edge:])))
    text = f'{n} elements: {shown}'
    if hasattr(value, 'dtype'):
        if value.dtype.kind in 'biuf':
            text += f' (min {format_scalar(value.min())}, max {format_scalar(value.max())})'
    elif all(isinstance(x, (int, float)) for x in value[:1]):
        try:
            text += f' (min {format_scalar(min(value))}, max {format_scalar(max(value))})'
        except TypeError:
            pass
    return text


def format_array(value):
    """The whole array as 'N e1 e2 ...' (caget's layout); numpy arrays in numpy's notation."""
    n = len(value)
    if hasattr(value, 'dtype'):
        import numpy
        body = numpy.array2string(value, max_line_width=sys.maxsize, threshold=FULL_ARRAY_LIMIT,
                                  separator=' ')
        return f'{n} {body} ({value.dtype})'
    if n == 0:
        return '0 (empty)'
    return ' '.join([str(n)] + [format_scalar(x) for x in value])


def format_value(value, summarize):
    if value is None:
        return '<no data>'
    if _is_array(value):
        if summarize or len(value) > FULL_ARRAY_LIMIT:
            return summarize_array(value)
        return format_array(value)
    return format_scalar(value)


def format_stamp(stamp):
    if stamp['seconds'] == EPICS_EPOCH and stamp['nanoseconds'] == 0:
        return '<undefined>'
    return format_time(stamp['timestamp'])


def format_time(posix_seconds):
    return datetime.datetime.fromtimestamp(posix_seconds).strftime('%Y-%m-%d %H:%M:%S.%f')


def format_result(result, summarize, arrival=None):
    """One line for a caffi read result: [time stamp] value [STATUS SEVERITY]."""
    if not isinstance(result, dict):
        text = format_value(result, summarize)
        return text if arrival is None else f'{format_time(arrival)} {text}'
    value = result.get('value')
    text = format_value(value, summarize)
    strs = result.get('strs')
    if strs and isinstance(value, int) and 0 <= value < len(strs):
        text = f'{format_scalar(strs[value])} ({value})'
    if 'stamp' in result:
        text = f'{format_stamp(result["stamp"])} {text}'
    elif arrival is not None:
        text = f'{format_time(arrival)} {text}'
    severity = result.get('severity')
    if severity:
        text += f' {format_scalar(result.get("status"))} {format_scalar(severity)}'
    return text


METADATA_SKIP = ('status', 'severity', 'stamp', 'value')


def metadata_lines(result, indent='    '):
    """The GR/CTRL fields of a read result (units, limits, precision, enum states) as lines."""
    if not isinstance(result, dict):
        return []
    lines = []
    for key, item in result.items():
        if key in METADATA_SKIP:
            continue
        if key == 'strs':
            item = ', '.join(f'{i}={format_scalar(s)}' for i, s in enumerate(item)) or '()'
        else:
            item = format_scalar(item)
        lines.append(f'{indent}{key}: {item}')
    return lines


# ---------------------------------------------------------------------------------------------
# Channel Access session: a preemptive context, connections with a bounded wait

class Session(object):
    """A preemptive CA context for the command, with libca's exception reports collected."""

    def __init__(self, timeout):
        import caffi.ca as ca
        self.ca = ca
        self.timeout = timeout
        self.exceptions = []
        self._lock = threading.Lock()
        status = ca.create_context(True)
        if status != ca.ECA.NORMAL:
            raise CliError(f'cannot create a Channel Access context: {ca.message(status)}')
        self.context = ca.current_context()
        ca.add_exception_event(self._on_exception)
        self.chids = []

    def _on_exception(self, report):
        with self._lock:
            self.exceptions.append(report)

    def exceptions_for(self, chid):
        with self._lock:
            return [r for r in self.exceptions if r['chid'] == chid]

    def connect(self, names):
        """Channels by name, connected within the timeout; raises CliError naming any missing."""
        chids, missing = self.connect_some(names)
        if missing:
            raise CliError(not_found_message(missing, self.timeout))
        return chids

    def connect_some(self, names):
        """(connected chids by name, names that did not connect within the timeout)."""
        ca = self.ca
        chids = collections.OrderedDict()
        for name in names:
            if name in chids:
                continue
            status, chid = ca.create_channel(name)
            if status != ca.ECA.NORMAL:
                raise CliError(f'{name}: cannot create a channel: {ca.message(status)}')
            chids[name] = chid
            self.chids.append(chid)
        ca.pend_io(self.timeout)
        missing = [name for name, chid in chids.items()
                   if ca.state(chid) != ca.ChannelState.CONN]
        for name in missing:
            del chids[name]
        return chids, missing

    def read(self, chids, chtype=None, count=None, use_numpy=False):
        """get() with callbacks on every channel; the callback dicts by name, within the timeout."""
        ca = self.ca
        results = {}
        done = threading.Condition()

        def reader(name):
            def on_read(result):
                with done:
                    results[name] = result
                    done.notify_all()
            return on_read

        for name, chid in chids.items():
            status, _ = ca.get(chid, chtype, count, callback=reader(name), use_numpy=use_numpy)
            if status != ca.ECA.NORMAL:
                bad_type = status == ca.ECA.BADTYPE and chtype is not None
                raise CliError(f'{name}: read request failed: {ca.message(status)}'
                               + (f' ({chtype.name} on a {ca.field_type(chid).name} channel)'
                                  if bad_type else ''),
                               EXIT_USAGE if bad_type else EXIT_FAILURE)
        ca.flush_io()
        with done:
            done.wait_for(lambda: len(results) == len(chids), self.timeout)
        late = [name for name in chids if name not in results]
        if late:
            raise CliError(f'{", ".join(late)}: no reply to the read request within '
                           f'{self.timeout:g} s (timeout)')
        return results

    def close(self):
        ca = self.ca
        for chid in self.chids:
            ca.clear_channel(chid)
        ca.destroy_context()


def not_found_message(names, timeout):
    which = ', '.join(names)
    return (f'{which}: not connected within {timeout:g} s (timeout): no server answered for '
            f'{"this PV" if len(names) == 1 else "these PVs"}; check the name, that the IOC runs '
            f'and EPICS_CA_ADDR_LIST')


def read_failure(name, result):
    from caffi.ca import message
    status = result['status']
    return f'{name}: read failed: {message(status)} ({getattr(status, "name", status)})'


# ---------------------------------------------------------------------------------------------
# Commands

def cmd_get(args, out):
    session = Session(args.timeout)
    try:
        chids, missing = session.connect_some(args.pv)
        results = session.read(chids, args.type, use_numpy=args.numpy) if chids else {}
        failed = bool(missing)
        for name in chids:
            result = results[name]
            if result['value'] is None:
                print(read_failure(name, result), file=sys.stderr)
                failed = True
                continue
            print(f'{name} {format_result(result["value"], summarize=False)}', file=out)
            for line in metadata_lines(result['value']):
                print(line, file=out)
        if missing:
            raise CliError(not_found_message(missing, args.timeout))
        return EXIT_FAILURE if failed else EXIT_OK
    finally:
        session.close()


def _base_name(dbr):
    """Base type name of a writable request type: STRING, SHORT, ..., DOUBLE, PUT_ACKT, PUT_ACKS."""
    if dbr.value in (35, 36):
        return dbr.name
    return ('STRING', 'SHORT', 'FLOAT', 'ENUM', 'CHAR', 'LONG', 'DOUBLE')[dbr.value % 7]


def _parse_int(text):
    try:
        return int(text)
    except ValueError:
        return int(text, 0)             # 0x10, 0o17, 0b101


def convert_values(name, texts, base, native_count, enum_states=()):
    """Command-line texts -> the value to put (a scalar, or a list for several values)."""
    type_label = f'DBF_{base}' if not base.startswith('PUT_') else base

    def convert(text):
        if base == 'STRING':
            return text
        if base in ('DOUBLE', 'FLOAT'):
            try:
                return float(text)
            except ValueError:
                pass
        elif base == 'ENUM':
            try:
                return _parse_int(text)
            except ValueError:
                if text in enum_states:
                    return text         # caffi writes a state name as STRING (API.md §8)
                states = ', '.join(enum_states) if enum_states else 'none defined'
                raise CliError(f'{name}: cannot convert {text!r} to {type_label}: not an integer '
                               f'nor a state name (states: {states})', EXIT_USAGE)
        else:
            try:
                return _parse_int(text)
            except ValueError:
                if base == 'CHAR' and native_count > 1 and len(texts) == 1:
                    return text         # a CHAR array takes text as its bytes, NUL-terminated
        raise CliError(f'{name}: cannot convert {text!r} to {type_label}', EXIT_USAGE)

    if len(texts) > 1 and native_count == 1:
        if base == 'STRING':
            texts = [' '.join(texts)]           # like caput: the words of one string
        else:
            raise CliError(f'{name}: a scalar channel takes one value, got {len(texts)}',
                           EXIT_USAGE)
    values = [convert(text) for text in texts]
    limits = INTEGER_RANGES.get(base)
    if limits is not None:
        for text, value in zip(texts, values):
            if isinstance(value, int) and not limits[0] <= value <= limits[1]:
                raise CliError(f'{name}: cannot convert {text!r} to {type_label}: out of range '
                               f'{limits[0]}..{limits[1]}', EXIT_USAGE)
    return values[0] if len(values) == 1 else values


# What caffi accepts for each integer request type (API.md §8)
INTEGER_RANGES = {'SHORT': (-2 ** 15, 2 ** 15 - 1), 'LONG': (-2 ** 31, 2 ** 31 - 1),
                  'ENUM': (0, 2 ** 16 - 1), 'CHAR': (0, 255), 'PUT_ACKT': (0, 2 ** 16 - 1),
                  'PUT_ACKS': (0, 2 ** 16 - 1)}


def cmd_put(args, out):
    from .dbr import DBR
    ca_session = Session(args.timeout)
    ca = ca_session.ca
    name = args.pv
    try:
        chid = ca_session.connect([name])[name]
        native = ca.field_type(chid)
        count = ca.element_count(chid)
        chtype = args.type
        if chtype is not None and not (0 <= chtype.value <= 6 or chtype.value in (35, 36)):
            raise CliError(f'{name}: cannot write with request type {chtype.name}: only plain '
                           f'types (STRING, SHORT, FLOAT, ENUM, CHAR, LONG, DOUBLE) and PUT_ACKT/'
                           f'PUT_ACKS are writable', EXIT_USAGE)
        if not ca.write_access(chid):
            raise CliError(f'{name}: write access denied (the server grants this client read '
                           f'access only)' if ca.read_access(chid) else
                           f'{name}: write access denied (no access rights)')
        base = _base_name(chtype if chtype is not None else DBR(int(native)))
        states = ()
        if base == 'ENUM':
            ctrl = ca_session.read({name: chid}, ca.DBR.CTRL_ENUM)[name]['value']
            states = tuple(s for s in ctrl['strs']) if isinstance(ctrl, dict) else ()
        value = convert_values(name, args.value, base, count, states)

        readable = ca.read_access(chid)
        if readable:
            old = ca_session.read({name: chid}, count=0 if count > 1 else None)[name]
            print(f'Old : {name} {format_old_new(old)}', file=out)

        done = threading.Event()
        completion = {}

        def on_done(result):
            completion.update(result)
            done.set()

        try:
            status = ca.put(chid, value, chtype, callback=on_done if args.wait else None)
        except (TypeError, ValueError, OverflowError) as exc:
            raise CliError(f'{name}: cannot write {" ".join(args.value)!r} as '
                           f'{(chtype or native).name}: {exc}', EXIT_USAGE)
        if status != ca.ECA.NORMAL:
            raise CliError(f'{name}: write refused: {ca.message(status)} ({status.name})',
                           EXIT_USAGE if status in (ca.ECA.BADTYPE, ca.ECA.BADSTR, ca.ECA.BADCOUNT)
                           else EXIT_FAILURE)
        ca.flush_io()
        if args.wait:
            if not done.wait(args.timeout):
                raise CliError(f'{name}: the write did not complete within {args.timeout:g} s '
                               f'(timeout)')
            if completion['status'] != ca.ECA.NORMAL:
                raise CliError(f'{name}: write rejected by the server: '
                               f'{ca.message(completion["status"])} ({completion["status"].name})')
        if readable:
            # Requests on one channel are answered in order: this read follows the write, and a
            # rejected write has been reported to the exception handler before its reply.
            new = ca_session.read({name: chid}, count=0 if count > 1 else None)[name]
        rejected = [r for r in ca_session.exceptions_for(chid) if r['op'] == ca.CA_OP.PUT
                    or r['stat'] == ca.ECA.PUTFAIL]
        if rejected:
            stat = rejected[0]['stat']
            raise CliError(f'{name}: write rejected by the server: {ca.message(stat)} '
                           f'({getattr(stat, "name", stat)})')
        if readable:
            print(f'New : {name} {format_old_new(new)}', file=out)
        else:
            print(f'{name}: written{" (completed)" if args.wait else ""}', file=out)
        return EXIT_OK
    finally:
        ca_session.close()


def format_old_new(result):
    if result['value'] is None:
        from caffi.ca import message
        return f'<no data: {message(result["status"])}>'
    return format_result(result['value'], summarize=False)


def cmd_info(args, out):
    session = Session(args.timeout)
    ca = session.ca
    try:
        chids, missing = session.connect_some(args.pv)
        for name, chid in chids.items():
            native = ca.field_type(chid)
            count = ca.element_count(chid)
            readable, writable = ca.read_access(chid), ca.write_access(chid)
            access = ('read, write' if readable and writable else 'read only' if readable
                      else 'write only' if writable else 'none')
            lines = [name,
                     f'    native type: {getattr(native, "name", native)} '
                     f'(DBF_{getattr(native, "name", native)})',
                     f'    element count: {count}',
                     f'    host: {ca.host_name(chid)}',
                     f'    access: {access}']
            if readable:
                ctrl = session.read({name: chid}, native.toCTRL(), use_numpy=True)[name]
                record = session.read({name: chid}, ca.DBR.CLASS_NAME, count=1)[name]
                if record['value'] is not None:
                    lines.append(f'    record type: {format_scalar(record["value"])}')
                if ctrl['value'] is None:
                    lines.append(f'    value: <no data: {ca.message(ctrl["status"])}>')
                else:
                    lines.append(f'    value: {format_result(ctrl["value"], summarize=True)}')
                    lines.append(f'    status: {format_scalar(ctrl["value"]["status"])}')
                    lines.append(f'    severity: {format_scalar(ctrl["value"]["severity"])}')
                    lines.extend(metadata_lines(ctrl['value']))
            print('\n'.join(lines), file=out)
        if missing:
            raise CliError(not_found_message(missing, args.timeout))
        return EXIT_OK
    finally:
        session.close()


def cmd_monitor(args, out):
    from .stats import stats
    session = Session(args.timeout)
    ca = session.ca
    try:
        chids, missing = session.connect_some(args.pv)
        if missing:
            print(f'caffi: {not_found_message(missing, args.timeout)}', file=sys.stderr)
            if not chids:
                return EXIT_FAILURE
        updates = collections.deque()           # (arrival time, name, callback dict)
        wake = threading.Event()

        def subscriber(name):
            def on_update(event):
                updates.append((time.time(), name, event))
                wake.set()
            return on_update

        def connection(name):
            def on_connection(event):
                up = event['op'] == ca.CA_OP.CONN_UP
                updates.append((time.time(), name, 'connected' if up else 'disconnected'))
                wake.set()
            return on_connection

        evids = collections.OrderedDict()
        for name, chid in chids.items():
            chtype = args.type if args.type is not None else ca.field_type(chid).toTIME()
            status, evid = ca.create_subscription(chid, subscriber(name), chtype, 0,
                                                  use_numpy=True)
            if status != ca.ECA.NORMAL:
                raise CliError(f'{name}: cannot subscribe: {ca.message(status)} ({status.name})',
                               EXIT_USAGE if status == ca.ECA.BADTYPE else EXIT_FAILURE)
            evids[name] = evid
            ca.change_connection_event(chid, connection(name))
        ca.flush_io()

        width = max(len(name) for name in evids)
        start = time.monotonic()
        deadline = start + args.seconds if args.seconds else None
        next_stats = start + 1.0
        seen = 0
        try:
            while True:
                wake.wait(0.1)
                wake.clear()
                while updates:
                    arrival, name, event = updates.popleft()
                    if isinstance(event, str):
                        print(f'{name:<{width}} *** {event}', file=out)
                        continue
                    seen += 1
                    if not args.quiet:
                        if event['value'] is None:
                            line = f'<no data: {ca.message(event["status"])}>'
                        else:
                            line = format_result(event['value'], summarize=True, arrival=arrival)
                        print(f'{name:<{width}} {line}', file=out)
                    if args.updates and seen >= args.updates:
                        break
                out.flush()
                now = time.monotonic()
                if args.updates and seen >= args.updates:
                    break
                if deadline is not None and now >= deadline:
                    break
                if args.stats and now >= next_stats:
                    next_stats += 1.0
                    for name, evid in evids.items():
                        print(f'# {name:<{width}} {stats(evid)}', file=out)
        except KeyboardInterrupt:
            pass                                # Ctrl-C ends a monitor normally
        if args.stats:
            print('# statistics (caffi.stats)', file=out)
            for name, evid in evids.items():
                s = stats(evid)
                first = format_time(s.first_update) if s.first_update else '-'
                last = format_time(s.last_update) if s.last_update else '-'
                print(f'# {name:<{width}} updates {s.updates}, bytes {s.bytes} '
                      f'({s.bytes_per_update:.0f} per update), rate {s.rate:.2f} updates/s '
                      f'({s.mb_per_s:.3f} MB/s), average {s.average_rate:.2f} updates/s, '
                      f'first {first}, last {last}', file=out)
        for evid in evids.values():
            ca.clear_subscription(evid)
        return EXIT_FAILURE if missing else EXIT_OK
    finally:
        session.close()


def cmd_demo(args, out):
    from ._embedded_ioc import EmbeddedIoc, EmbeddedIocError
    from ._version import __version__
    n = args.elements
    print(f'caffi {__version__} demo: starting an embedded soft IOC (epicscorelibs, CA only, '
          f'127.0.0.1) with {DEMO_PV}, a {n:,}-element DOUBLE waveform ...', file=out)
    out.flush()
    try:
        ioc = EmbeddedIoc(DEMO_DB % (DEMO_PV, n), max_array_bytes=max(100000000, 8 * n + 4096))
        ioc.start()
    except EmbeddedIocError as exc:
        raise CliError(f'demo: {exc}')
    try:
        return _run_demo(args, out, ioc, n)
    finally:
        ioc.stop()


def _run_demo(args, out, ioc, n):
    import numpy as np
    from .stats import stats
    session = Session(args.timeout)
    ca = session.ca
    stop = threading.Event()
    publisher = None
    try:
        chid = session.connect([DEMO_PV])[DEMO_PV]
        print(f'IOC on 127.0.0.1:{ioc.port}; monitoring {DEMO_PV} ({ca.element_count(chid):,} x '
              f'{ca.field_type(chid).name}) with use_numpy=True for {args.seconds:g} s, a publisher '
              f'thread writing it as fast as the IOC completes the writes', file=out)
        out.flush()

        state = {'first': None, 'last': None, 'ordered': True, 'kind': None, 'puts': 0,
                 'error': None}
        first_update = threading.Event()

        def on_update(event):
            value = event['value']
            if value is None:
                return
            head = float(value[0])
            if state['last'] is not None and head < state['last']:
                state['ordered'] = False
            state['last'] = head
            if state['first'] is None:
                state['first'] = head
                state['kind'] = f'{type(value).__module__}.{type(value).__name__} of ' \
                                f'{value.size:,} x {value.dtype}'
            first_update.set()

        status, evid = ca.create_subscription(chid, on_update, use_numpy=True)
        if status != ca.ECA.NORMAL:
            raise CliError(f'{DEMO_PV}: cannot subscribe: {ca.message(status)}')
        ca.flush_io()
        if not first_update.wait(args.timeout):
            raise CliError(f'{DEMO_PV}: no first update within {args.timeout:g} s (timeout)')

        context = session.context

        def publish():                          # element 0 counts the writes
            ca.attach_context(context)
            try:
                data = np.zeros(n)
                done = threading.Event()
                while not stop.is_set():
                    data[0] += 1
                    done.clear()
                    put_status = ca.put(chid, data, callback=lambda result: done.set())
                    if put_status != ca.ECA.NORMAL:
                        state['error'] = f'put: {ca.message(put_status)}'
                        return
                    ca.flush_io()
                    if not done.wait(args.timeout):
                        state['error'] = f'a write did not complete within {args.timeout:g} s'
                        return
                    state['puts'] += 1
            finally:
                ca.detach_context()

        before = stats(evid)
        started = time.monotonic()
        publisher = threading.Thread(target=publish, name='caffi-demo-publisher', daemon=True)
        publisher.start()
        tty = out.isatty()
        interval = 0.2 if tty else 1.0
        next_line = started + interval
        end = started + args.seconds
        recent = collections.deque([(started, before)])     # caffi.stats snapshots, last ~1 s
        while True:
            now = time.monotonic()
            if now >= end:
                break
            time.sleep(min(next_line, end) - now)
            now = time.monotonic()
            if now >= next_line:
                next_line += interval
                s = stats(evid)
                recent.append((now, s))
                while len(recent) > 2 and now - recent[1][0] >= 1.0:
                    recent.popleft()
                then, old = recent[0]
                span = max(now - then, 1e-9)
                line = (f'{now - started:5.1f} s  {s.updates - before.updates:6d} updates  '
                        f'{(s.updates - old.updates) / span:7.1f} updates/s  '
                        f'{(s.bytes - old.bytes) / span / 1e6:8.1f} MB/s')
                if tty:
                    out.write('\r  ' + line)
                else:
                    out.write('  ' + line + '\n')
                out.flush()
        stop.set()
        after = stats(evid)
        elapsed = time.monotonic() - started
        publisher.join(args.timeout + 1)
        if tty:
            out.write('\n')
        if state['error']:
            raise CliError(f'demo publisher: {state["error"]}')
        received = after.updates - before.updates
        if received == 0:
            raise CliError(f'{DEMO_PV}: no update in {elapsed:.1f} s')
        rate = received / elapsed
        mb_per_s = (after.bytes - before.bytes) / elapsed / 1e6
        print(f'summary: {received} updates in {elapsed:.2f} s: {rate:.1f} updates/s, '
              f'{mb_per_s:.1f} MB/s', file=out)
        print(f'  each update: a {state["kind"]} ({after.bytes_per_update:,.0f} DBR bytes); '
              f'{state["puts"]} writes completed; element 0 went {state["first"]:g} -> '
              f'{state["last"]:g}{", in order" if state["ordered"] else " OUT OF ORDER"}',
              file=out)
        print(f'  caffi.stats: {after}', file=out)
        ca.clear_subscription(evid)
        return EXIT_OK if state['ordered'] else EXIT_FAILURE
    finally:
        stop.set()
        if publisher is not None:
            publisher.join(args.timeout + 1)
        session.close()


# ---------------------------------------------------------------------------------------------
# Entry point

def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--timeout', '-w', type=positive_float, default=DEFAULT_TIMEOUT,
                        metavar='SECONDS',
                        help=f'wait this long for connections and replies (default '
                             f'{DEFAULT_TIMEOUT:g})')
    parser = argparse.ArgumentParser(
        prog='caffi', description='Channel Access from the command line, with caffi '
                                  '(a Cython binding to libca).')
    parser.add_argument('--version', action='version', version=_version_text())
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    commands.required = True

    def typed_parent(default):
        parent = argparse.ArgumentParser(add_help=False)
        parent.add_argument('--type', '-t', type=dbr_type, metavar='DBR',
                            help='request type, e.g. DOUBLE, DBR_STRING, time_double, ctrl_long '
                                 f'(case-insensitive; default: {default})')
        return parent

    get = commands.add_parser('get', parents=[common, typed_parent('the native type')],
                              help='read PVs once', description='Read PVs once and print them '
                              '(arrays of more than %d elements are summarized).'
                              % FULL_ARRAY_LIMIT)
    get.add_argument('pv', nargs='+', metavar='PV')
    get.add_argument('--numpy', action='store_true', help='read arrays into numpy arrays')
    get.set_defaults(run=cmd_get)

    put = commands.add_parser('put', parents=[common, typed_parent('the native type')],
                              help='write a PV', description='Write a value (several values: '
                              'an array) and print the old and new values.')
    put.add_argument('pv', metavar='PV')
    put.add_argument('value', nargs='+', metavar='VALUE')
    put.add_argument('--wait', action='store_true',
                     help='write with a completion callback and wait for it')
    put.set_defaults(run=cmd_put)

    monitor = commands.add_parser(
        'monitor', parents=[common, typed_parent('TIME_ of the native type')], help='print PV updates',
        description='One line per update: name, time stamp, value (arrays summarized as count, '
                    'first/last elements, min/max), alarm. Ends on Ctrl-C, --seconds or --updates.')
    monitor.add_argument('pv', nargs='+', metavar='PV')
    monitor.add_argument('--stats', action='store_true',
                         help='print caffi.stats counters every second and at the end')
    monitor.add_argument('--seconds', type=positive_float, metavar='N',
                         help='stop after N seconds')
    monitor.add_argument('--updates', '-n', type=positive_int, metavar='N',
                         help='stop after N updates (all PVs together)')
    monitor.add_argument('--quiet', '-q', action='store_true',
                         help='do not print the updates (with --stats: the statistics only)')
    monitor.set_defaults(run=cmd_monitor)

    info = commands.add_parser('info', parents=[common], help='describe PVs',
                               description='Native type, element count, server, access rights, '
                                           'record type, value and CTRL metadata.')
    info.add_argument('pv', nargs='+', metavar='PV')
    info.set_defaults(run=cmd_info)

    demo = commands.add_parser(
        'demo', parents=[common], help='monitor a 1M-element waveform from an embedded IOC',
        description='Start an embedded soft IOC (epicscorelibs) on a free loopback port with a '
                    'DOUBLE waveform, write it from a thread, monitor it into numpy arrays and '
                    'report updates/s and MB/s.')
    demo.add_argument('--seconds', type=positive_float, default=3.0, metavar='N',
                      help='how long to monitor (default 3)')
    demo.add_argument('--elements', type=positive_int, default=1000000, metavar='N',
                      help='waveform length (default 1000000)')
    demo.set_defaults(run=cmd_demo)
    return parser


def _version_text():
    from ._version import __version__
    return f'caffi {__version__}'


def main(argv=None):
    """Run the command line; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = sys.stdout
    try:
        return args.run(args, out)
    except CliError as exc:
        _flush_quietly(out)
        print(f'caffi {args.command}: error: {exc}', file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        _flush_quietly(out)
        print(f'caffi {args.command}: interrupted', file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (e.g. `caffi monitor ... | head`): not an error worth a message
        try:
            sys.stdout = open(os.devnull, 'w')
        except OSError:
            pass
        return EXIT_OK
    except Exception as exc:                    # never a traceback unless asked for
        if os.environ.get('CAFFI_DEBUG'):
            raise
        _flush_quietly(out)
        print(f'caffi {args.command}: internal error: {type(exc).__name__}: {exc} '
              f'(set CAFFI_DEBUG=1 for a traceback)', file=sys.stderr)
        return EXIT_FAILURE


def _flush_quietly(stream):
    try:
        stream.flush()
    except (OSError, ValueError):
        pass


if __name__ == '__main__':
    sys.exit(main())
