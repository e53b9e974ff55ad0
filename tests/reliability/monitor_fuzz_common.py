"""What the Monitor and MonitorGroup fuzz children (monitor_fuzz_child.py, group_fuzz_child.py)
share: the records they write to, the junk they pass for arguments and the fuzzer's plumbing.

Imported by those scripts, which run as their own processes from this folder (so this module is
found as their script directory's neighbour); it creates no context of its own.
"""
import numpy as np
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
