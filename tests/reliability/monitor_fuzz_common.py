"""What the Monitor and MonitorGroup fuzz children (monitor_fuzz_child.py, group_fuzz_child.py)
share: the records they write to, the junk they pass for arguments and the fuzzer's plumbing.

Imported by those scripts, which run as their own processes from this folder (so this module is
found as their script directory's neighbour); it creates no context of its own.
"""
import argparse
import faulthandler
import json
import sys

import numpy as np
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import caffi.ca as ca
from caffi.constants import ECA

# records of the reference IOC, with what write(i) puts to make an update (cacalc counts alone)
RECORDS = {'catest': lambda i: i % 7 * 0.5, 'calong': lambda i: i % 5, 'cabo': lambda i: i % 2,
           'cawave': lambda i: np.arange(20.0) + i, 'castr': lambda i: 'fuzz %d' % i,
           'cawaveh': lambda i: np.arange(150, dtype=np.int16) + i % 100,
           'cawavef': lambda i: np.linspace(0, i, 150, dtype=np.float32),
           'cawaves': lambda i: ['a', str(i)], 'cacalc': None}

junk = st.sampled_from([None, 'x', b'1', 1.5, float('nan'), [], {}, object(), 2 ** 64,
                        -2 ** 63 - 1, 10 ** 30, True])


def argument_parser(default_seed):
    """The command line of both children (a child may add to it)."""
    parser = argparse.ArgumentParser()
    parser.add_argument('max_examples', type=int)
    parser.add_argument('--seed', type=int, default=default_seed)
    parser.add_argument('--trace')
    return parser


def hypothesis_run(args):
    """The decorator that makes fuzz(data) the run: args.max_examples examples from args.seed,
    without deadline, example database or health checks."""
    def decorate(fuzz):
        return seed(args.seed)(settings(
            max_examples=args.max_examples, deadline=None, database=None,
            suppress_health_check=list(HealthCheck), print_blob=False)(given(data=st.data())(fuzz)))
    return decorate


def start_run():
    """Stacks on a crash, unraisable exceptions kept, a preemptive context; returns the list
    the unraisable exceptions go to (see FuzzerBase.fail_unraisable)."""
    faulthandler.enable()
    reported = []
    sys.unraisablehook = lambda u: reported.append(repr(u.exc_value))
    assert ca.create_context(True) == ECA.NORMAL
    return reported


class FuzzerBase:
    """The counters, failures and trace file of a fuzz run, and one channel per record."""

    def __init__(self, trace):
        self.trace = trace
        self.examples = self.operations = self.made = 0
        self.failures = []
        self.held = []                      # batches kept across examples
        self.writes = 0
        self.notified = 0
        self.chids = {}                     # one connected chid per record, for the whole run
        self.native = {}

    def note(self, text):
        if self.trace:
            with open(self.trace, 'w') as f:
                f.write(text)

    def fail(self, text):
        self.failures.append(text)

    def fail_unraisable(self, reported):
        """Every unraisable exception is a failure but those the notify callables raise on
        purpose."""
        unexpected = [r for r in reported if 'fuzz notify raises on purpose' not in r]
        self.failures.extend('unraisable: ' + r for r in unexpected)

    def finish(self, summary, chids):
        """Clears chids, destroys the context and prints the summary line test_fuzz.py reads;
        returns the exit status."""
        for chid in chids:
            ca.clear_channel(chid)
        ca.destroy_context()
        print('FUZZ-SUMMARY ' + json.dumps(summary), flush=True)
        return 1 if self.failures else 0

    def create_channels(self, names):
        """A channel to each record, not waited for (see wait_connected)."""
        for name in names:
            status, chid = ca.create_channel(name)
            assert status == ECA.NORMAL, (name, status)
            self.chids[name] = chid

    def wait_connected(self):
        assert ca.pend_io(10.0) == ECA.NORMAL
        self.native = {name: ca.element_count(chid) for name, chid in self.chids.items()}

    def write(self, name):
        make = RECORDS[name]
        if make is not None:
            self.writes += 1
            ca.put(self.chids[name], make(self.writes))
        ca.flush_io()

    @staticmethod
    def notify_raises(batch):
        raise RuntimeError('fuzz notify raises on purpose')
