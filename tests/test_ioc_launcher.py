"""The IOC launcher caffi._ioc itself, against real soft IOCs of its own (not the session IOC).

Each test starts its IOC on another free port; Channel Access to it goes through `python -m
caffi get` in a child process given the IOC's client environment (this process's environment
points at the session IOC).
"""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile

import pytest

from caffi import _ioc
from caffi._embedded_ioc import EmbeddedIoc

DB = 'record(ao, "launch:x") {field(VAL, "1.5")}\n'

# a child that tries to take the lock file of a port: exit status 0 if it got it, 1 if not
LOCK_PROBE = r'''
import fcntl, os, sys, tempfile
fd = os.open(os.path.join(tempfile.gettempdir(), sys.argv[1]), os.O_RDWR | os.O_CREAT, 0o666)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    sys.exit(1)
'''


def caget(ioc, *args):
    """`caffi get` against *ioc* in a child process; its stdout."""
    proc = subprocess.run([sys.executable, '-m', 'caffi', 'get', *args, '--timeout', '10'],
                          env=dict(os.environ, **ioc.client_env), cwd=tempfile.gettempdir(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def other_process_can_lock(port):
    return subprocess.run([sys.executable, '-c', LOCK_PROBE, _ioc.LOCK_FILE % port],
                          timeout=30).returncode == 0


def sockets_of(pid):
    """(protocol, local address, local port, state) of every inet socket the process holds."""
    inodes = set()
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            target = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[len('socket:['):-1])
    found = []
    for proto in ('tcp', 'udp', 'tcp6', 'udp6'):
        try:
            with open('/proc/%d/net/%s' % (pid, proto)) as table:
                rows = table.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[9] in inodes:
                address, port = fields[1].rsplit(':', 1)
                found.append((proto, address, int(port, 16), fields[3]))
    return found


def environ_of(pid):
    with open('/proc/%d/environ' % pid, 'rb') as f:
        items = f.read().decode('utf-8', 'replace').split('\0')
    return dict(item.split('=', 1) for item in items if '=' in item)


@pytest.fixture
def launch():
    """``launch(**arguments)``: a new SoftIoc (not started yet), closed after the test."""
    with contextlib.ExitStack() as cleanup:
        def new_ioc(**arguments):
            return cleanup.enter_context(contextlib.closing(_ioc.SoftIoc(**arguments)))
        yield new_ioc


def test_free_port_block_and_its_lock():
    port = _ioc.free_port(lock=True)
    try:
        assert 1024 < port < 65535 and _ioc.port_block_free(port)
        assert os.path.exists(os.path.join(tempfile.gettempdir(), _ioc.LOCK_FILE % port))
        assert not other_process_can_lock(port)
        assert not _ioc.lock_port(port)               # held already: not handed out twice
        second = _ioc.free_port(lock=True)
        assert second != port
        _ioc.release_port(second)
    finally:
        _ioc.release_port(port)
    assert other_process_can_lock(port)


def test_environments_are_loopback_only():
    client = _ioc.client_environment(5100, 1234)
    assert client == {'EPICS_CA_AUTO_ADDR_LIST': 'NO', 'EPICS_CA_ADDR_LIST': '127.0.0.1',
                      'EPICS_CA_SERVER_PORT': '5100', 'EPICS_CA_REPEATER_PORT': '5101',
                      'EPICS_CA_MAX_ARRAY_BYTES': '1234'}
    server = _ioc.server_environment(5100, 1234)
    assert server == dict(client, EPICS_CAS_INTF_ADDR_LIST='127.0.0.1',
                          EPICS_CAS_BEACON_ADDR_LIST='127.0.0.1',
                          EPICS_CAS_AUTO_BEACON_ADDR_LIST='NO', EPICS_CAS_SERVER_PORT='5100')
    env = _ioc.child_environ(server, base={'EPICS_CA_NAME_SERVERS': '192.0.2.1',
                                           'EPICS_CAS_BEACON_PORT': '5065', 'HOME': '/h'})
    assert env == dict(server, HOME='/h')


def test_the_ioc_gets_the_loopback_environment_and_serves_on_127_0_0_1_only(
        launch, monkeypatch):
    monkeypatch.setenv('EPICS_CA_NAME_SERVERS', '192.0.2.1:5064')
    monkeypatch.setenv('EPICS_CAS_BEACON_PORT', '5065')
    ioc = launch(db_text=DB, lock_port=True, max_array_bytes=2000000)
    ioc.start()
    port = ioc.port
    assert port != int(os.environ['EPICS_CA_SERVER_PORT'])        # not the session IOC's
    epics = {k: v for k, v in environ_of(ioc.pid).items() if k.startswith('EPICS_')}
    assert epics == _ioc.server_environment(port, 2000000)
    sockets = sockets_of(ioc.pid)
    listening = [s for s in sockets if s[0].startswith('tcp') and s[3] == '0A']
    assert listening == [('tcp', '0100007F', port, '0A')]        # CA on 127.0.0.1:P, no pvAccess
    assert [s for s in sockets if s[0] == 'udp' and s[2] == port]
    assert all(s[1] == '0100007F' for s in sockets if s[2] in (port, port + 1))
    assert not [s for s in sockets if s[2] in (5064, 5065, 5075, 5076)]
    assert caget(ioc, 'launch:x') == 'launch:x 1.5\n'
    assert not other_process_can_lock(port)


def test_restart_keeps_the_port_and_stop_frees_it(launch):
    ioc = launch(db_text=DB, lock_port=True)
    ioc.start()
    port, first_pid = ioc.port, ioc.pid
    assert caget(ioc, 'launch:x') == 'launch:x 1.5\n'
    ioc.restart()
    assert ioc.running and ioc.port == port and ioc.pid != first_pid
    assert ioc.returncode is None
    assert caget(ioc, 'launch:x') == 'launch:x 1.5\n'
    assert 'iocRun: All initialization complete' in ioc.log_text()   # of this start only
    assert ioc.log_text().count('==== soft IOC start') == 0
    assert ioc.log_text(since_start=False).count('==== soft IOC start') == 2

    ioc.stop()                              # graceful: stdin closed, the IOC shell ends
    assert not ioc.running and ioc.returncode == 0
    assert _ioc.port_block_free(port)
    ioc.start()
    assert ioc.port == port
    ioc.stop(graceful=False)                # terminated
    assert ioc.returncode == -signal.SIGTERM
    assert _ioc.port_block_free(port)

    work_dir = ioc.work_dir
    assert not other_process_can_lock(port)     # the lock outlives stop(): the port is kept
    ioc.close()
    assert not os.path.exists(work_dir)
    assert other_process_can_lock(port)


def test_readiness_checks(launch):
    seen = []

    def check(ioc):
        seen.append(ioc.accepts())
        return len(seen) >= 3

    ioc = launch(db_text=DB, ready=[
        _ioc.log_contains('iocRun: All initialization complete'), check])
    ioc.start()
    assert seen == [True, True, True]          # the checks run once the TCP port accepts

    with pytest.raises(_ioc.IocError, match=r'(?s)soft IOC: not never true within 0 s.*'
                                            r'---- soft IOC log .*iocRun'):
        ioc.wait_until(lambda: False, 0.3, 'never true')
    assert ioc.running                          # a failed wait leaves the IOC alone ...

    def gives_up(ioc):
        raise _ioc.IocError('given up')

    refused = launch(db_text=DB, ready=gives_up)
    with pytest.raises(_ioc.IocError, match='^given up$'):
        refused.start()
    assert not refused.running and refused.returncode is not None   # ... start() stops it


def test_an_ioc_that_exits_is_reported_with_its_log(launch):
    ioc = launch(db_text='record(no_such_type, "launch:y") {}\n')
    with pytest.raises(_ioc.IocError) as raised:
        ioc.start()
    message = str(raised.value)
    assert 'soft IOC exited (status 1) while waiting until listening on TCP' in message
    assert "Record type 'no_such_type'" in message


def test_prefix_pins_the_ioc(launch):
    prefix = _ioc.taskset_prefix('0')
    if not prefix:
        pytest.skip('no taskset or a single CPU')
    ioc = launch(db_text=DB, prefix=prefix, new_session=True)
    ioc.start()
    assert ioc.command()[:3] == ['taskset', '-c', '0']
    with open('/proc/%d/status' % ioc.pid) as status:
        fields = dict(line.split(':', 1) for line in status if ':' in line)
    assert fields['Cpus_allowed_list'].strip() == '0'            # taskset exec()ed the IOC
    assert os.getsid(ioc.pid) == ioc.pid != os.getsid(0)
    assert caget(ioc, 'launch:x') == 'launch:x 1.5\n'


def test_embedded_ioc_hides_unsafe_variables_and_restores_them(monkeypatch):
    monkeypatch.setenv('EPICS_CA_NAME_SERVERS', '192.0.2.1:5064')
    with EmbeddedIoc(DB) as embedded:
        assert 'EPICS_CA_NAME_SERVERS' not in os.environ
        assert os.environ['EPICS_CA_SERVER_PORT'] == str(embedded.port)
        assert not other_process_can_lock(embedded.port)
        port = embedded.port
    assert os.environ['EPICS_CA_NAME_SERVERS'] == '192.0.2.1:5064'
    assert other_process_can_lock(port)
