"""MonitorGroup at scale: 1000 counter records of an IOC of this module's own, processed at
10 Hz, watched by a client in a child process (tests/group_child.py) whose libca talks to that
IOC only. Each record's value goes up by one per processing, so the child can check that every
update of every member arrived exactly once and in order.

``pytest -m soak``: a group of 5000 members over an IOC of 5000 such records (50,000 updates/s),
whose RSS must stay flat over 1,000,000 updates after a warm-up, with no gap and no drop.
"""
import json
import os
import subprocess
import sys
import time

import pytest

from caffi import _ioc

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
CHILD = os.path.join(TESTS_DIR, 'group_child.py')
PREFIX = 'grp:'
MEMBERS = 1000
CHILD_TIMEOUT = 240
SOAK_PREFIX = 'soak:'
SOAK_MEMBERS = 5000
SOAK_UPDATES = 1000000
SOAK_SECONDS = 120                  # at most, warm-up included: 1.2M updates take about 24 s


def counter_records(prefix, n, scan='.1 second'):
    return ''.join('record(calc, "%s%d") {\n    field(SCAN, "%s")\n    field(CALC, "VAL+1")\n}\n'
                   % (prefix, i, scan) for i in range(n))


@pytest.fixture(scope='module')
def counters_ioc():
    ioc = _ioc.SoftIoc(db_text=counter_records(PREFIX, MEMBERS), lock_port=True,
                       ready=[_ioc.log_contains('iocRun: All initialization complete')])
    ioc.start()
    yield ioc
    ioc.close()


@pytest.fixture
def soak_counters_ioc():
    """5000 counter records: only for the soak test, so that the default run does not pay for
    it (function scope: stopped as soon as that test ends)."""
    ioc = _ioc.SoftIoc(db_text=counter_records(SOAK_PREFIX, SOAK_MEMBERS), lock_port=True,
                       ready=[_ioc.log_contains('iocRun: All initialization complete')])
    ioc.start()
    yield ioc
    ioc.close()


def child(ioc, mode, seconds, prefix=PREFIX, members=MEMBERS, extra=(), **popen):
    env = _ioc.child_environ(ioc.client_env)
    argv = [sys.executable, CHILD, mode, prefix, str(members), str(seconds)] + list(extra)
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=TESTS_DIR, **popen)


def result_of(process, stdin_text=None, timeout=CHILD_TIMEOUT):
    out, err = process.communicate(stdin_text, timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_every_update_of_1000_members_arrives_once_in_order(counters_ioc):
    result = result_of(child(counters_ioc, 'stream', 6))
    # 6 s at 10 Hz: about 60 updates a member (the first is the value at subscription)
    assert result['min_rows'] >= 30, result
    assert result['gaps'] == 0 and result['backwards'] == 0, result
    assert result['dropped'] == 0 and result['events'] == 0, result
    assert result['rows'] == result['updates'] and result['member_updates_match'], result


def test_ioc_restart_shows_every_member_down_then_up_and_updates_resume(counters_ioc):
    process = child(counters_ioc, 'restart', 0, stdin=subprocess.PIPE)
    try:
        assert process.stdout.readline().strip() == 'ready'
        counters_ioc.stop(graceful=False)
        time.sleep(1.0)
        counters_ioc.start()
        time.sleep(15.0)                    # reconnection (searches) and 1-2 s of updates
        result = result_of(process, 'done\n')
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert result['members_down'] == MEMBERS and result['members_up'] == MEMBERS, result
    assert result['down_before_up'], result
    assert result['resumed'] == MEMBERS, result            # at least 2 updates after the restart
    # the rows of each member are gapless both before the kill and after the reconnection
    assert result['gaps'] == 0 and result['backwards'] == 0 and result['dropped'] == 0, result


def test_repeated_create_and_close_of_1000_member_groups_keeps_rss_flat(counters_ioc):
    result = result_of(child(counters_ioc, 'churn', 30))
    after_warmup, at_end = result['rss_kb']
    assert at_end - after_warmup < 4096, result        # < 4 MB over 20 more groups of 1000


@pytest.mark.soak
@pytest.mark.timeout(600)
def test_rss_stays_flat_over_1m_updates_of_5000_members(soak_counters_ioc):
    process = child(soak_counters_ioc, 'soak', SOAK_SECONDS, prefix=SOAK_PREFIX,
                    members=SOAK_MEMBERS, extra=[str(SOAK_UPDATES)])
    result = result_of(process, timeout=SOAK_SECONDS + 180)
    print('soak:', json.dumps(result))
    assert result['measured_updates'] >= SOAK_UPDATES, result        # not cut short by time
    assert result['gaps'] == 0 and result['backwards'] == 0, result
    assert result['dropped'] == 0 and result['failures'] == 0 and result['events'] == 0, result
    assert result['rows'] == result['updates'] and result['member_updates_match'], result
    rss = result['rss_kb']
    assert rss['end'] - rss['warm'] < 2048, result      # < 2 MB over 1M updates after warm-up


def test_readme_group_daq_example_sees_every_update_of_1000_counters(counters_ioc):
    """examples/monitor_group_daq.py, the README's loop (gather=50 ms), run as a user would."""
    example = os.path.join(os.path.dirname(TESTS_DIR), 'examples', 'monitor_group_daq.py')
    result = subprocess.run([sys.executable, example, '--prefix', PREFIX, '--count', str(MEMBERS),
                             '--seconds', '3', '--counters'],
                            env=_ioc.child_environ(counters_ioc.client_env), cwd=TESTS_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=CHILD_TIMEOUT)
    assert result.returncode == 0, result.stdout
    assert 'counters: 0 updates missed, every update of every PV arrived' in result.stdout
    assert '; 0 dropped by the ring' in result.stdout
    updates = int(result.stdout.split(' updates in ')[0].rsplit(' ', 1)[1])
    assert 20 * MEMBERS <= updates <= 40 * MEMBERS, result.stdout      # 10 Hz for 3 s
