"""Hypothesis fuzz of caffi.monitor.Monitor, run as a child process by test_fuzz.py.

usage: python monitor_fuzz_child.py MAX_EXAMPLES [--seed N] [--trace FILE]

Needs the reference IOC (the EPICS_CA_* variables come from the parent's environment). Every
example makes a Monitor with random arguments -- request types -5..45 and junk, counts, depths
and masks of every kind (None, negative, 0, huge, float, str), overflow policies, notify
callables that raise or are not callable, notify intervals -- and, when one is made, runs a
random sequence of operations on it while values are written to its record: drain(max_n) with
random max_n, get/wait with short timeouts, stats, pending, pauses for the notifier thread,
close, clear_subscription,
iteration after close, and batches held on to across examples or dropped in a random order.

Outcomes must be documented: a Monitor, or TypeError / ValueError / OverflowError /
MemoryError from the constructor; Batches whose five arrays agree (n rows of `width`
elements, the request's dtype, finite time stamps, counts up to the native count);
TimeoutError / EOFError from get; bools from wait. Anything else is a failure; a crash or a hang kills the process
(faulthandler prints the stacks; --trace FILE holds the operation under way).

Last stdout line on success: ``FUZZ-SUMMARY {json}``.
"""

import faulthandler
import gc
import sys
import time
import traceback

import numpy as np
from hypothesis import strategies as st

import caffi.ca as ca
from caffi.constants import ECA
from caffi.dbr import DBR
from caffi.monitor import Batch, Monitor, Update
from monitor_fuzz_common import (RECORDS, FuzzerBase, argument_parser, hypothesis_run, junk,
                                 start_run)

CONSTRUCTOR_ERRORS = (TypeError, ValueError, OverflowError, MemoryError)
EXAMPLE_WATCHDOG = 30.0
DTYPES = ('S40', 'int16', 'float32', 'uint16', 'uint8', 'int32', 'float64')

small_ints = st.one_of(st.integers(-3, 40), st.integers(-2 ** 40, 2 ** 40))
chtypes = st.one_of(st.integers(-5, 45), st.sampled_from(list(DBR)), junk)
counts = st.one_of(st.none(), st.integers(-3, 200), junk)
depths = st.one_of(st.integers(-2, 64), st.sampled_from([1, 2, 4096]), junk)
overflows = st.one_of(st.sampled_from(['drop_oldest', 'drop_newest']), junk)
masks = st.one_of(st.none(), st.sampled_from([1, 4, 5, 7]), junk)
max_ns = st.one_of(st.none(), st.integers(-5, 70), st.sampled_from([10 ** 30, -10 ** 30]), junk)
timeouts = st.sampled_from([0, 0.0, 0.001, 0.02, -1.0])


class Fuzzer(FuzzerBase):
    def connect(self):
        self.create_channels(RECORDS)
        self.wait_connected()

    def notify_ok(self, batch):
        self.notified += 1
        self.check_batch(batch, None, 'notify')

    def check_batch(self, batch, monitor, where, record=None):
        if not isinstance(batch, Batch):
            self.fail('%s: not a Batch: %r' % (where, batch))
            return
        n = len(batch.counts)
        for field in batch:
            if not isinstance(field, np.ndarray) or len(field) != n:
                self.fail('%s: arrays disagree: %r' % (where, [getattr(f, 'shape', f) for f in batch]))
                return
        if monitor is not None:
            if batch.values.shape != (n, monitor.width) or batch.values.dtype != monitor.dtype:
                self.fail('%s: values %s %s for width %d, %s' % (
                    where, batch.values.shape, batch.values.dtype, monitor.width, monitor.dtype))
        if (batch.timestamps.dtype, batch.status.dtype, batch.severity.dtype,
                batch.counts.dtype) != (np.float64, np.int16, np.int16, np.uint32):
            self.fail('%s: metadata dtypes %s' % (where, [f.dtype for f in batch[1:]]))
        if n and not np.isfinite(batch.timestamps).all():
            self.fail('%s: stamps %s' % (where, batch.timestamps))
        if n and record is not None and batch.counts.max() > self.native[record]:
            self.fail('%s: counts %s beyond the native %d' % (
                where, batch.counts, self.native[record]))

    def run_example(self, data):
        self.examples += 1
        name = data.draw(st.sampled_from(sorted(RECORDS)), label='record')
        kwargs = {}
        for key, strategy in (('chtype', chtypes), ('count', counts), ('depth', depths),
                              ('overflow', overflows), ('mask', masks)):
            if data.draw(st.booleans(), label='give ' + key):
                kwargs[key] = data.draw(strategy, label=key)
        notify_kind = data.draw(st.sampled_from(['none', 'none', 'ok', 'ok', 'raises', 'junk']),
                                label='notify')
        if notify_kind != 'none':
            kwargs['notify'] = {'ok': self.notify_ok, 'raises': self.notify_raises,
                                'junk': 42}[notify_kind]
            kwargs['notify_interval'] = data.draw(st.sampled_from([0.002, 0.002, 0.01, 0, -1, 'x']),
                                                  label='interval')
        self.note('Monitor(%s, **%r)' % (name, kwargs))
        try:
            monitor = Monitor(self.chids[name], **kwargs)
        except CONSTRUCTOR_ERRORS:
            return
        except Exception:
            self.fail('Monitor(%s, **%r) raised %s' % (name, kwargs, traceback.format_exc()))
            return
        self.made += 1
        if monitor.dtype not in [np.dtype(d) for d in DTYPES]:
            self.fail('Monitor(%s, **%r): dtype %s' % (name, kwargs, monitor.dtype))
        ca.flush_io()
        try:
            for step in range(data.draw(st.integers(1, 12), label='steps')):
                self.operations += 1
                op = data.draw(st.sampled_from(
                    ['write', 'write', 'drain', 'drain', 'get', 'wait', 'stats', 'hold', 'drop',
                     'sleep', 'close', 'clear', 'iterate']), label='op')
                self.note('Monitor(%s, **%r) step %d: %s' % (name, kwargs, step, op))
                self.operate(op, monitor, name, data)
        finally:
            monitor.close()
        self.operate('iterate', monitor, name, data)        # closed: ends after what is left

    def operate(self, op, monitor, name, data):
        where = '%s on %r' % (op, monitor)
        if op == 'write':
            self.write(name)
            time.sleep(0.002)
        elif op == 'sleep':                 # a notifier thread gets its turn
            time.sleep(0.03)
        elif op in ('drain', 'hold'):
            max_n = data.draw(max_ns, label='max_n')
            try:
                batch = monitor.drain(max_n)
            except (TypeError, ValueError, OverflowError) as exc:
                if max_n is None or isinstance(max_n, int):
                    self.fail('%s(%r): %r' % (where, max_n, exc))
                return
            self.check_batch(batch, monitor, where, name)
            if isinstance(max_n, int) and len(batch.counts) > max(max_n, 0):
                self.fail('%s(%r) took %d' % (where, max_n, len(batch.counts)))
            if op == 'hold':
                self.held.append(batch)
        elif op == 'drop':
            # what is drawn must not depend on the state (Hypothesis replays the draws)
            which = data.draw(st.integers(0, 63), label='which')
            collect = data.draw(st.booleans(), label='collect')
            if self.held:
                self.held.pop(which % len(self.held))
            if collect:
                gc.collect()
        elif op == 'get':
            timeout = data.draw(timeouts, label='timeout')
            try:
                update = monitor.get(timeout)
            except (TimeoutError, EOFError):
                return
            if not isinstance(update, Update) or not 0 <= update.count <= self.native[name]:
                self.fail('%s: %r' % (where, update))
        elif op == 'wait':
            result = monitor.wait(data.draw(timeouts, label='timeout'))
            if result not in (True, False):
                self.fail('%s: %r' % (where, result))
        elif op == 'stats':
            stats = monitor.stats()
            if stats['pending'] > monitor.depth or stats['dropped'] < 0:
                self.fail('%s: %r' % (where, stats))
        elif op == 'close':
            monitor.close()
        elif op == 'clear':
            if ca.clear_subscription(monitor) not in (ECA.NORMAL, ECA.BADCHID):
                self.fail('%s: clear_subscription' % where)
        elif op == 'iterate' and monitor.closed:
            left = monitor.pending
            seen = sum(1 for _ in monitor)
            if seen != left:
                self.fail('%s: %d of %d left' % (where, seen, left))


def main():
    args = argument_parser(default_seed=20261201).parse_args()
    started = time.monotonic()
    reported = start_run()
    fuzzer = Fuzzer(args.trace)
    fuzzer.connect()

    @hypothesis_run(args)
    def fuzz(data):
        faulthandler.dump_traceback_later(EXAMPLE_WATCHDOG, exit=True)
        fuzzer.run_example(data)
        faulthandler.cancel_dump_traceback_later()

    fuzz()
    fuzzer.held.clear()
    gc.collect()
    fuzzer.fail_unraisable(reported)
    summary = {'examples': fuzzer.examples, 'monitors': fuzzer.made,
               'calls': fuzzer.operations, 'notified': fuzzer.notified, 'seed': args.seed,
               'seconds': round(time.monotonic() - started, 1),
               'failures': len(fuzzer.failures), 'findings': fuzzer.failures[:20]}
    return fuzzer.finish(summary, fuzzer.chids.values())


if __name__ == '__main__':
    sys.exit(main())
