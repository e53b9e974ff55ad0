"""IOC killed and restarted on the same port under live channels, subscriptions and pending
get/put callbacks (API.md §6.4, §6.5, §6.6, §10.1, §10.3, §10.4, §12).

The client runs in a child interpreter (scripts/restart_client.py); this process only owns the
IOC.  Two ways of having requests pending at the kill:

* ``paused``: the IOC is SIGSTOPped, the requests are issued and flushed, and the child checks
  that for one second nothing came back; then the IOC is SIGKILLed.  Every request is
  therefore certainly pending at the kill.
* ``burst``: 20 reads of the 32 MB waveform interleaved with small reads and writes are issued
  and the running IOC is killed at once (``stop(graceful=False)``).  How many are still pending
  then depends on timing; the test only requires every callback to be delivered exactly once,
  with a consistent status.
"""

import pytest

from caffi.constants import ECA

from reliability_util import ChildProcess, assert_no_crash_output, kill_paused_ioc, paused

GET_KEYS = ['chid', 'type', 'count', 'status', 'value']
PUT_KEYS = ['chid', 'type', 'count', 'status']
# What a freshly started reference IOC holds (the restart resets every record).
FRESH = {'catest': 0.0, 'calong': 0, 'castr': '', 'cabo': 0}


def check_pending_outcome(down, all_pending):
    """Every get/put callback was delivered exactly once; failures carry no value."""
    assert down['all_answered'], 'some get/put callbacks were never delivered: %r' % (down,)
    failed_gets = failed_puts = 0
    for get in down['gets']:
        assert get['deliveries'] == 1, get
        assert get['keys'] == [GET_KEYS], get
        assert get['chid_ok'] == [True], get
        if get['status'] == [ECA.NORMAL]:
            assert not all_pending, 'a read completed although the IOC was paused: %r' % (get,)
            assert get['value_is_none'] == [False], get
        else:
            failed_gets += 1
            assert get['value_is_none'] == [True], get
    for put in down['puts']:
        assert put['deliveries'] == 1, put
        assert put['keys'] == [PUT_KEYS], put
        if put['status'] == [ECA.NORMAL]:
            assert not all_pending, 'a write completed although the IOC was paused: %r' % (put,)
        else:
            failed_puts += 1
    return failed_gets, failed_puts


def check_conn_down_up(conn):
    """Each channel: CONN_UP (initial), CONN_DOWN after the kill, CONN_UP after the restart."""
    for name, events in conn.items():
        ops = [op for _, op in events]
        assert ops == ['CONN_UP', 'CONN_DOWN', 'CONN_UP'], (name, events)
        assert events[1][0] == 'killed' or events[1][0] in ('paused', 'burst'), (name, events)
        assert events[2][0] == 'after', (name, events)


def run_scenario(ioc, mode):
    with ChildProcess('restart_client.py', mode) as child:
        child.expect('ready', 60)
        if mode == 'paused':
            with paused(ioc):
                child.send('paused')
                issued = child.expect('issued', 30)
                assert issued['delivered_before_kill'] == 0, issued
                kill_paused_ioc(ioc)
        else:
            issued = child.expect('issued', 30)
            ioc.stop(graceful=False)
        child.send('killed')
        down = child.expect('down', 90)
        assert down['all_down'], 'not every channel saw CONN_DOWN: %r' % (down['conn'],)
        failed = check_pending_outcome(down, mode == 'paused')
        for updates in down['sub_updates_while_down']:
            for status, value_is_none in updates:        # libca may report the loss ...
                assert status == ECA.NORMAL or value_is_none, down['sub_updates_while_down']

        ioc.start()
        child.send('started')
        resumed = child.expect('resumed', 150)
        assert resumed['all_up'], 'not every channel reconnected: %r' % (resumed['conn'],)
        check_conn_down_up(resumed['conn'])
        assert resumed['resumed'], 'some subscriptions got no update after the reconnection: %r' % (
            resumed['comparison'],)
        for entry in resumed['comparison']:
            assert entry['after_updates'] >= 1, entry
            assert entry['get_status'] == ECA.NORMAL and entry['get_delivered'], entry
            assert entry['update_status'] == ECA.NORMAL == entry['current_status'], entry
            if entry['record'] != 'cacalc':     # cacalc counts on its own
                assert entry['update_value'] == entry['current_value'], entry
            if entry['record'] in FRESH and entry['chtype'] in (None, 14, 19, 20, 31, 34):
                assert entry['update_value'] == FRESH[entry['record']], entry

        live = child.expect('live', 30)
        assert live['put_ok'] and set(live['put_status']) == {ECA.NORMAL}, live
        assert all(entry['arrived'] for entry in live['live']), live
        child.expect('done', 30)
        status = child.finish(30)
        assert_no_crash_output(child.stderr)
        assert status == 0, child.diagnostics()
        return issued, failed, down


@pytest.mark.timeout(400)
def test_kill_with_requests_certainly_pending(restartable_ioc):
    issued, (failed_gets, failed_puts), down = run_scenario(restartable_ioc, 'paused')
    # All 27 reads and 10 writes were pending at the kill: all fail.
    assert (failed_gets, failed_puts) == (issued['gets'], issued['puts'])
    statuses = {name for get in down['gets'] for name in get['status_name']}
    statuses |= {name for put in down['puts'] for name in put['status_name']}
    assert statuses == {'DISCONN'}, statuses


@pytest.mark.timeout(400)
def test_kill_during_a_burst_of_big_reads(restartable_ioc):
    issued, (failed_gets, failed_puts), down = run_scenario(restartable_ioc, 'burst')
    print('burst: %d reads, %d writes issued; %d reads and %d writes failed at the kill'
          % (issued['gets'], issued['puts'], failed_gets, failed_puts))
