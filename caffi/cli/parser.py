"""The command line: the argparse parser of the commands, and main(), which runs one and turns
what ends it (CliError, Ctrl-C, a closed pipe, an unexpected error) into the exit status."""
import argparse
import os
import sys

from .._version import __version__
from .arguments import dbr_type, positive_float, positive_int
from .commands import cmd_demo, cmd_get, cmd_info, cmd_monitor, cmd_put
from .format import FULL_ARRAY_LIMIT
from .status import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, CliError

DEFAULT_TIMEOUT = 5.0


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--timeout', '-w', type=positive_float, default=DEFAULT_TIMEOUT,
                        metavar='SECONDS',
                        help=f'wait this long for connections and replies (default '
                             f'{DEFAULT_TIMEOUT:g})')
    parser = argparse.ArgumentParser(
        prog='caffi', description='Channel Access from the command line, with caffi '
                                  '(a Cython binding to libca).')
    parser.add_argument('--version', action='version', version=f'caffi {__version__}')
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
