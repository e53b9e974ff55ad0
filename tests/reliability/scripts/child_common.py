"""Child-side half of the parent/child protocol used by tests/reliability.

A child script prints protocol lines ``@@ {"tag": ..., ...}`` (JSON) on stdout and reads
one-word commands from stdin.  Everything else it prints is passed through to the parent as
plain output.  The parent side is ``reliability_util.ChildProcess``.  Also the small CA steps
several child scripts take (connect a channel, write and wait for the completion).
"""

import faulthandler
import json
import sys
import threading
import time

import caffi.ca as ca
from caffi.constants import ECA


def report(tag, **data):
    """Send one protocol message to the parent."""
    data['tag'] = tag
    sys.stdout.write('@@ ' + json.dumps(data, default=repr) + '\n')
    sys.stdout.flush()


def wait_command(expected):
    """Block until the parent sends *expected* on stdin (a closed stdin is an error)."""
    line = sys.stdin.readline()
    if not line:
        raise SystemExit('parent closed stdin while the child waited for %r' % expected)
    command = line.strip()
    if command != expected:
        raise SystemExit('expected command %r from the parent, got %r' % (expected, command))


def watchdog(seconds):
    """Dump every thread's stack and exit(1) if the child is still running after *seconds*."""
    faulthandler.enable()
    faulthandler.dump_traceback_later(seconds, exit=True)


def wait_until(predicate, timeout, interval=0.005):
    """Poll *predicate* until true or *timeout*; returns its last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


class Log(object):
    """A thread-safe list of events with waiting."""

    def __init__(self):
        self.items = []
        self.cond = threading.Condition()

    def add(self, item):
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait_until(self, predicate, timeout):
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self.items), timeout)

    def snapshot(self):
        with self.cond:
            return list(self.items)

    def __len__(self):
        with self.cond:
            return len(self.items)


def connect(name, callback=None):
    """A channel to *name*; without a connection callback, connected (ca.pend_io) on return."""
    status, chid = ca.create_channel(name, callback)
    assert status == ECA.NORMAL
    if callback is None:
        assert ca.pend_io(10) == ECA.NORMAL
    return chid


def put_wait(chid, value, pump=None):
    """Write *value* with a completion callback and wait until it reports success.
    pump(predicate) is how a non-preemptive context waits: only pend_event delivers there."""
    done = Log()
    assert ca.put(chid, value, callback=done.add) == ECA.NORMAL
    ca.flush_io()
    if pump is None:
        arrived = done.wait_until(lambda items: items, 10)
    else:
        arrived = pump(lambda: len(done) == 1)
    assert arrived, 'put callback missing'
    assert done.items[0]['status'] == ECA.NORMAL, done.items
