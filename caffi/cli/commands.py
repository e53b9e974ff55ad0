"""The commands: get, put, info, monitor and demo. Each takes the parsed arguments and the
output stream and returns the exit status, or raises CliError."""
import collections
import sys
import threading
import time

from .. import ca
from .._dbr import WRITE_KINDS, dbr_size_n
from .._version import __version__
from ..dbr import DBR
from ..stats import stats
from .arguments import convert_values, writable_types_text, write_rule
from .format import (format_old_new, format_result, format_scalar, format_time, metadata_lines,
                     no_data)
from .session import Session, not_found_message, read_failure
from .status import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError, exit_status

DEMO_PV = 'demo:wave'
DEMO_DB = '''record(waveform, "%s") {
    field(DESC, "caffi demo waveform")
    field(FTVL, "DOUBLE")
    field(NELM, "%d")
}
'''


def cmd_get(args, out):
    with Session(args.timeout) as session:
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
        session.raise_if_missing(missing)
        return EXIT_FAILURE if failed else EXIT_OK


def cmd_put(args, out):
    name = args.pv
    with Session(args.timeout) as session:
        chid = session.connect([name])[name]
        native = ca.field_type(chid)
        count = ca.element_count(chid)
        chtype = args.type
        if chtype is not None and chtype not in WRITE_KINDS:
            raise CliError(f'{name}: cannot write with request type {chtype.name}: only '
                           f'{writable_types_text()} are writable', EXIT_USAGE)
        if not ca.write_access(chid):
            raise CliError(f'{name}: write access denied (the server grants this client read '
                           f'access only)' if ca.read_access(chid) else
                           f'{name}: write access denied (no access rights)')
        base, kind = write_rule(chtype if chtype is not None else DBR(int(native)))
        states = ()
        if base == 'ENUM':
            ctrl = session.read({name: chid}, ca.DBR.CTRL_ENUM)[name]['value']
            states = tuple(s for s in ctrl['strs']) if isinstance(ctrl, dict) else ()
        value = convert_values(name, args.value, base, kind, count, states)

        readable = ca.read_access(chid)
        if readable:
            old = session.read({name: chid}, count=0 if count > 1 else None)[name]
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
                           exit_status(status))
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
            new = session.read({name: chid}, count=0 if count > 1 else None)[name]
        rejected = [r for r in session.exceptions_for(chid) if r['op'] == ca.CA_OP.PUT
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


def cmd_info(args, out):
    with Session(args.timeout) as session:
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
                    lines.append(f'    value: {no_data(ctrl["status"])}')
                else:
                    lines.append(f'    value: {format_result(ctrl["value"], summarize=True)}')
                    lines.append(f'    status: {format_scalar(ctrl["value"]["status"])}')
                    lines.append(f'    severity: {format_scalar(ctrl["value"]["severity"])}')
                    lines.extend(metadata_lines(ctrl['value']))
            print('\n'.join(lines), file=out)
        session.raise_if_missing(missing)
        return EXIT_OK


def cmd_monitor(args, out):
    with Session(args.timeout) as session:
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
                               exit_status(status))
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
                            line = no_data(event['status'])
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


def cmd_demo(args, out):
    # Imported here: only the demo runs an IOC, and the other commands keep its module (and
    # whatever IOC libraries it may load) out of the process.
    from .._embedded_ioc import EmbeddedIoc, EmbeddedIocError
    n = args.elements
    print(f'caffi {__version__} demo: starting an embedded soft IOC (epicscorelibs, CA only, '
          f'127.0.0.1) with {DEMO_PV}, a {n:,}-element DOUBLE waveform ...', file=out)
    out.flush()
    try:
        ioc = EmbeddedIoc(DEMO_DB % (DEMO_PV, n), max_array_bytes=max(100000000, dbr_size_n(DBR.DOUBLE, n) + 4096))
        ioc.start()
    except EmbeddedIocError as exc:
        raise CliError(f'demo: {exc}')
    try:
        return _run_demo(args, out, ioc, n)
    finally:
        ioc.stop()


def _run_demo(args, out, ioc, n):
    import numpy as np          # an optional dependency, which only the demo needs
    session = Session(args.timeout)
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
