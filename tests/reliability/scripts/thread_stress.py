"""Child for test_thread_stress: one preemptive context shared by N attached threads doing
mixed operations while monitors fire.

argv: ops_per_thread threads seed watchdog_seconds switch_interval_seconds (0: Python's default)

Every get/put with callback issued on a channel that stays open is tracked by id; at the end
the child waits until each was delivered and reports issued / delivered / duplicate counts.
"""

import collections
import itertools
import random
import sys
import threading
import time
import traceback

from child_common import report, watchdog

import caffi.ca as ca
from caffi.constants import CA_OP, ECA, ChannelState
from caffi.dbr import DBF, DBR

OPS = int(sys.argv[1])
THREADS = int(sys.argv[2])
SEED = int(sys.argv[3])
watchdog(float(sys.argv[4]))
if float(sys.argv[5]) > 0:
    sys.setswitchinterval(float(sys.argv[5]))

SHARED = ['catest', 'calong', 'castr', 'cabo', 'cawave', 'cacalc', 'cawavel']
TRANSIENT = ['catest', 'calong', 'castr', 'cabo', 'cawave', 'cacalc', 'cawavel', 'cawavec',
             'cawaveuc', 'cawaves', 'cawavef', 'cawaveh']
VALUES = {
    'catest': lambda r: round(r.uniform(-9, 9), 3),
    'calong': lambda r: r.randint(-5, 5),
    'castr': lambda r: 'v%d' % r.randint(0, 99999),
    'cabo': lambda r: r.randint(0, 1),
    'cawave': lambda r: [r.uniform(-1, 1) for _ in range(r.randint(1, 20))],
    'cawavel': lambda r: [r.randint(-1000, 1000) for _ in range(r.randint(1, 150))],
}
OPERATIONS = [              # (name, weight)
    ('get_cb', 20), ('get_pend', 5), ('put', 15), ('put_cb', 20),
    ('sub_cycle', 15), ('chan_cycle', 10), ('info', 5),
]
# get without callback + pend_io: only by workers 0 and 1.  pend_io waits on the whole
# context, and when several threads of one context wait in it libca wakes one of them and the
# others only notice ~100 ms later, so eight threads doing it would spend the run waiting.
PEND_IO_WORKERS = 2
OUTSTANDING_BOUND = 32          # callbacks not yet delivered, all threads together



class Tracker(object):
    """Issued and delivered one-shot callbacks, by id."""

    def __init__(self):
        self.cond = threading.Condition()
        self.ids = itertools.count()
        self.outstanding = {}
        self.withdrawn = set()
        self.delivered_ids = set()
        self.issued = collections.Counter()
        self.delivered = collections.Counter()
        self.bad = collections.Counter()
        self.bad_examples = []
        self.duplicates = 0
        self.unexpected = 0

    def register(self, kind, check):
        with self.cond:
            rid = next(self.ids)
            self.outstanding[rid] = kind
            self.issued[kind] += 1

        def callback(args):
            ok = check(args)
            with self.cond:
                if rid in self.delivered_ids:
                    self.duplicates += 1
                    return
                self.delivered_ids.add(rid)
                if rid in self.withdrawn:
                    self.unexpected += 1
                    return
                self.outstanding.pop(rid, None)
                self.delivered[kind] += 1
                if not ok:
                    self.bad[kind] += 1
                    if len(self.bad_examples) < 5:
                        self.bad_examples.append((kind, repr(args)[:300]))
                self.cond.notify_all()
        return rid, callback

    def withdraw(self, rid, kind):
        """The libca call failed: no callback may come."""
        with self.cond:
            self.outstanding.pop(rid, None)
            self.withdrawn.add(rid)
            self.issued[kind] -= 1

    def wait_room(self, timeout=60):
        with self.cond:
            return self.cond.wait_for(lambda: len(self.outstanding) < OUTSTANDING_BOUND, timeout)

    def wait_all(self, timeout):
        with self.cond:
            return self.cond.wait_for(lambda: not self.outstanding, timeout)

    def wait_one(self, rid, timeout):
        with self.cond:
            return self.cond.wait_for(lambda: rid in self.delivered_ids, timeout)


tracker = Tracker()
stats_lock = threading.Lock()
stats = collections.Counter()
errors = []
late_states = []        # per subscription/channel cycle: callbacks seen after the clear returned


def count(key, n=1):
    with stats_lock:
        stats[key] += n


def good_read(args):
    return args['status'] == ECA.NORMAL and args['value'] is not None and list(args) == [
        'chid', 'type', 'count', 'status', 'value']


def good_write(args):
    return args['status'] == ECA.NORMAL and list(args) == ['chid', 'type', 'count', 'status']


# ---------------------------------------------------------------------------------------------

assert ca.create_context(True) == ECA.NORMAL
context = ca.current_context()
chids = {}
for name in SHARED:
    status, chids[name] = ca.create_channel(name)
    assert status == ECA.NORMAL
assert ca.pend_io(10) == ECA.NORMAL, 'shared channels did not connect'

monitor_updates = collections.Counter()
monitor_bad = collections.Counter()
monitors = []


def make_monitor(name):
    def on_update(args):
        with stats_lock:
            monitor_updates[name] += 1
            if args['status'] != ECA.NORMAL or args['value'] is None:
                monitor_bad[name] += 1
    return on_update


for name in SHARED:
    status, evid = ca.create_subscription(chids[name], make_monitor(name))
    assert status == ECA.NORMAL
    monitors.append(evid)
ca.flush_io()

stop_publisher = threading.Event()


def publisher():
    """Keeps catest and calong changing at ~20 Hz each, so monitors fire all along (the
    workers' own writes fire them too)."""
    try:
        assert ca.attach_context(context) == ECA.NORMAL
        rng = random.Random(SEED - 1)
        n = 0
        while not stop_publisher.is_set():
            assert ca.put(chids['catest'], round(rng.uniform(-9, 9), 2)) == ECA.NORMAL
            assert ca.put(chids['calong'], n % 5) == ECA.NORMAL
            ca.flush_io()
            n += 1
            time.sleep(0.05)
        count('publisher_puts', 2 * n)
        ca.detach_context()
    except BaseException:
        errors.append('publisher: ' + traceback.format_exc())


def worker(index, barrier):
    rng = random.Random(SEED * 1000 + index)
    names, weights = zip(*OPERATIONS)
    if index >= PEND_IO_WORKERS:
        weights = [0 if name == 'get_pend' else w for name, w in OPERATIONS]
    local = collections.Counter()
    try:
        status = ca.attach_context(context)
        assert status == ECA.NORMAL, status
        assert ca.current_context() == context
        barrier.wait(30)
        for _ in range(OPS):
            op = rng.choices(names, weights)[0]
            local[op] += 1
            if not tracker.wait_room():
                raise AssertionError('callbacks stopped coming: %d outstanding' % len(tracker.outstanding))
            began = time.monotonic()
            globals()['op_' + op](rng, local)
            local['ms_' + op] += int(1000 * (time.monotonic() - began))
        ca.detach_context()
        assert ca.current_context() is None
    except BaseException:
        errors.append('worker %d: %s' % (index, traceback.format_exc()))
    finally:
        with stats_lock:
            stats.update(local)


def request_type(rng, chid):
    native = ca.field_type(chid)
    return rng.choice([None, DBR.STRING, native.toTIME(), native.toCTRL()])


def op_get_cb(rng, local):
    name = rng.choice(SHARED)
    chtype = request_type(rng, chids[name])
    rid, callback = tracker.register('get', good_read)
    status, none = ca.get(chids[name], chtype, callback=callback, use_numpy=rng.random() < 0.3)
    if status != ECA.NORMAL:
        tracker.withdraw(rid, 'get')
        local['get_refused_' + status.name] += 1
    if rng.random() < 0.2:
        ca.flush_io()


def op_get_pend(rng, local):
    name = rng.choice(SHARED)
    status, value = ca.get(chids[name], request_type(rng, chids[name]))
    assert status == ECA.NORMAL, status
    pend = ca.pend_io(10.0)
    local['pend_io_' + pend.name] += 1
    assert value.get() is not None


def op_put(rng, local):
    name = rng.choice(sorted(VALUES))
    status = ca.put(chids[name], VALUES[name](rng))
    assert status == ECA.NORMAL, status


def op_put_cb(rng, local):
    name = rng.choice(sorted(VALUES))
    rid, callback = tracker.register('put', good_write)
    status = ca.put(chids[name], VALUES[name](rng), callback=callback)
    if status != ECA.NORMAL:
        tracker.withdraw(rid, 'put')
        local['put_refused_' + status.name] += 1
    if rng.random() < 0.2:
        ca.flush_io()


def op_sub_cycle(rng, local):
    name = rng.choice(SHARED)
    state = {'cleared': False, 'updates': 0, 'late': 0, 'bad': 0}
    first = threading.Event()

    def on_update(args):
        if state['cleared']:
            state['late'] += 1
        state['updates'] += 1
        if args['status'] != ECA.NORMAL or args['value'] is None:
            state['bad'] += 1
        first.set()

    status, evid = ca.create_subscription(chids[name], on_update, chtype=request_type(rng, chids[name]),
                                          use_numpy=rng.random() < 0.3)
    assert status == ECA.NORMAL, status
    if rng.random() < 0.5:
        ca.flush_io()
        if first.wait(10):
            local['sub_first_update'] += 1
        else:
            local['sub_first_update_missing'] += 1
    status = ca.clear_subscription(evid)
    assert status == ECA.NORMAL, status
    state['cleared'] = True
    assert ca.clear_subscription(evid) == ECA.BADCHID
    local['sub_updates'] += state['updates']
    local['sub_bad'] += state['bad']
    late_states.append(state)      # checked at the end: a late delivery bumps state['late']


def op_chan_cycle(rng, local):
    name = rng.choice(TRANSIENT)
    state = {'cleared': False, 'late': 0}
    up = threading.Event()

    def on_connection(args):
        if state['cleared']:
            state['late'] += 1
        if args['op'] == CA_OP.CONN_UP:
            up.set()

    status, chid = ca.create_channel(name, on_connection)
    assert status == ECA.NORMAL, status
    if rng.random() < 0.5:
        ca.flush_io()
        if not up.wait(10):
            local['chan_connect_missing'] += 1
        else:
            local['chan_connected'] += 1
            rid, callback = tracker.register('transient_get', good_read)
            status, none = ca.get(chid, callback=callback)
            assert status == ECA.NORMAL, status
            ca.flush_io()
            if not tracker.wait_one(rid, 10):
                local['transient_get_missing'] += 1
    assert ca.clear_channel(chid) == ECA.NORMAL
    state['cleared'] = True
    assert ca.clear_channel(chid) == ECA.BADCHID
    assert ca.state(chid) == ChannelState.CLOSED
    assert ca.get(chid) == (ECA.BADCHID, None)
    late_states.append(state)


def op_info(rng, local):
    chid = chids[rng.choice(SHARED)]
    assert ca.state(chid) == ChannelState.CONN
    assert isinstance(ca.field_type(chid), DBF)
    assert ca.element_count(chid) >= 1
    assert ca.host_name(chid)
    assert ca.read_access(chid) is True


# ---------------------------------------------------------------------------------------------

started = time.monotonic()
barrier = threading.Barrier(THREADS)
threads = [threading.Thread(target=worker, args=(i, barrier), name='worker-%d' % i)
           for i in range(THREADS)]
pub = threading.Thread(target=publisher, name='publisher')
pub.start()
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
stop_publisher.set()
pub.join()
workers_done = time.monotonic() - started

ca.flush_io()
all_delivered = tracker.wait_all(60)
time.sleep(0.5)         # late or duplicate deliveries would show up now

late = sum(state['late'] for state in late_states)
for evid in monitors:
    assert ca.clear_subscription(evid) == ECA.NORMAL
for chid in chids.values():
    assert ca.clear_channel(chid) == ECA.NORMAL
ca.destroy_context()

with tracker.cond:
    report('result',
           seconds=round(time.monotonic() - started, 2), workers_seconds=round(workers_done, 2),
           ops=sum(stats[name] for name, _ in OPERATIONS),
           stats={k: v for k, v in stats.items()},
           issued=dict(tracker.issued), delivered=dict(tracker.delivered),
           outstanding=len(tracker.outstanding), all_delivered=bool(all_delivered),
           duplicates=tracker.duplicates, unexpected=tracker.unexpected,
           bad=dict(tracker.bad), bad_examples=tracker.bad_examples,
           late=late, monitor_updates=dict(monitor_updates), monitor_bad=dict(monitor_bad),
           errors=errors)
