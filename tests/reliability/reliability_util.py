"""Parent-side helpers for tests/reliability: child interpreters and a paused IOC.

Everything that could crash or hang the interpreter runs in a child ``python`` started by
:class:`ChildProcess` (or :func:`run_child`), with the test session's EPICS_CA_* environment,
``cwd`` outside the repository (so an installed caffi is imported, never the source tree), a
faulthandler for native crashes, and a hard timeout.
"""

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'scripts')
CRASH_MARKERS = ('Fatal Python error', 'Segmentation fault', 'Aborted', 'core dumped',
                 'double free', 'corrupted', 'AddressSanitizer')


def child_env(**extra):
    env = dict(os.environ, PYTHONUNBUFFERED='1', PYTHONFAULTHANDLER='1')
    env.pop('PYTHONSTARTUP', None)
    env.update({key: str(value) for key, value in extra.items()})
    return env


def script(name):
    return os.path.join(SCRIPTS, name)


def assert_no_crash_output(stderr):
    for marker in CRASH_MARKERS:
        assert marker not in stderr, 'child stderr shows %r:\n%s' % (marker, stderr[-6000:])


def run_child(name, *args, timeout=120.0, **env):
    """Run scripts/<name> to completion; returns (returncode, protocol messages, stdout, stderr).

    A child still running after *timeout* is killed and reported as a hang (with whatever
    it printed, including a faulthandler dump if its own watchdog fired first).
    """
    argv = [sys.executable, script(name)] + [str(a) for a in args]
    try:
        proc = subprocess.run(argv, cwd=tempfile.gettempdir(), env=child_env(**env),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, text=True)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError('child %s hung (killed after %.0f s)\n--- stdout ---\n%s\n--- stderr ---\n%s'
                             % (name, timeout, _text(exc.stdout)[-4000:], _text(exc.stderr)[-6000:]))
    return proc.returncode, parse_messages(proc.stdout), proc.stdout, proc.stderr


def _text(data):
    if data is None:
        return ''
    if isinstance(data, bytes):
        return data.decode('utf-8', 'replace')
    return data


def parse_messages(stdout):
    messages = {}
    for line in stdout.splitlines():
        if line.startswith('@@ '):
            message = json.loads(line[3:])
            messages.setdefault(message['tag'], []).append(message)
    return messages


class ChildProcess(object):
    """A child script driven step by step: ``expect(tag)`` and ``send(command)``."""

    def __init__(self, name, *args, **env):
        self.name = name
        self._proc = subprocess.Popen(
            [sys.executable, script(name)] + [str(a) for a in args],
            cwd=tempfile.gettempdir(), env=child_env(**env), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self._messages = queue.Queue()
        self.stdout_lines = []
        self.stderr_lines = []
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self):
        for line in self._proc.stdout:
            self.stdout_lines.append(line)
            if line.startswith('@@ '):
                self._messages.put(json.loads(line[3:]))
        self._messages.put(None)

    def _read_stderr(self):
        for line in self._proc.stderr:
            self.stderr_lines.append(line)

    @property
    def stderr(self):
        return ''.join(self.stderr_lines)

    @property
    def stdout(self):
        return ''.join(self.stdout_lines)

    def diagnostics(self):
        return '--- child %s stdout ---\n%s\n--- stderr ---\n%s' % (
            self.name, self.stdout[-4000:], self.stderr[-6000:])

    def expect(self, tag, timeout):
        """The next protocol message, which must carry *tag*."""
        try:
            message = self._messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError('child %s sent no %r within %.0f s\n%s'
                                 % (self.name, tag, timeout, self.diagnostics()))
        if message is None:
            self._proc.wait(5)
            raise AssertionError('child %s exited (status %s) before sending %r\n%s'
                                 % (self.name, self._proc.returncode, tag, self.diagnostics()))
        if message['tag'] != tag:
            raise AssertionError('child %s sent %r, expected %r: %r\n%s'
                                 % (self.name, message['tag'], tag, message, self.diagnostics()))
        return message

    def send(self, command):
        self._proc.stdin.write(command + '\n')
        self._proc.stdin.flush()

    def close_stdin(self):
        try:
            self._proc.stdin.close()
        except OSError:
            pass

    def finish(self, timeout):
        """Wait for exit; returns the exit status (a hang is killed and reported)."""
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError('child %s did not exit within %.0f s\n%s'
                                 % (self.name, timeout, self.diagnostics()))
        for reader in self._readers:
            reader.join(5)
        return self._proc.returncode

    def kill(self):
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            try:
                stream.close()
            except Exception:
                pass


@contextlib.contextmanager
def paused(ioc):
    """SIGSTOP the IOC process for the duration of the block (SIGCONT afterwards if alive).

    While paused the IOC accepts nothing and answers nothing, so requests sent to it stay
    pending for certain.  The block may kill the IOC instead of resuming it.
    """
    pid = ioc.pid
    assert pid is not None and ioc.running
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_stopped(pid)
        yield pid
    finally:
        if ioc.running:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


def wait_stopped(pid, timeout=10.0):
    """Wait until every thread of *pid* is in the stopped state (SIGSTOP is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        states = []
        task_dir = '/proc/%d/task' % pid
        try:
            for task in os.listdir(task_dir):
                with open(os.path.join(task_dir, task, 'stat')) as stat:
                    states.append(stat.read().rsplit(')', 1)[1].split()[0])
        except OSError:
            states = None               # no /proc (not Linux) or a thread just went away
        if states is None and not os.path.isdir('/proc/self/task'):
            time.sleep(0.2)             # best effort elsewhere
            return
        if states and all(state in ('T', 't') for state in states):
            return
        if time.monotonic() > deadline:
            raise AssertionError('IOC %d did not stop: thread states %r' % (pid, states))
        time.sleep(0.005)


def kill_paused_ioc(ioc):
    """Kill a (possibly SIGSTOPped) IOC at once and reap it via the harness."""
    os.kill(ioc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while ioc.running and time.monotonic() < deadline:
        time.sleep(0.01)
    ioc.stop(graceful=False)
    assert not ioc.running
