"""`import caffi.ca` stays light: no setuptools machinery, no numpy, libca from epicscorelibs.

Each check runs `import caffi.ca` in a fresh child interpreter (started in the temporary
directory, so that the installed caffi is the one imported, as in tests/test_cli.py). No IOC is
needed. The import time is printed (`pytest -s` shows it), never asserted: machines are noisy.
"""
import ast
import os
import subprocess
import sys
import tempfile

import pytest

# Top-level packages that `import caffi.ca` must not import: the build-time toolchain
# (epicscorelibs.path pulls in all of the first three through setuptools_dso.runtime) and numpy,
# which caffi imports only when an array is first converted.
FORBIDDEN = ('setuptools', 'pkg_resources', 'setuptools_dso', 'numpy')

# The child notes sys.modules before and after the import, so that what the interpreter or site
# loaded at start-up is not blamed on caffi, and prints the difference and the loaded libraries.
CHILD = r'''
import sys
before = set(sys.modules)
import caffi.ca
new = sorted(set(sys.modules) - before)
libs = []
if sys.platform.startswith('linux'):
    with open('/proc/self/maps') as maps:
        libs = sorted({line.split()[-1] for line in maps if '/lib' in line and '.so' in line})
print(repr({'new': new, 'libs': libs, 'caffi': caffi.__file__}))
'''


def _run_child(*options):
    proc = subprocess.run([sys.executable, *options, '-c', CHILD], cwd=tempfile.gettempdir(),
                          env=os.environ, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, 'child failed:\n%s\n%s' % (proc.stdout, proc.stderr)
    return ast.literal_eval(proc.stdout.strip().splitlines()[-1]), proc.stderr


def _import_block(stderr, module):
    """The -X importtime rows (cumulative us, depth, name) of the top-level `import module`.

    importtime prints a row as each import completes, nested ones (indented by depth) before
    the import that caused them, so the block is the rows after the previous top-level row.
    """
    block = []
    for line in stderr.splitlines():
        if not line.startswith('import time:') or 'cumulative' in line:
            continue
        _self, cumulative, raw = line[len('import time:'):].split('|')
        depth = (len(raw) - len(raw.lstrip()) - 1) // 2
        block.append((int(cumulative), depth, raw.strip()))
        if depth == 0:
            if raw.strip() == module:
                return block
            block = []
    raise AssertionError('no top-level import of %s in -X importtime output:\n%s'
                         % (module, stderr))


def test_import_pulls_in_no_build_tooling_and_no_numpy():
    result, stderr = _run_child('-X', 'importtime')
    bad = sorted({m.split('.')[0] for m in result['new']} & set(FORBIDDEN))
    assert not bad, '`import caffi.ca` imported %s' % ', '.join(bad)
    # the same from -X importtime's own list of the modules that `import caffi.ca` executed
    block = _import_block(stderr, 'caffi.ca')
    bad = sorted({name.split('.')[0] for _, _, name in block} & set(FORBIDDEN))
    assert not bad, '`import caffi.ca` imported %s' % ', '.join(bad)
    total = block[-1][0]
    heaviest = sorted((us, name) for us, depth, name in block if depth >= 2)[::-1][:6]
    print('\nimport caffi.ca: %.1f ms (%s); heaviest below caffi: %s' % (
        total / 1000, result['caffi'],
        ', '.join('%s %.1f ms' % (name, us / 1000) for us, name in heaviest)))


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads /proc/self/maps')
def test_libca_comes_from_epicscorelibs():
    # Installed caffi finds libca through its rpath, in-place and editable builds by the preload
    # in caffi/__init__.py: either way it must be the epicscorelibs copy that is loaded.
    import importlib.util
    spec = importlib.util.find_spec('epicscorelibs')
    lib_dirs = [os.path.realpath(os.path.join(loc, 'lib'))
                for loc in spec.submodule_search_locations]
    result, _ = _run_child()
    for name in ('libca.so', 'libCom.so'):
        loaded = [p for p in result['libs'] if os.path.basename(p).startswith(name)]
        assert loaded, '%s is not loaded after import caffi.ca' % name
        for path in loaded:
            assert os.path.dirname(os.path.realpath(path)) in lib_dirs, path


def test_library_file_names_the_shipped_libraries():
    import caffi
    lib_dir = caffi._epics_lib_dir()
    for name in ('ca', 'Com'):
        path = caffi._library_file(lib_dir, name)
        assert os.path.isfile(path)
        assert os.path.basename(path).startswith('lib%s.' % name)
