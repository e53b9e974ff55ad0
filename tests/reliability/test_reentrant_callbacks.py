"""Callbacks that call back into caffi.ca (API.md §11.3, §11.5, §6.7, §6.8), in preemptive and
non-preemptive contexts.  Each scenario runs in a child interpreter (scripts/reentrant.py).
"""

import re

import pytest

from reliability_util import assert_no_crash_output, run_child

MODES = ['preemptive', 'nonpreemptive']


def run(mode, scenario):
    status, messages, stdout, stderr = run_child('reentrant.py', mode, scenario, timeout=120)
    assert_no_crash_output(stderr)
    assert status == 0, 'child exited with %s\n%s\n%s' % (status, stdout[-3000:], stderr[-6000:])
    assert 'done' in messages, stdout
    return messages[scenario][0], stderr


@pytest.mark.parametrize('mode', MODES)
def test_get_put_subscribe_inside_monitor_callback(ioc, mode):
    result, stderr = run(mode, 'nested')
    assert 'Traceback' not in stderr, stderr
    n = result['rounds']
    # every nested call was accepted
    assert [round_ for round_, _ in result['statuses']] == list(range(1, n + 1)), result['statuses']
    for round_, statuses in result['statuses']:
        assert set(statuses) == {'NORMAL', 'CONN'}, (round_, statuses)
    # and every nested callback came back with data
    assert len(result['inner_gets']) == n and len(result['inner_same']) == n, result
    assert all(status == 'NORMAL' and value is not None for status, value in result['inner_gets'])
    assert [status for status, _ in result['inner_same']] == ['NORMAL'] * n
    # the read of the monitored channel inside its own callback sees that round's value or later
    assert all(value >= 0.25 for _, value in result['inner_same']), result['inner_same']
    assert result['inner_puts'] == ['NORMAL'] * n
    # plain gets issued inside callbacks were filled by the main thread's pend_io
    assert len(result['plain_gets']) == n and all(isinstance(v, int) for v in result['plain_gets'])
    assert result['plain_gets'][-1] >= n - 1, result['plain_gets']
    assert result['final_long'] == n
    assert result['final_text'] == 'from callback %d' % n
    # the subscription created inside round 1 saw the text changes and stopped at its clear
    side = result['side_updates']
    assert side and all(status == 'NORMAL' for status, _ in side), side
    assert len(side) == result['side_cleared_at'], (len(side), result['side_cleared_at'])
    texts = [value for _, value in side]
    assert set(texts[1:]) <= {'from callback %d' % i for i in range(1, n)}, texts
    assert len(texts) >= n // 2, texts       # the initial value and most of the changes


@pytest.mark.parametrize('mode', MODES)
def test_pend_family_inside_callbacks_returns_evdisallow(ioc, mode):
    result, stderr = run(mode, 'evdisallow')
    assert 'Traceback' not in stderr, stderr
    kinds = {'connection', 'access_rights', 'get', 'put', 'subscription', 'exception'}
    assert result['got_exception'], 'the exception handler was never called: %r' % (result,)
    assert set(result['results']) == kinds, result['results']
    for kind, outcome in result['results'].items():
        assert outcome == {key: 'EVDISALLOW' for key in outcome}, (kind, outcome)
        assert len(outcome) == 6
    assert result['outside'] == {'pend_event': 'TIMEOUT', 'poll': 'TIMEOUT', 'pend_io': 'NORMAL',
                                 'sg_block': 'NORMAL'}, result['outside']


@pytest.mark.parametrize('mode', MODES)
def test_raising_callbacks_are_reported_and_deliveries_continue(ioc, mode):
    result, stderr = run(mode, 'raising')
    n = result['rounds']
    assert result['delivered'], result
    counts = result['counts']
    assert counts['get'] == n and counts['put'] == n, counts
    assert counts['subscription'] >= n, counts
    assert counts['connection'] >= 1 and counts['rights'] >= 1, counts
    assert result['after_status'] == 'NORMAL'
    # each raise was printed with its traceback
    for kind, exc_type, number in [('connection', 'RuntimeError', 1), ('rights', 'RuntimeError', 1),
                                   ('update', 'ValueError', n), ('get', 'KeyError', n),
                                   ('put', 'ZeroDivisionError', n)]:
        for i in range(1, number + 1):
            assert re.search(r"%s: '?boom-%s-%d'?\n" % (exc_type, kind, i), stderr), (
                kind, i, stderr[-4000:])
    assert stderr.count('Traceback (most recent call last)') >= 3 * n + 2, stderr[-4000:]
    assert 'raising_update' in stderr and 'raising_get' in stderr and 'raising_put' in stderr
