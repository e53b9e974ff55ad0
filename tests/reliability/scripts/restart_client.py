"""Child for test_ioc_restart: live channels, subscriptions and pending callbacks across an
IOC kill and restart.

argv[1] = 'paused': the parent pauses the IOC (SIGSTOP) before the requests are issued, so
    they are certainly pending when it kills the IOC.
argv[1] = 'burst': many big reads and small writes are issued, then the parent kills the
    running IOC at once; whatever had not completed is pending at the kill.

Protocol: ready -> (cmd paused) -> issued -> (cmd killed) -> down -> (cmd started)
          -> resumed -> live -> done.
"""

import sys
import time

from child_common import Log, report, wait_command, wait_until, watchdog

import caffi.ca as ca
from caffi.constants import ECA
from caffi.dbr import DBR

MODE = sys.argv[1]
watchdog(240)

NAMES = ['catest', 'calong', 'castr', 'cabo', 'cawave', 'cacalc', 'cawavehuge']
# (record, chtype, count, use_numpy) of every subscription
SUBSCRIPTIONS = [
    ('catest', None, None, False), ('catest', DBR.TIME_DOUBLE, None, False),
    ('catest', DBR.CTRL_DOUBLE, None, False), ('catest', DBR.STRING, None, False),
    ('calong', None, None, False), ('calong', DBR.TIME_LONG, None, False),
    ('castr', None, None, False), ('castr', DBR.TIME_STRING, None, False),
    ('cabo', None, None, False), ('cabo', DBR.CTRL_ENUM, None, False),
    ('cawave', None, None, False), ('cawave', DBR.TIME_DOUBLE, 0, True),
    ('cacalc', DBR.TIME_DOUBLE, None, False),
]
BEFORE = {'catest': 3.25, 'calong': 4, 'castr': 'before kill', 'cabo': 1, 'cawave': [1.0, 2.0, 3.0]}
AFTER = {'catest': 1.5, 'calong': -3, 'castr': 'after restart', 'cabo': 1, 'cawave': [4.0, 5.0]}

phase = ['connect']
conn_events = {name: Log() for name in NAMES}
exceptions = Log()


def plain(value):
    """A JSON-friendly copy of a callback value."""
    if hasattr(value, 'tolist'):
        return value.tolist()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return repr(value)
    if hasattr(value, 'name') and isinstance(value, int):
        return int(value)
    return value


def main_value(update_value):
    return update_value['value'] if isinstance(update_value, dict) else update_value


ca.create_context(True)
ca.add_exception_event(lambda args: exceptions.add(
    {'stat': args['stat'].name if hasattr(args['stat'], 'name') else args['stat'],
     'op': int(args['op']), 'ctx': args['ctx']}))

chids = {}
for name in NAMES:
    log = conn_events[name]
    status, chids[name] = ca.create_channel(
        name, lambda args, log=log: log.add((phase[0], args['op'].name)))
    assert status == ECA.NORMAL, status
ca.flush_io()
assert wait_until(lambda: all(len(conn_events[n]) >= 1 for n in NAMES), 30), 'channels did not connect'

# put the "before" values and wait for their completion
done = Log()
for name, value in BEFORE.items():
    assert ca.put(chids[name], value, callback=done.add) == ECA.NORMAL
ca.flush_io()
assert done.wait_until(lambda items: len(items) == len(BEFORE), 10)
assert all(d['status'] == ECA.NORMAL for d in done.items), done.items

subs = []
for i, (name, chtype, count, use_numpy) in enumerate(SUBSCRIPTIONS):
    log = Log()
    status, evid = ca.create_subscription(
        chids[name], lambda args, log=log: log.add((phase[0], args)), chtype=chtype,
        count=count, use_numpy=use_numpy)
    assert status == ECA.NORMAL, status
    subs.append((i, name, chtype, count, use_numpy, evid, log))
ca.flush_io()
assert wait_until(lambda: all(len(s[6]) >= 1 for s in subs), 10), 'no initial updates'
assert all(a['status'] == ECA.NORMAL for s in subs for p, a in s[6].snapshot())
report('ready')

# ---------------------------------------------------------------------------------------------
# requests that will be pending when the IOC dies

gets = []           # (id, record, chtype, Log)
puts = []


def issue_get(name, chtype, count=None, use_numpy=False):
    log = Log()
    status, none = ca.get(chids[name], chtype, count, callback=log.add, use_numpy=use_numpy)
    assert status == ECA.NORMAL and none is None, status
    gets.append((len(gets), name, chtype, log))


def issue_put(name, value):
    log = Log()
    assert ca.put(chids[name], value, callback=log.add) == ECA.NORMAL
    puts.append((len(puts), name, log))


if MODE == 'paused':
    wait_command('paused')
    phase[0] = 'paused'
    for _ in range(3):
        issue_get('catest', None)
        issue_get('catest', DBR.TIME_DOUBLE)
        issue_get('catest', DBR.CTRL_DOUBLE)
        issue_get('calong', DBR.TIME_LONG)
        issue_get('castr', DBR.STRING)
        issue_get('cabo', DBR.CTRL_ENUM)
        issue_get('cawave', None)
        issue_get('cawave', DBR.TIME_DOUBLE, 0, True)
        issue_get('cawavehuge', DBR.DOUBLE, None, True)
    for _ in range(2):
        issue_put('catest', 7.5)
        issue_put('calong', 2)
        issue_put('castr', 'never written')
        issue_put('cabo', 0)
        issue_put('cawave', [9.0, 9.0])
    ca.flush_io()
    time.sleep(1.0)     # the IOC is stopped: nothing may come back
    delivered = sum(len(g[3]) for g in gets) + sum(len(p[2]) for p in puts)
    early = [(name, getattr(d['status'], 'name', d['status'])) for _, name, _, log in gets
             for d in log.snapshot()]
    early += [(name, getattr(d['status'], 'name', d['status'])) for _, name, log in puts
              for d in log.snapshot()]
    report('issued', gets=len(gets), puts=len(puts), delivered_before_kill=delivered,
           early=early, conn={n: conn_events[n].snapshot() for n in NAMES},
           exceptions=exceptions.snapshot())
else:
    phase[0] = 'burst'
    for _ in range(20):
        issue_get('cawavehuge', DBR.DOUBLE, None, True)
        issue_put('calong', 2)
        issue_get('catest', DBR.TIME_DOUBLE)
        issue_put('castr', 'burst')
    ca.flush_io()
    delivered = sum(len(g[3]) for g in gets) + sum(len(p[2]) for p in puts)
    report('issued', gets=len(gets), puts=len(puts), delivered_before_kill=delivered)

wait_command('killed')
phase[0] = 'killed'
all_down = wait_until(lambda: all(any(e[1] == 'CONN_DOWN' for e in conn_events[n].snapshot())
                                  for n in NAMES), 30)
all_answered = wait_until(lambda: all(len(g[3]) >= 1 for g in gets)
                          and all(len(p[2]) >= 1 for p in puts), 30)
time.sleep(0.3)     # duplicates would show up here
report('down', all_down=bool(all_down), all_answered=bool(all_answered),
       gets=[{'record': name, 'chtype': None if chtype is None else int(chtype),
              'deliveries': len(log),
              'keys': [list(d) for d in log.snapshot()],
              'status': [int(d['status']) for d in log.snapshot()],
              'status_name': [getattr(d['status'], 'name', str(d['status'])) for d in log.snapshot()],
              'value_is_none': [d['value'] is None for d in log.snapshot()],
              'chid_ok': [d['chid'] == chids[name] for d in log.snapshot()]}
             for i, name, chtype, log in gets],
       puts=[{'record': name, 'deliveries': len(log),
              'keys': [list(d) for d in log.snapshot()],
              'status': [int(d['status']) for d in log.snapshot()],
              'status_name': [getattr(d['status'], 'name', str(d['status'])) for d in log.snapshot()]}
             for i, name, log in puts],
       conn={n: conn_events[n].snapshot() for n in NAMES},
       sub_updates_while_down=[[(int(a['status']), a['value'] is None) for p, a in s[6].snapshot()
                                if p == 'killed'] for s in subs],
       exceptions=exceptions.snapshot())

wait_command('started')
phase[0] = 'after'
all_up = wait_until(lambda: all(conn_events[n].snapshot()[-1][1] == 'CONN_UP' for n in NAMES), 90)
resumed = wait_until(lambda: all(any(p == 'after' for p, a in s[6].snapshot()) for s in subs), 30)
time.sleep(0.2)
# compare the last update of every subscription with the server's current value
comparison = []
for i, name, chtype, count, use_numpy, evid, log in subs:
    after = [a for p, a in log.snapshot() if p == 'after']
    current = Log()
    status, _ = ca.get(chids[name], chtype, count, callback=current.add, use_numpy=use_numpy)
    ca.flush_io()
    got = current.wait_until(lambda items: items, 10)
    entry = {'index': i, 'record': name, 'chtype': None if chtype is None else int(chtype),
             'after_updates': len(after), 'get_status': int(status), 'get_delivered': bool(got)}
    if after and got:
        last = after[-1]
        entry.update(update_status=int(last['status']), current_status=int(current.items[0]['status']),
                     update_value=plain(main_value(last['value'])),
                     current_value=plain(main_value(current.items[0]['value'])))
    comparison.append(entry)
report('resumed', all_up=bool(all_up), resumed=bool(resumed), comparison=comparison,
       conn={n: conn_events[n].snapshot() for n in NAMES})

# the subscriptions are live: new writes arrive
done = Log()
for name, value in AFTER.items():
    assert ca.put(chids[name], value, callback=done.add) == ECA.NORMAL
ca.flush_io()
put_ok = done.wait_until(lambda items: len(items) == len(AFTER), 10)
live = []
for i, name, chtype, count, use_numpy, evid, log in subs:
    if name not in AFTER or chtype == DBR.STRING:
        continue
    want = AFTER[name]

    def arrived(items, want=want, chtype=chtype):
        value = main_value(items[-1][1]['value']) if items else None
        value = plain(value)
        if isinstance(want, list):
            return isinstance(value, list) and value[:len(want)] == want
        return value == want
    live.append({'index': i, 'record': name, 'arrived': bool(log.wait_until(arrived, 10))})
report('live', put_ok=bool(put_ok), put_status=[int(d['status']) for d in done.snapshot()], live=live)

for i, name, chtype, count, use_numpy, evid, log in subs:
    assert ca.clear_subscription(evid) == ECA.NORMAL
for chid in chids.values():
    assert ca.clear_channel(chid) == ECA.NORMAL
ca.destroy_context()
report('done')
