"""Resident memory stays flat under repeated work (no leak per update, read or channel).

Each case runs memory_child.py in a child interpreter against the session IOC: the child
does the work, reads its RSS from /proc/self/statm (after gc.collect() and malloc_trim(0))
once 20 % of the iterations are done (the baseline: warm-up allocations such as free lists,
libca's buffers and numpy's import are behind it) and again at the end, and the RSS must have
grown by less than 1 %:

* ``monitor``: 200,000 subscription deliveries from catest (DOUBLE), the child putting to
  catest itself and counting its callback's calls;
* ``monitor_numpy``: 200,000 deliveries with use_numpy=True from cawave (20 doubles), ten
  subscriptions on the channel driven in lock-step with puts (the server keeps at most one
  pending update per subscription of an array field);
* ``get``: get() without callback + pend_io + DBRValue.get() on catest;
* ``channels``: 10,000 create_channel / connect / clear_channel cycles (batches of 100);
* ``channels_sub``: 10,000 cycles, each channel with a connection handler, an access-rights
  handler, a subscription and a pending get callback when it is cleared.

``pytest -m soak`` runs 5x the counts.
"""

import json
import os
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
MEMORY_CHILD = os.path.join(HERE, 'memory_child.py')

MAX_GROWTH = 0.01

CI_CASES = [('monitor', 200000), ('monitor_numpy', 200000), ('get', 30000),
            ('channels', 10000), ('channels_sub', 10000)]
SOAK_CASES = [('monitor', 1000000), ('monitor_numpy', 1000000), ('get', 200000),
              ('channels', 50000), ('channels_sub', 50000)]


def _tail(text, limit=8000):
    text = text or ''
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    return text if len(text) <= limit else '...\n' + text[-limit:]


def run_memory(mode, iterations, timeout):
    argv = [sys.executable, MEMORY_CHILD, mode, str(iterations)]
    try:
        proc = subprocess.run(argv, cwd=tempfile.gettempdir(), env=os.environ,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, text=True)
    except subprocess.TimeoutExpired as exc:
        pytest.fail('memory child %s hung: killed after %.0f s\n--- stdout ---\n%s\n'
                    '--- stderr ---\n%s' % (mode, timeout, _tail(exc.stdout), _tail(exc.stderr)),
                    pytrace=False)
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith('MEMORY-RESULT '):
            result = json.loads(line[len('MEMORY-RESULT '):])
    if proc.returncode != 0 or result is None:
        pytest.fail('memory child %s exited with %s\n--- stdout ---\n%s\n--- stderr ---\n%s'
                    % (mode, proc.returncode, _tail(proc.stdout), _tail(proc.stderr)),
                    pytrace=False)
    return result


def check(result, iterations):
    samples = ', '.join('%d: %.0f kB' % (done, rss / 1024.0) for done, rss in result['samples'])
    report = ('%s: %d iterations (%s deliveries) in %.1f s; RSS baseline %d kB, final %d kB, '
              'growth %+.3f %% [%s]' % (
                  result['mode'], iterations, result['deliveries'], result['seconds'],
                  result['rss_baseline'] // 1024, result['rss_final'] // 1024,
                  100.0 * result['growth'], samples))
    print(report)
    assert result['deliveries'] >= iterations, report
    assert result.get('bad_deliveries', 0) == 0, report
    assert result['growth'] < MAX_GROWTH, 'RSS grew by %.2f %% (limit %.0f %%): %s' % (
        100.0 * result['growth'], 100.0 * MAX_GROWTH, report)


@pytest.mark.parametrize('mode, iterations', CI_CASES, ids=[m for m, _ in CI_CASES])
def test_rss_flat(ioc, mode, iterations):
    check(run_memory(mode, iterations, timeout=240), iterations)


@pytest.mark.soak
@pytest.mark.timeout(1800)
@pytest.mark.parametrize('mode, iterations', SOAK_CASES, ids=[m for m, _ in SOAK_CASES])
def test_rss_flat_soak(ioc, mode, iterations):
    check(run_memory(mode, iterations, timeout=1500), iterations)
