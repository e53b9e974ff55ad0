"""The `caffi` command line (the caffi/cli package), run as `python -m caffi` against the reference IOC.

Each command runs in a subprocess started in the temporary directory, so that the installed
caffi is imported (not the repository's source directory), with this process's environment,
which carries the test IOC's EPICS_CA_* settings. Values written by the CLI are checked, and
restored afterwards, through this process's own module context.
"""

import importlib.metadata
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import pytest

import caffi.ca as ca
from caffi import cli
from caffi.dbr import DBR

from ca_client_util import put_wait, read_back

pytestmark = pytest.mark.usefixtures('context')

TIMESTAMP = r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}'
NOT_FOUND = 'nosuch:pv:caffi-cli-test'


def run_cli(*args, timeout=120, env=None):
    proc = subprocess.run([sys.executable, '-m', 'caffi'] + [str(a) for a in args],
                          cwd=tempfile.gettempdir(), env=os.environ if env is None else env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)
    assert 'Traceback' not in proc.stderr, proc.stderr
    return proc


def ok(*args, **kwargs):
    proc = run_cli(*args, **kwargs)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc.stdout


def fails(code, *args, **kwargs):
    """Run a command that must fail with exit status *code*; returns its stderr."""
    proc = run_cli(*args, **kwargs)
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.strip(), 'no error message'
    return proc.stderr


@pytest.fixture
def restore(chans):
    """Records whose values a test changes, put back afterwards: restore('catest', ...)."""
    saved = {}

    def keep(*names):
        for name in names:
            chid = chans[name]
            value = read_back(chid)
            saved[name] = (chid, value)
    yield keep
    for name, (chid, value) in saved.items():
        if isinstance(value, list) and not value:
            continue
        put_wait(chid, value)


# ---------------------------------------------------------------------------
# get


def test_get_scalars(chans, restore):
    restore('catest', 'calong', 'castr', 'cabo')
    put_wait(chans['catest'], 1.5)
    put_wait(chans['calong'], -3)
    put_wait(chans['castr'], 'some text')
    put_wait(chans['cabo'], 1)
    out = ok('get', 'catest', 'calong', 'castr', 'cabo')
    assert out.splitlines() == ['catest 1.5', 'calong -3', 'castr some text', 'cabo 1']


@pytest.mark.parametrize('name', ['DOUBLE', 'DBR_DOUBLE', 'double', 'dbr_double', '6'])
def test_get_type_names_plain(chans, restore, name):
    restore('catest')
    put_wait(chans['catest'], 2.25)
    assert ok('get', 'catest', '--type', name) == 'catest 2.25\n'


@pytest.mark.parametrize('name', ['time_double', 'TIME_DOUBLE', 'DBR_TIME_DOUBLE', 'Dbr_Time_Double'])
def test_get_type_names_time(chans, restore, name):
    restore('catest')
    put_wait(chans['catest'], 2.25)
    assert re.fullmatch(f'catest {TIMESTAMP} 2.25\n', ok('get', 'catest', '-t', name))


def test_get_string_type_of_double(chans, restore):
    restore('catest')
    put_wait(chans['catest'], 1.5)
    assert ok('get', 'catest', '-t', 'string') == 'catest 1.5000\n'       # PREC 4


def test_get_ctrl_metadata(chans, restore):
    restore('catest', 'cabo')
    put_wait(chans['catest'], 1.5)
    put_wait(chans['cabo'], 1)
    lines = ok('get', 'catest', '-t', 'ctrl_double').splitlines()
    assert lines[0] == 'catest 1.5'
    for expected in ('units: mm', 'precision: 4', 'upper_disp_limit: 20.0',
                     'lower_alarm_limit: -20.0', 'upper_ctrl_limit: 0.0'):
        assert '    ' + expected in lines
    lines = ok('get', 'cabo', '-t', 'CTRL_ENUM').splitlines()
    assert lines[0] == 'cabo Busy (1) State Minor'          # OSV MINOR
    assert '    strs: 0=Done, 1=Busy' in lines


def test_get_record_type():
    assert ok('get', 'catest', 'cabo', '-t', 'class_name') == 'catest ao\ncabo bo\n'


def test_get_array_list_and_numpy(chans, restore):
    restore('cawave')
    put_wait(chans['cawave'], [1.0, 2.0, 3.0] + [0.0] * 17)
    assert ok('get', 'cawave') == 'cawave 20 1.0 2.0 3.0' + ' 0.0' * 17 + '\n'
    out = ok('get', 'cawave', '--numpy')
    assert out.startswith('cawave 20 [1. 2. 3. 0. ') and out.endswith('] (float64)\n'), out


def test_get_huge_array_summarized():
    out = ok('get', 'cawavehuge', '--numpy')
    assert re.fullmatch(r'cawavehuge 4000000 elements: \S+ \S+ \S+ \.\.\. \S+ \S+ \S+ '
                        r'\(min \S+, max \S+\)\n', out), out


def test_get_several_with_one_missing():
    proc = run_cli('get', 'catest', NOT_FOUND, '--timeout', '1')
    assert proc.returncode == 1
    assert proc.stdout.startswith('catest ')
    assert NOT_FOUND in proc.stderr and 'timeout' in proc.stderr


# ---------------------------------------------------------------------------
# put


def test_put_prints_old_and_new(chans, restore):
    restore('catest')
    put_wait(chans['catest'], 1.0)
    assert ok('put', 'catest', '2.5') == 'Old : catest 1.0\nNew : catest 2.5\n'
    assert read_back(chans['catest']) == 2.5


def test_put_wait(chans, restore):
    restore('calong')
    put_wait(chans['calong'], 0)
    assert ok('put', 'calong', '4', '--wait').splitlines()[-1] == 'New : calong 4'
    assert read_back(chans['calong']) == 4


def test_put_hex_integer(chans, restore):
    restore('calong')
    ok('put', 'calong', '0x10')
    assert read_back(chans['calong']) == 16


def test_put_enum_by_name_and_index(chans, restore):
    restore('cabo')
    put_wait(chans['cabo'], 0)
    ok('put', 'cabo', 'Busy', '--wait')
    assert read_back(chans['cabo']) == 1
    ok('put', 'cabo', '0')
    assert read_back(chans['cabo']) == 0


def test_put_string_words(chans, restore):
    restore('castr')
    ok('put', 'castr', 'hello', 'world')
    assert read_back(chans['castr']) == 'hello world'


def test_put_array(chans, restore):
    restore('cawave')
    out = ok('put', 'cawave', '4', '5', '6.5', '--wait')
    assert out.splitlines()[-1] == 'New : cawave 3 4.0 5.0 6.5'
    assert read_back(chans['cawave']) == [4.0, 5.0, 6.5]


def test_put_text_into_char_array(chans, restore):
    restore('cawavec')
    ok('put', 'cawavec', 'abc')
    assert read_back(chans['cawavec'])[:4] == [97, 98, 99, 0]


def test_put_explicit_type(chans, restore):
    restore('catest')
    ok('put', 'catest', '7', '--type', 'DBR_LONG')
    assert read_back(chans['catest']) == 7.0


# ---------------------------------------------------------------------------
# monitor


def test_monitor_scalar_updates():
    out = ok('monitor', 'cacalc', '--updates', '2', timeout=60)
    lines = out.splitlines()
    assert len(lines) == 2
    values = []
    for line in lines:
        match = re.fullmatch(f'cacalc {TIMESTAMP} (\\S+)', line)
        assert match, line
        values.append(float(match.group(1)))
    assert values[1] == values[0] + 1                   # the 1 Hz counter


def test_monitor_array_summary(chans, restore):
    restore('cawave')
    put_wait(chans['cawave'], [float(i) for i in range(1, 21)])
    out = ok('monitor', 'cawave', '-n', '1')
    assert re.fullmatch(f'cawave {TIMESTAMP} 20 elements: 1.0 2.0 3.0 \\.\\.\\. 18.0 19.0 20.0 '
                        r'\(min 1.0, max 20.0\)\n', out), out


def test_monitor_type_and_several_pvs():
    out = ok('monitor', 'catest', 'calong', '-t', 'dbr_string', '--seconds', '1')
    names = sorted(line.split()[0] for line in out.splitlines())
    assert names == ['calong', 'catest']


def test_monitor_stats():
    out = ok('monitor', 'cacalc', '--stats', '--seconds', '2.5', timeout=60)
    final = [line for line in out.splitlines() if line.startswith('# cacalc updates')]
    assert len(final) == 1, out
    match = re.search(r'updates (\d+), bytes (\d+) \(24 per update\), rate ([\d.]+) updates/s',
                      final[0])
    assert match, final[0]
    updates, nbytes = int(match.group(1)), int(match.group(2))
    assert 2 <= updates <= 5 and nbytes == 24 * updates       # DBR_TIME_DOUBLE: 24 bytes
    assert '# statistics (caffi.stats)' in out
    assert re.search(r'^# cacalc +\d+ updates, ', out, re.M), out      # the per-second lines


def test_monitor_quiet_stats():
    out = ok('monitor', 'catest', '-q', '--stats', '--seconds', '1')
    assert all(line.startswith('#') for line in out.splitlines()), out


def test_monitor_one_missing_goes_on():
    proc = run_cli('monitor', 'cacalc', NOT_FOUND, '-n', '1', '-w', '1', timeout=60)
    assert proc.returncode == 1
    assert proc.stdout.startswith('cacalc ')
    assert NOT_FOUND in proc.stderr


def test_monitor_ctrl_c_ends_normally_with_statistics():
    proc = subprocess.Popen([sys.executable, '-m', 'caffi', 'monitor', 'cacalc', '--stats'],
                            cwd=tempfile.gettempdir(), env=os.environ, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        time.sleep(2.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (out, err)
    assert 'Traceback' not in err
    assert re.search(r'^# cacalc updates \d+, bytes \d+', out, re.M), out


# ---------------------------------------------------------------------------
# info


def test_info(chans, restore):
    restore('catest')
    put_wait(chans['catest'], 1.5)
    lines = ok('info', 'catest', 'cabo', 'cawavehuge').splitlines()
    for expected in ('catest', '    native type: DOUBLE (DBF_DOUBLE)', '    element count: 1',
                     '    access: read, write', '    record type: ao', '    value: 1.5',
                     '    units: mm', '    precision: 4', 'cabo', '    record type: bo',
                     '    strs: 0=Done, 1=Busy', 'cawavehuge', '    element count: 4000000'):
        assert expected in lines, (expected, lines)
    hosts = [line for line in lines if line.startswith('    host: ')]
    assert len(hosts) == 3 and all(line.endswith(':%s' % os.environ['EPICS_CA_SERVER_PORT'])
                                   for line in hosts), hosts


# ---------------------------------------------------------------------------
# Errors: one line, non-zero status, no traceback


@pytest.mark.parametrize('command', [['get', NOT_FOUND], ['put', NOT_FOUND, '1'],
                                     ['monitor', NOT_FOUND], ['info', NOT_FOUND]])
def test_unknown_pv(command):
    err = fails(1, *command, '--timeout', '1')
    assert f'{NOT_FOUND}: not connected within 1 s (timeout)' in err


@pytest.mark.parametrize('pv, value, message', [
    ('calong', 'abc', "cannot convert 'abc' to DBF_LONG"),
    ('calong', '2.5', "cannot convert '2.5' to DBF_LONG"),
    ('calong', '99999999999', 'out of range -2147483648..2147483647'),
    ('catest', 'abc', "cannot convert 'abc' to DBF_DOUBLE"),
    ('cabo', 'Maybe', 'not an integer nor a state name (states: Done, Busy)'),
    ('cawavec', '300', "cannot convert '300' to DBF_CHAR: out of range 0..255"),
])
def test_put_unconvertible_value(chans, pv, value, message):
    before = read_back(chans[pv])
    err = fails(2, 'put', pv, value)
    assert message in err
    assert read_back(chans[pv]) == before


def test_put_several_values_to_scalar():
    assert 'a scalar channel takes one value' in fails(2, 'put', 'catest', '1', '2')


def test_put_string_too_long(chans):
    assert 'BADSTR' in fails(2, 'put', 'castr', 'x' * 45)


@pytest.mark.parametrize('wait', [[], ['--wait']])
def test_put_rejected_by_server(chans, wait):
    # RTYP is not modifiable: the server refuses the write (PUTFAIL), with or without callback
    err = fails(1, 'put', 'catest.RTYP', 'bo', *wait)
    assert 'write rejected by the server' in err and 'PUTFAIL' in err
    assert ok('get', 'catest.RTYP') == 'catest.RTYP ao\n'


@pytest.fixture(scope='module')
def read_only_ioc(ioc):
    """A second IOC whose access security grants read access only to 'ro:x' (ASG DEFAULT)."""
    from caffi._embedded_ioc import EmbeddedIoc
    acf = 'ASG(DEFAULT) {RULE(1, READ)}\nASG(RW) {RULE(1, READ) RULE(1, WRITE)}\n'
    db = 'record(ao, "ro:x") {}\nrecord(ao, "ro:rw") {field(ASG, "RW")}\n'
    with EmbeddedIoc(db, acf=acf, set_environ=False) as embedded:
        yield dict(os.environ, **embedded.client_env)


def test_put_write_access_denied(read_only_ioc):
    err = fails(1, 'put', 'ro:x', '1', env=read_only_ioc)
    assert 'ro:x: write access denied' in err
    assert fails(1, 'put', 'ro:x', '1', '--wait', env=read_only_ioc)
    assert '    access: read only' in ok('info', 'ro:x', env=read_only_ioc).splitlines()
    # the same IOC lets the other record be written
    assert ok('put', 'ro:rw', '2', env=read_only_ioc).endswith('New : ro:rw 2.0\n')


@pytest.mark.parametrize('command', [['get', 'catest'], ['put', 'catest', '1'],
                                     ['monitor', 'catest']])
def test_bad_type_name(command):
    err = fails(2, *command, '--type', 'no_such_type')
    assert "unknown DBR type 'no_such_type'" in err


def test_put_unwritable_type():
    assert 'cannot write with request type TIME_DOUBLE' in fails(
        2, 'put', 'catest', '1', '-t', 'time_double')


def test_usage_errors():
    assert 'COMMAND' in fails(2)
    assert 'must be > 0' in fails(2, 'get', 'catest', '--timeout', '-1')


# ---------------------------------------------------------------------------
# demo and packaging


def test_demo():
    out = ok('demo', '--seconds', '2', timeout=180)
    match = re.search(r'^summary: (\d+) updates in ([\d.]+) s: ([\d.]+) updates/s, ([\d.]+) MB/s$',
                      out, re.M)
    assert match, out
    updates, rate, mb_per_s = int(match.group(1)), float(match.group(3)), float(match.group(4))
    assert updates > 0 and rate > 0 and mb_per_s > 0
    assert 'numpy.ndarray of 1,000,000 x float64 (8,000,000 DBR bytes)' in out
    assert ', in order' in out
    assert re.search(r'^ +[\d.]+ s +\d+ updates +[\d.]+ updates/s +[\d.]+ MB/s$', out, re.M)


def test_demo_leaves_no_ioc_and_restores_nothing_globally():
    """The demo runs its own IOC on another port: the test IOC is still served afterwards."""
    ok('demo', '--seconds', '0.5', '--elements', '1000', timeout=120)
    assert ok('get', 'catest', '-t', 'class_name') == 'catest ao\n'


def test_embedded_ioc_environment():
    """EmbeddedIoc exports the client variables while it runs and restores them afterwards."""
    from caffi._embedded_ioc import EmbeddedIoc
    before = dict(os.environ)
    with EmbeddedIoc('record(ao, "emb:x") {}') as embedded:
        assert embedded.running
        assert os.environ['EPICS_CA_SERVER_PORT'] == str(embedded.port) != before.get(
            'EPICS_CA_SERVER_PORT')
        assert os.environ['EPICS_CA_ADDR_LIST'] == '127.0.0.1'
        assert os.environ['EPICS_CA_AUTO_ADDR_LIST'] == 'NO'
        assert ok('get', 'emb:x', '-t', 'class_name', env=dict(os.environ)) == 'emb:x ao\n'
        log_dir = os.path.dirname(embedded.log_path)
    assert not embedded.running and not os.path.exists(log_dir)
    assert dict(os.environ) == before


def test_version_and_help():
    assert ok('--version').startswith('caffi ')
    for command in ('get', 'put', 'monitor', 'info', 'demo'):
        assert 'usage: caffi ' + command in ok(command, '--help')


def test_console_script_declared():
    scripts = importlib.metadata.entry_points(group='console_scripts')
    assert [ep.value for ep in scripts if ep.name == 'caffi'] == ['caffi.cli:main']


@pytest.mark.parametrize('text, member', [
    ('DOUBLE', DBR.DOUBLE), ('DBR_DOUBLE', DBR.DOUBLE), ('time_double', DBR.TIME_DOUBLE),
    (' ctrl_enum ', DBR.CTRL_ENUM), ('dbr_short', DBR.SHORT), ('int', DBR.INT), ('20', DBR.TIME_DOUBLE),
    ('class_name', DBR.CLASS_NAME)])
def test_dbr_type_parsing(text, member):
    assert cli.dbr_type(text) is member


@pytest.mark.parametrize('text', ['', 'DBR_', 'INVALID', '-1', '39', 'TIME', 'double2'])
def test_dbr_type_parsing_rejects(text):
    with pytest.raises(Exception, match='unknown DBR type'):
        cli.dbr_type(text)


def test_value_formatting():
    assert cli.format_scalar(1.5) == '1.5'
    assert cli.format_scalar('') == '""'
    assert cli.format_scalar(b'\xff') == "b'\\xff'"
    assert cli.summarize_array([]) == '0 elements'
    assert cli.summarize_array([3, 1, 2]) == '3 elements: 3 1 2 (min 1, max 3)'
    assert cli.summarize_array(list(range(10))) == '10 elements: 0 1 2 ... 7 8 9 (min 0, max 9)'
    assert cli.summarize_array(['a', 'b']) == '2 elements: a b'
    import numpy
    assert cli.summarize_array(numpy.arange(10.0)) == \
        '10 elements: 0.0 1.0 2.0 ... 7.0 8.0 9.0 (min 0.0, max 9.0)'
    assert ca.DBR is DBR
