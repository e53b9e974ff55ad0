"""fork() with a live preemptive context, subscriptions and buffered monitors (tests/fork_child.py
in a child interpreter; it forks three times, with os.fork or multiprocessing's fork start
method). In each forked child: calls on inherited chids and evids answer BADCHID at once (never
a hang), attach_context() of the inherited context NOCACTX, inherited Monitors and
MonitorGroups raise RuntimeError, and a context of the child's own connects, reads and
monitors. The forking process's deliveries go on throughout.
"""
import json
import os
import subprocess
import sys

import pytest

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fork_child.py')


@pytest.mark.parametrize('how', ['os.fork', 'multiprocessing'])
def test_fork_leaves_inherited_handles_stale_and_the_parent_delivering(ioc, how):
    process = subprocess.run([sys.executable, CHILD, how], capture_output=True, text=True,
                             timeout=240, env=dict(os.environ))
    assert process.returncode == 0, process.stdout + process.stderr[-3000:]
    lines = process.stdout.strip().splitlines()
    children = [json.loads(line[len('CHILD '):]) for line in lines if line.startswith('CHILD ')]
    assert len(children) == 3, process.stdout
    for found in children:
        assert all(v is True for v in found.values()), found
    result = json.loads(lines[-1])
    assert result['children'] == [0, 0, 0], result
    before, after = result['before'], result['after']
    # callback, Monitor and MonitorGroup of the parent all kept receiving while children ran
    assert all(a > b + 50 for a, b in zip(after, before)), result
