"""Child for test_lifetimes: destroy_context with live channels, subscriptions and pending
requests (API.md §6.1, §11.6, §12 "chids after destroy_context ... treated as cleared").

argv[1] = 'paused': the parent pauses the IOC before the requests are issued, so they are all
          pending when destroy_context is called; it resumes the IOC 0.5 s into that call.
argv[1] = 'churn': 25 rounds of: context, channels, subscriptions under a 1 kHz writer in
          another context, a burst of reads/writes with and without callback, destroy_context
          at once.
"""

import sys
import threading
import time

from child_common import report, wait_command, wait_until, watchdog

import caffi.ca as ca
from caffi.constants import DBE, ECA, ChannelState
from caffi.dbr import DBF, DBR

MODE = sys.argv[1]
watchdog(150)

NAMES = ['catest', 'calong', 'castr', 'cawave', 'cawavehuge']


class Counter(object):
    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def __call__(self, args):
        with self.lock:
            self.n += 1


def build(callbacks):
    """A preemptive context with channels (with connection handlers) and subscriptions."""
    assert ca.create_context(True) == ECA.NORMAL
    assert ca.add_exception_event(callbacks) == ECA.NORMAL
    chids = {}
    for name in NAMES:
        status, chids[name] = ca.create_channel(name, callbacks)
        assert status == ECA.NORMAL
    ca.flush_io()
    assert wait_until(lambda: all(ca.state(c) == ChannelState.CONN for c in chids.values()), 15)
    assert ca.replace_access_rights_event(chids['catest'], callbacks) == ECA.NORMAL
    evids = []
    for name in ['catest', 'calong', 'castr', 'cawave']:
        for chtype in (None, DBR.TIME_STRING, DBR.CTRL_DOUBLE):
            status, evid = ca.create_subscription(chids[name], callbacks, chtype=chtype,
                                                  mask=DBE.VALUE | DBE.ALARM | DBE.PROPERTY)
            assert status == ECA.NORMAL
            evids.append(evid)
    status, gid = ca.sg_create()
    assert status == ECA.NORMAL
    ca.flush_io()
    return chids, evids, gid


def issue(chids, gid, callbacks, big=True):
    values = []
    for i in range(5):
        for name in ['catest', 'calong', 'castr']:
            assert ca.get(chids[name], DBR.CTRL_DOUBLE if name != 'castr' else DBR.TIME_STRING,
                          callback=callbacks)[0] == ECA.NORMAL
            status, value = ca.get(chids[name])
            assert status == ECA.NORMAL
            values.append(value)
            status, value = ca.sg_get(gid, chids[name])
            assert status == ECA.NORMAL
            values.append(value)
        assert ca.put(chids['catest'], 1.0 + i, callback=callbacks) == ECA.NORMAL
        assert ca.put(chids['castr'], 'destroy %d' % i, callback=callbacks) == ECA.NORMAL
        assert ca.put(chids['calong'], i) == ECA.NORMAL
        assert ca.sg_put(gid, chids['cawave'], [1.0, 2.0]) == ECA.NORMAL
    if big:
        for _ in range(3):
            assert ca.get(chids['cawavehuge'], callback=callbacks, use_numpy=True)[0] == ECA.NORMAL
            status, value = ca.get(chids['cawavehuge'], use_numpy=True)
            assert status == ECA.NORMAL
            values.append(value)
    ca.flush_io()
    return values


def stale_results(chids, evids, gid, values):
    """What every handle of the destroyed context answers now."""
    chid = chids['catest']
    out = {
        'current_context': ca.current_context() is None,
        'clear_channel': [ca.clear_channel(c).name for c in chids.values()],
        'clear_subscription': [ca.clear_subscription(e).name for e in evids],
        'get': [ca.get(chid)[0].name, ca.get(chid)[1] is None,
                ca.get(chid, callback=lambda a: None) == (ECA.BADCHID, None)],
        'put': [ca.put(chid, 1.0).name, ca.put(chid, 1.0, callback=lambda a: None).name],
        'create_subscription': ca.create_subscription(chid, lambda a: None) == (ECA.BADCHID, None),
        'change_connection_event': ca.change_connection_event(chid, lambda a: None).name,
        'replace_access_rights_event': ca.replace_access_rights_event(chid, lambda a: None).name,
        'state': ca.state(chid).name,
        'field_type': ca.field_type(chid) is DBF.INVALID,
        'element_count': ca.element_count(chid),
        'name': ca.name(chid),
        'host_name': ca.host_name(chid),
        'access': [ca.read_access(chid), ca.write_access(chid)],
        'values': [v.get() is not None or True for v in values],   # formatting a never-filled buffer
    }
    # the stale handles still hash and compare
    table = {c: n for n, c in chids.items()}
    out['hashable'] = all(table[c] == n for n, c in chids.items())
    return out


def paused_mode():
    callbacks = Counter()
    chids, evids, gid = build(callbacks)
    time.sleep(0.3)
    report('ready')
    wait_command('paused')
    values = issue(chids, gid, callbacks)
    time.sleep(0.5)
    before = callbacks.n
    time.sleep(0.3)
    quiet = callbacks.n == before       # the IOC is paused: nothing arrives
    # libca's ca_context_destroy waits for a clean TCP shutdown, which a paused server never
    # answers (it gives up after 30 s); the parent resumes the IOC 0.5 s into the call.
    report('destroying', callbacks=callbacks.n)
    began = time.monotonic()
    ca.destroy_context()
    destroy_seconds = time.monotonic() - began
    at_destroy = callbacks.n
    stale = stale_results(chids, evids, gid, values)
    report('destroyed', quiet=quiet, destroy_seconds=destroy_seconds, stale=stale)
    wait_command('resumed')
    time.sleep(1.0)
    after = callbacks.n - at_destroy
    # a fresh context works
    ca.create_context(True)
    status, chid = ca.create_channel('catest')
    ok = status == ECA.NORMAL and ca.pend_io(10) == ECA.NORMAL
    status, value = ca.get(chid)
    ok = ok and status == ECA.NORMAL and ca.pend_io(10) == ECA.NORMAL and isinstance(value.get(), float)
    ca.destroy_context()
    report('after', callbacks_after_destroy=after, new_context_ok=ok)


def churn_mode():
    stop = threading.Event()
    writes = [0]

    def writer():
        ca.create_context(True)
        status, chid = ca.create_channel('catest')
        assert ca.pend_io(10) == ECA.NORMAL
        status, wave = ca.create_channel('cawave')
        assert ca.pend_io(10) == ECA.NORMAL
        n = 0
        while not stop.is_set():
            ca.put(chid, (n % 9) + 0.5)
            if n % 10 == 0:
                ca.put(wave, [float(n % 7)] * 5)
            ca.flush_io()
            n += 1
            time.sleep(0.001)
        writes[0] = n
        ca.destroy_context()

    thread = threading.Thread(target=writer)
    thread.start()
    rounds = []
    try:
        for round_ in range(25):
            callbacks = Counter()
            chids, evids, gid = build(callbacks)
            wait_until(lambda: callbacks.n > 30, 2)
            values = issue(chids, gid, callbacks, big=round_ % 5 == 0)
            time.sleep(0.002 * (round_ % 5))
            ca.destroy_context()
            at_destroy = callbacks.n
            stale = stale_results(chids, evids, gid, values)
            time.sleep(0.05)
            rounds.append({'callbacks': at_destroy, 'after': callbacks.n - at_destroy,
                           'stale_ok': stale['state'] == 'CLOSED'
                           and set(stale['clear_channel']) == {'BADCHID'}
                           and set(stale['clear_subscription']) == {'BADCHID'}})
    finally:
        stop.set()
        thread.join(30)
    report('churn', rounds=rounds, writes=writes[0])


{'paused': paused_mode, 'churn': churn_mode}[MODE]()
report('done')
