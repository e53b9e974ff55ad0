"""One preemptive context, eight attached threads, mixed operations while monitors fire
(API.md §6.1 attach_context, §10, §11.1, §11.3, §11.6).

Each worker thread does a seeded random mix of: get with callback, get without callback +
pend_io, put, put with callback, create+clear subscription (half of them after the initial
update), create+clear channel (half of them after connecting and one read), and channel
information calls; a publisher thread keeps catest/calong changing and seven long-lived
monitors receive every change.  The child (scripts/thread_stress.py) runs under a
faulthandler watchdog and a subprocess timeout, so a deadlock ends as a failure with every
thread's stack.

Every get/put callback is tracked by id: each must be delivered exactly once (none missing,
no duplicates, none after a failed issue), with status NORMAL; no subscription or connection
callback may run after clear_subscription / clear_channel returned.

The default run does 1,000 operations per thread; ``pytest -m soak`` runs 10,000.
"""

import pytest

from reliability_util import assert_no_crash_output, run_child

THREADS = 8


def run_stress(ops, seed, switch_interval, watchdog):
    status, messages, stdout, stderr = run_child(
        'thread_stress.py', ops, THREADS, seed, watchdog, switch_interval, timeout=watchdog + 60)
    assert_no_crash_output(stderr)
    assert status == 0, 'child exited with %s\n%s\n%s' % (status, stdout[-3000:], stderr[-6000:])
    assert 'Traceback' not in stderr, stderr[-6000:]
    result = messages['result'][0]
    assert result['errors'] == [], '\n'.join(result['errors'])
    assert result['ops'] == ops * THREADS, result

    # one-shot callbacks: issued == delivered, exactly once, all successful
    assert result['all_delivered'] and result['outstanding'] == 0, result
    assert result['issued'] == result['delivered'], result
    assert result['duplicates'] == 0 and result['unexpected'] == 0, result
    assert result['bad'] == {}, result['bad_examples']
    stats = result['stats']
    assert not [k for k in stats if k.startswith(('get_refused', 'put_refused'))], stats
    assert stats.get('pend_io_NORMAL', 0) == stats.get('get_pend', 0), stats
    assert stats.get('transient_get_missing', 0) == 0, stats
    assert stats.get('chan_connect_missing', 0) == 0, stats
    assert stats.get('sub_first_update_missing', 0) == 0, stats
    assert stats.get('sub_bad', 0) == 0, stats
    # nothing delivered after clear_subscription / clear_channel returned
    assert result['late'] == 0, result
    # the monitors did fire all along, with good data
    assert result['monitor_bad'] == {}, result
    assert result['monitor_updates'].get('catest', 0) >= 50, result['monitor_updates']
    print('%d threads x %d ops in %.1f s: callbacks issued %r, delivered %r; monitor updates %d; '
          'subscription cycles %d (updates %d); channel cycles %d (connected %d)'
          % (THREADS, ops, result['seconds'], result['issued'], result['delivered'],
             sum(result['monitor_updates'].values()), stats.get('sub_cycle', 0),
             stats.get('sub_updates', 0), stats.get('chan_cycle', 0), stats.get('chan_connected', 0)))
    return result


@pytest.mark.timeout(240)
@pytest.mark.parametrize('switch_interval', [0, 0.0005], ids=['default-switch', 'switch-0.5ms'])
def test_eight_threads_one_context(ioc, switch_interval):
    run_stress(1000, 1, switch_interval, watchdog=150)


@pytest.mark.soak
@pytest.mark.timeout(1500)
@pytest.mark.parametrize('switch_interval', [0, 0.0005], ids=['default-switch', 'switch-0.5ms'])
def test_eight_threads_one_context_soak(ioc, switch_interval):
    run_stress(10000, 2, switch_interval, watchdog=1200)
