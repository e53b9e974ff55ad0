"""A MonitorGroup of 10,000 members: connect, subscribe, run, close, without leaks, and what one
member costs in memory. The IOC of this module serves 10,000 passive ao records (each sends its
value once at subscription, and whenever written); the client is a child process whose libca
talks to that IOC only.
"""
import json
import subprocess
import sys
import tempfile

import pytest

from caffi import _ioc

MEMBERS = 10000
PREFIX = 'tenk:'

CHILD = r'''
import json, sys, time
import caffi.ca as ca
from caffi.dbr import DBR
from caffi.monitor import MonitorGroup, UPDATE

prefix, n = sys.argv[1], int(sys.argv[2])

def rss_kb():
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith('VmRSS:'))

ca.create_context(True)
started = time.monotonic()
chids = [ca.create_channel('%s%d' % (prefix, i))[1] for i in range(n)]
assert ca.pend_io(60) == ca.ECA.NORMAL
result = {'connect_seconds': time.monotonic() - started, 'rounds': []}

def one_round(members, put_to, value):
    before = rss_kb()
    group = MonitorGroup(chids[:members], DBR.TIME_DOUBLE, depth=16384)   # > members: every first value fits
    ca.flush_io()
    seen = set()
    deadline = time.monotonic() + 60
    while len(seen) < members and time.monotonic() < deadline:
        if group.wait(1.0):
            batch = group.drain()
            seen.update(batch.index[batch.events == UPDATE].tolist())
    assert ca.put(chids[put_to], value) == ca.ECA.NORMAL   # a new value: a record posts changes
    ca.flush_io()
    assert group.wait(10)
    batch = group.drain()
    written = [float(v) for i, v in zip(batch.index, batch.values) if i == put_to]
    running = rss_kb()
    stats = group.stats()
    group.close()
    del group, batch
    return {'members': members, 'initial_values': len(seen), 'written': written == [value],
            'rss_before_kb': before, 'rss_running_kb': running, 'rss_after_kb': rss_kb(),
            'dropped': stats['dropped']}

for k, members in enumerate((n // 2, n, n // 2, n, n // 2, n)):
    result['rounds'].append(one_round(members, members - 1, 42.5 + k))
for chid in chids:
    ca.clear_channel(chid)
print(json.dumps(result), flush=True)
'''


@pytest.fixture(scope='module')
def passive_ioc():
    db = ''.join('record(ao, "%s%d") {\n}\n' % (PREFIX, i) for i in range(MEMBERS))
    ioc = _ioc.SoftIoc(db_text=db, lock_port=True, start_timeout=120,
                       ready=[_ioc.log_contains('iocRun: All initialization complete')])
    ioc.start()
    yield ioc
    ioc.close()


def test_10000_members_connect_subscribe_run_and_close_without_leaks(passive_ioc):
    # run outside the checkout: `-c` puts the working directory first on sys.path, and the
    # source tree's caffi/ has no compiled modules when caffi is installed from a wheel
    process = subprocess.run([sys.executable, '-c', CHILD, PREFIX, str(MEMBERS)],
                             env=_ioc.child_environ(passive_ioc.client_env),
                             cwd=tempfile.gettempdir(), capture_output=True, text=True,
                             timeout=600)
    assert process.returncode == 0, process.stderr[-3000:]
    result = json.loads(process.stdout.strip().splitlines()[-1])
    rounds = result['rounds']
    for one in rounds:
        assert one['initial_values'] == one['members'], one      # every member's value came
        assert one['written'] and one['dropped'] == 0, one      # and then the value written
    # what a member costs, caffi's records and libca's subscription together (and the group's
    # two ring stores, ~0.5 MB): the first group's growth of the process, before any memory
    # freed by a closed group can be reused
    first = rounds[0]
    per_member = (first['rss_running_kb'] - first['rss_before_kb']) * 1024 / first['members']
    print('10,000-member groups: connect %.2f s; RSS per member of the first group %.0f bytes; '
          'RSS after each round %s kB' % (result['connect_seconds'], per_member,
                                          [r['rss_after_kb'] for r in rounds]))
    assert per_member < 2048, rounds
    # no leak: the last rounds end where the earlier ones did
    assert rounds[-1]['rss_after_kb'] - rounds[1]['rss_after_kb'] < 2048, rounds
