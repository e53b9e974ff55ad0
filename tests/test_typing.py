"""caffi's type stubs: shipped with the package, consistent with the runtime, usable by mypy.

* the installed package carries py.typed and the .pyi stubs (package-data);
* ``mypy --strict`` accepts the stubs themselves;
* ``mypy.stubtest`` finds the stubs in agreement with the compiled modules (names, parameters,
  defaults), so they cannot drift from caffi/_ca.pyx and caffi/_dbr.pyx unnoticed;
* ``mypy --strict examples/daq_example.py`` passes: a typed program using get, put,
  subscriptions, numpy and caffi.stats type-checks against the installed package;
* the example also runs against the test IOC.

mypy runs in a subprocess whose working directory is outside the repository, so that it (like
the tests) sees the installed caffi, not the source directory. With an editable install, which
mypy cannot follow through its import hook, MYPYPATH points at the source tree instead.
"""

import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
import tempfile

import pytest

pytest.importorskip('mypy', reason='mypy (a test extra) is not installed')

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)
EXAMPLE = os.path.join(REPO_ROOT, 'examples', 'daq_example.py')
ALLOWLIST = os.path.join(TESTS_DIR, 'stubtest_allowlist.txt')

STUBS = ['__init__.pyi', 'ca.pyi', '_ca.pyi', '_dbr.pyi', '_monitor.pyi', '_testing.pyi', 'macros.pyi',
         '_aio.pyi', os.path.join('aio', '__init__.pyi')]
# modules whose types come from those stubs (constants and dbr re-export from _dbr)
STUBBED_MODULES = ['caffi._ca', 'caffi._dbr', 'caffi._monitor', 'caffi._testing', 'caffi.ca',
                   'caffi.macros', 'caffi.constants', 'caffi.dbr', 'caffi._aio', 'caffi.aio']
MYPY_TIMEOUT = 600

# mypy reports no errors inside an installed package; do the same for a source tree on MYPYPATH
# (an editable install), so that the example alone is judged in both setups.
MYPY_CONFIG = """\
[mypy]
strict = True

[mypy-caffi.*]
ignore_errors = True
"""


def caffi_package_dir():
    spec = importlib.util.find_spec('caffi')
    return list(spec.submodule_search_locations)[0]


def installed_normally(package_dir):
    site_dirs = {os.path.realpath(sysconfig.get_paths()[key]) for key in ('purelib', 'platlib')}
    return os.path.realpath(os.path.dirname(package_dir)) in site_dirs


@pytest.fixture(scope='module')
def mypy_env():
    env = dict(os.environ)
    env.pop('MYPYPATH', None)
    package_dir = caffi_package_dir()
    if not installed_normally(package_dir):
        env['MYPYPATH'] = os.path.dirname(package_dir)
    return env


@pytest.fixture(scope='module')
def mypy_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp('mypy-cache'))


def run_mypy(args, env, cwd=None):
    result = subprocess.run([sys.executable, '-m', 'mypy'] + args, cwd=cwd or tempfile.gettempdir(),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=MYPY_TIMEOUT)
    return result.returncode, result.stdout


def test_stubs_are_installed():
    package_dir = caffi_package_dir()
    for name in STUBS + ['py.typed']:
        assert os.path.isfile(os.path.join(package_dir, name)), name


def test_stubs_pass_strict(mypy_env, mypy_cache):
    modules = []
    for module in ['caffi', 'caffi.ca', 'caffi._ca', 'caffi._dbr', 'caffi.macros', 'caffi.aio',
                   'caffi.aio.types', 'caffi._aio']:
        modules += ['-m', module]
    status, output = run_mypy(['--strict', '--cache-dir', mypy_cache] + modules, mypy_env)
    assert status == 0, output


def test_stubs_match_runtime(mypy_env):
    help_text = subprocess.run([sys.executable, '-m', 'mypy.stubtest', '--help'],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    options = ['--allowlist', ALLOWLIST]
    for option in ('--ignore-unused-allowlist', '--ignore-disjoint-bases'):
        if option in help_text:
            options.append(option)
    result = subprocess.run([sys.executable, '-m', 'mypy.stubtest'] + options + STUBBED_MODULES,
                            cwd=tempfile.gettempdir(), env=mypy_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=MYPY_TIMEOUT)
    assert result.returncode == 0, result.stdout


def test_example_passes_strict(mypy_env, mypy_cache, tmp_path):
    config = tmp_path / 'mypy.ini'
    config.write_text(MYPY_CONFIG)
    status, output = run_mypy(['--config-file', str(config), '--cache-dir', mypy_cache, EXAMPLE],
                              mypy_env, cwd=str(tmp_path))
    assert status == 0, output
    assert 'Success' in output, output


def test_strict_catches_misuse(mypy_env, mypy_cache, tmp_path):
    """The stubs are precise enough to reject wrong calls (so the check above means something)."""
    wrong = tmp_path / 'wrong.py'
    wrong.write_text(
        'import caffi.ca as ca\n'
        'status, chid = ca.create_channel(42)\n'                    # name must be str/bytes
        'ca.pend_io("1")\n'                                         # timeout is a number
        'count: str = ca.element_count(chid)\n'                     # returns int; chid Optional
        'ca.replace_printf_handler(lambda message: message + 1)\n'  # message is a str
    )
    config = tmp_path / 'mypy.ini'
    config.write_text(MYPY_CONFIG)
    status, output = run_mypy(['--config-file', str(config), '--cache-dir', mypy_cache,
                               str(wrong)], mypy_env, cwd=str(tmp_path))
    assert status == 1, output
    for line in (2, 3, 4, 5):
        assert 'wrong.py:%d: error' % line in output, output


def test_example_runs(ioc):
    result = subprocess.run([sys.executable, EXAMPLE, 'cawave', '-n', '10'],
                            cwd=tempfile.gettempdir(), env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout
    assert 'collected 10/10 frames into a (10, 20) float64 array' in result.stdout, result.stdout
    # the initial value, the ten frames, and maybe a write made before the writer stopped
    updates = re.search(r'subscription: (\d+) updates', result.stdout)
    assert updates and int(updates.group(1)) >= 11, result.stdout
