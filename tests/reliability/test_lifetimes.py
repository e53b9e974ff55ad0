"""Lifetimes (API.md §6.1, §6.4, §11.1, §11.6, §11.7, §12): destroy_context under live
channels, subscriptions and pending requests; interpreter exit while a 1 kHz monitor fires;
DBRValues dropped before their pend_io.  All in child interpreters.
"""

import time

import pytest

from reliability_util import ChildProcess, assert_no_crash_output, paused, run_child


def finish(child, timeout=60):
    status = child.finish(timeout)
    assert_no_crash_output(child.stderr)
    assert status == 0, child.diagnostics()
    assert 'Traceback' not in child.stderr, child.diagnostics()


# ---------------------------------------------------------------------------------------------
# destroy_context

def check_stale(stale):
    assert stale['current_context'], stale
    assert set(stale['clear_channel']) == {'BADCHID'}, stale
    assert set(stale['clear_subscription']) == {'BADCHID'}, stale
    assert stale['get'] == ['BADCHID', True, True], stale
    assert stale['put'] == ['BADCHID', 'BADCHID'], stale
    assert stale['create_subscription'], stale
    assert stale['change_connection_event'] == 'BADCHID', stale
    assert stale['replace_access_rights_event'] == 'BADCHID', stale
    assert stale['state'] == 'CLOSED', stale
    assert stale['field_type'] and stale['element_count'] == 0, stale
    assert stale['name'] == 'catest' and stale['host_name'] == '', stale
    assert stale['access'] == [False, False], stale
    assert stale['hashable'], stale


@pytest.mark.timeout(200)
def test_destroy_context_with_pending_requests(restartable_ioc):
    """The IOC is paused while 15 callback reads, 15 plain reads, 15 group reads, 10 callback
    writes, 5 group writes and 6 reads of the 32 MB waveform are issued: all pending when
    destroy_context is called (the IOC resumes 0.5 s into the call)."""
    with ChildProcess('destroy_context.py', 'paused') as child:
        child.expect('ready', 60)
        with paused(restartable_ioc):
            child.send('paused')
            destroying = child.expect('destroying', 60)
            time.sleep(0.5)
        destroyed = child.expect('destroyed', 60)
        child.send('resumed')
        after = child.expect('after', 60)
        child.expect('done', 30)
        finish(child)
    assert destroyed['quiet'] and destroying['callbacks'] > 0, (destroying, destroyed)
    check_stale(destroyed['stale'])
    assert destroyed['destroy_seconds'] < 20, destroyed
    assert after['callbacks_after_destroy'] == 0, after
    assert after['new_context_ok'], after


@pytest.mark.timeout(200)
def test_destroy_context_while_updates_flow(ioc):
    """25 rounds: 16 subscriptions under a 1 kHz writer, bursts of reads/writes, destroy_context."""
    status, messages, stdout, stderr = run_child('destroy_context.py', 'churn', timeout=170)
    assert_no_crash_output(stderr)
    assert status == 0, 'child exited with %s\n%s\n%s' % (status, stdout[-3000:], stderr[-6000:])
    assert 'Traceback' not in stderr, stderr[-6000:]
    churn = messages['churn'][0]
    assert len(churn['rounds']) == 25
    for round_ in churn['rounds']:
        assert round_['stale_ok'], round_
        assert round_['after'] == 0, churn['rounds']
        assert round_['callbacks'] > 30, churn['rounds']
    assert churn['writes'] > 500, churn


# ---------------------------------------------------------------------------------------------
# interpreter exit while a monitor fires

@pytest.mark.timeout(200)
@pytest.mark.parametrize('variant', ['return', 'sys_exit', 'nondaemon', 'external', 'slow_finalize'])
def test_exit_while_1khz_monitor_fires(ioc, variant):
    """5 child interpreters per variant, each exiting while ~1 kHz writes feed four monitors
    (three on catest, one numpy one on cawave); see scripts/exit_while_monitoring.py."""
    writer = None
    if variant in ('external', 'slow_finalize'):
        writer = ChildProcess('exit_while_monitoring.py', 'writer')
        writer.expect('writing', 60)
    try:
        for attempt in range(5):
            status, messages, stdout, stderr = run_child('exit_while_monitoring.py', variant, timeout=60)
            assert_no_crash_output(stderr)
            assert status == 0, 'attempt %d: exit status %s\n%s\n%s' % (
                attempt, status, stdout[-3000:], stderr[-6000:])
            assert 'Traceback' not in stderr, stderr[-6000:]
            flowing = messages['flowing'][0]
            # three subscriptions on a record written at up to 1 kHz (fewer on a loaded
            # machine): updates were flowing when the child exited
            assert flowing['updates'] >= 600 and flowing['rate'] > 150, flowing
    finally:
        if writer is not None:
            writer.close_stdin()
            writer.finish(30)
            writer.__exit__()


# ---------------------------------------------------------------------------------------------
# DBRValue dropped before its pend_io

def test_dropped_dbrvalue_before_pend_io(ioc):
    """40 reads whose DBRValue is dropped at once, then pend_io / clear_channel /
    destroy_context; the freed-size chunks are reclaimed by sentinel bytearrays."""
    status, messages, stdout, stderr = run_child('dropped_dbrvalue.py', 'live', timeout=100)
    assert_no_crash_output(stderr)
    assert status == 0, 'child exited with %s\n%s\n%s' % (status, stdout[-3000:], stderr[-6000:])
    live = messages['live'][0]
    assert live['pend_io'] == 'NORMAL' and live['value_ok'], live
    assert live['damaged_after_pend_io'] == [], live
    assert live['damaged_after_clear_channel'] == [], live
    assert live['pend_io_after_clear'] in ('NORMAL', 'TIMEOUT') and live['value_ok_after_clear'], live
    assert live['damaged_after_destroy_context'] == [], live
    assert live['value_ok_new_context'], live


@pytest.mark.timeout(200)
def test_dropped_dbrvalue_reply_after_pend_io_timeout(restartable_ioc):
    """The IOC is paused: 40 reads with dropped DBRValues, pend_io(0.5) times out, the chunks
    are reclaimed, the IOC resumes and its replies arrive.  libca's getCopy still copies a late
    reply into the buffer (pend_io only bumps its sequence number), so the buffer must still be
    alive then (§6.4: "as long as libca may write into it")."""
    with ChildProcess('dropped_dbrvalue.py', 'late') as child:
        child.expect('ready', 60)
        with paused(restartable_ioc):
            child.send('paused')
            dropped = child.expect('dropped', 30)
        assert dropped['pend_io'] == 'TIMEOUT', dropped
        child.send('resumed')
        late = child.expect('late', 60)
        assert late['damaged_after_late_replies'] == [], (
            '%d sentinel bytearrays were overwritten by late read replies: %r'
            % (len(late['damaged_after_late_replies']), late['damaged_after_late_replies'][:4]))
        assert late['pend_io_after'] == 'NORMAL' and late['value_ok'], late
        child.expect('done', 30)
        finish(child)
