"""Child for test_reentrant_callbacks: callbacks that call back into caffi.ca.

argv[1]: 'preemptive' or 'nonpreemptive'
argv[2]: scenario
  nested     -- get/put/subscribe/clear from inside monitor callbacks
  evdisallow -- pend_event/pend_io/poll/pend/sg_block from inside every kind of callback
  raising    -- every kind of callback raises; tracebacks are printed, deliveries go on
"""

import sys
import threading
import time

from child_common import Log, connect, put_wait, report, watchdog

import caffi.ca as ca
from caffi.constants import ECA
from caffi.dbr import DBR

MODE, SCENARIO = sys.argv[1], sys.argv[2]
PREEMPTIVE = MODE == 'preemptive'
watchdog(100)

assert ca.create_context(PREEMPTIVE) == ECA.NORMAL


def pump(predicate, timeout=10.0):
    """Wait for *predicate*; a non-preemptive context needs pend_event to deliver anything."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        if PREEMPTIVE:
            time.sleep(0.005)
        else:
            ca.pend_event(0.02)
    return True


def name_of(status):
    return getattr(status, 'name', str(status))


# ---------------------------------------------------------------------------------------------

def nested():
    N = 20
    trigger = connect('catest')
    target = connect('calong')
    text = connect('castr')
    put_wait(trigger, 0.0, pump)
    put_wait(target, 0, pump)
    inner_gets, inner_same, inner_puts, side_updates = Log(), Log(), Log(), Log()
    statuses = []
    plain_values = []
    side = {}

    def on_trigger(args):
        value = args['value']
        if args['status'] != ECA.NORMAL or not value:
            return
        n = round(value * 4)
        s = [name_of(ca.get(target, callback=inner_gets.add)[0]),
             name_of(ca.get(trigger, DBR.TIME_DOUBLE, callback=inner_same.add)[0])]
        status, dbrvalue = ca.get(target, DBR.LONG)           # no callback: data after pend_io
        s.append(name_of(status))
        plain_values.append(dbrvalue)
        s.append(name_of(ca.put(text, 'from callback %d' % n)))
        s.append(name_of(ca.put(target, n, callback=inner_puts.add)))
        s.append(name_of(ca.state(target)))
        if n == 1:
            status, side['evid'] = ca.create_subscription(text, side_updates.add)
            s.append(name_of(status))
        if n == N:
            s.append(name_of(ca.clear_subscription(side['evid'])))
            side['cleared_updates'] = len(side_updates)
        s.append(name_of(ca.flush_io()))
        statuses.append((n, s))

    status, evid = ca.create_subscription(trigger, on_trigger, chtype=DBR.DOUBLE)
    assert status == ECA.NORMAL
    ca.flush_io()
    for n in range(1, N + 1):
        put_wait(trigger, n / 4.0, pump)       # catest stays below its HIGH limit (no alarms)
        # wait for this round's nested put before the next trigger, so the order is known
        assert pump(lambda: len(inner_puts) >= n), 'nested put callback %d missing' % n
    assert pump(lambda: len(inner_gets) >= N and len(inner_same) >= N)
    assert ca.pend_io(10) == ECA.NORMAL       # the plain gets issued inside the callbacks
    time.sleep(0.3)
    if not PREEMPTIVE:
        ca.pend_event(0.3)
    final_long = Log()
    ca.get(target, callback=final_long.add)
    final_text = Log()
    ca.get(text, callback=final_text.add)
    ca.flush_io()
    assert pump(lambda: len(final_long) and len(final_text))
    assert ca.clear_subscription(evid) == ECA.NORMAL
    report('nested', rounds=N, statuses=statuses,
           inner_gets=[(name_of(a['status']), a['value']) for a in inner_gets.items],
           inner_same=[(name_of(a['status']), a['value']['value']) for a in inner_same.items],
           inner_puts=[name_of(a['status']) for a in inner_puts.items],
           plain_gets=[v.get() for v in plain_values],
           side_updates=[(name_of(a['status']), a['value']) for a in side_updates.items],
           side_cleared_at=side.get('cleared_updates'),
           final_long=final_long.items[0]['value'], final_text=final_text.items[0]['value'])


# ---------------------------------------------------------------------------------------------

def evdisallow():
    status, gid = ca.sg_create()
    assert status == ECA.NORMAL
    results = {}
    lock = threading.Lock()

    def probe(kind):
        outcome = {
            'pend_event': name_of(ca.pend_event(0.01)),
            'pend_io': name_of(ca.pend_io(0.01)),
            'poll': name_of(ca.poll()),
            'pend_early': name_of(ca.pend(0.01, True)),
            'pend_late': name_of(ca.pend(0.01, False)),
            'sg_block': name_of(ca.sg_block(gid, 0.01)),
        }
        with lock:
            results.setdefault(kind, outcome)

    chid = None

    def on_connection(args):
        probe('connection')

    def on_rights(args):
        probe('access_rights')

    status, chid = ca.create_channel('catest', on_connection)
    assert status == ECA.NORMAL
    ca.flush_io()
    assert pump(lambda: 'connection' in results)
    assert ca.replace_access_rights_event(chid, on_rights) == ECA.NORMAL
    assert pump(lambda: 'access_rights' in results)
    ca.get(chid, callback=lambda args: probe('get'))
    ca.put(chid, 1.25, callback=lambda args: probe('put'))
    status, evid = ca.create_subscription(chid, lambda args: probe('subscription'))
    assert status == ECA.NORMAL
    ca.flush_io()
    assert pump(lambda: {'get', 'put', 'subscription'} <= set(results))
    # the exception handler: the server rejects an unknown state name
    assert ca.add_exception_event(lambda args: probe('exception')) == ECA.NORMAL
    bo = connect('cabo')
    assert ca.put(bo, 'NoSuchState') == ECA.NORMAL
    ca.flush_io()
    got_exception = pump(lambda: 'exception' in results)
    # outside callbacks the same calls work again
    outside = {'pend_event': name_of(ca.pend_event(0.01)), 'poll': name_of(ca.poll()),
               'pend_io': name_of(ca.pend_io(1.0)), 'sg_block': name_of(ca.sg_block(gid, 1.0))}
    assert ca.clear_subscription(evid) == ECA.NORMAL
    report('evdisallow', results=results, outside=outside, got_exception=bool(got_exception))


# ---------------------------------------------------------------------------------------------

def raising():
    N = 10
    counts = {'connection': 0, 'subscription': 0, 'get': 0, 'put': 0, 'rights': 0}
    lock = threading.Lock()

    def bump(kind):
        with lock:
            counts[kind] += 1
            return counts[kind]

    def raising_connection(args):
        raise RuntimeError('boom-connection-%d' % bump('connection'))

    def raising_rights(args):
        raise RuntimeError('boom-rights-%d' % bump('rights'))

    def raising_update(args):
        raise ValueError('boom-update-%d' % bump('subscription'))

    def raising_get(args):
        raise KeyError('boom-get-%d' % bump('get'))

    def raising_put(args):
        raise ZeroDivisionError('boom-put-%d' % bump('put'))

    status, chid = ca.create_channel('catest', raising_connection)
    assert status == ECA.NORMAL
    ca.flush_io()
    assert pump(lambda: counts['connection'] >= 1)
    assert ca.replace_access_rights_event(chid, raising_rights) == ECA.NORMAL
    status, evid = ca.create_subscription(chid, raising_update)
    assert status == ECA.NORMAL
    ca.flush_io()
    assert pump(lambda: counts['subscription'] >= 1)
    other_channel = connect('calong')
    for i in range(N):
        assert ca.get(chid, callback=raising_get)[0] == ECA.NORMAL
        assert ca.put(chid, float(i % 5), callback=raising_put) == ECA.NORMAL
        ca.put(other_channel, i % 5)
        ca.flush_io()
        assert pump(lambda: counts['put'] > i), 'put callback %d not delivered' % i
    delivered = pump(lambda: counts['get'] >= N and counts['put'] >= N
                     and counts['subscription'] >= N, 10)
    # after all that the context is healthy
    ok = Log()
    ca.get(chid, callback=ok.add)
    ca.flush_io()
    assert pump(lambda: len(ok) == 1)
    if not PREEMPTIVE:
        assert ca.pend_event(0.05) == ECA.TIMEOUT     # raising callbacks inside: no exception
    assert ca.clear_subscription(evid) == ECA.NORMAL
    assert ca.clear_channel(chid) == ECA.NORMAL
    report('raising', rounds=N, counts=counts, delivered=bool(delivered),
           after_status=name_of(ok.items[0]['status']))


{'nested': nested, 'evdisallow': evdisallow, 'raising': raising}[SCENARIO]()
ca.destroy_context()
report('done')
