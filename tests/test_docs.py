"""The documentation (docs/): the Sphinx build with warnings as errors and the local extension.

Skipped without Sphinx and myst-parser (``pip install -e '.[docs]'``). The doctests, which need
the test IOC, are run by ``python docs/run_doctests.py`` (docs/build.sh), not here.
"""
import os
import subprocess
import sys

import pytest

pytest.importorskip('sphinx')
pytest.importorskip('myst_parser')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(REPO, 'docs')
sys.path.insert(0, os.path.join(DOCS, '_ext'))

import caffi_docs  # noqa: E402


def sphinx_build(source, out, *options):
    # run in *out*, not in the repository: `python -m` puts the working directory first on
    # sys.path, where the source tree's caffi/ could shadow an installed (non-editable) caffi
    command = [sys.executable, '-m', 'sphinx', '-W', '-q', '-b', 'html',
               '-d', str(out / '.doctrees')] + list(options) + [str(source), str(out / 'html')]
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, cwd=str(out), timeout=240)


def test_html_build_has_no_warnings(tmp_path):
    result = sphinx_build(DOCS, tmp_path)
    assert result.returncode == 0, result.stdout
    html = tmp_path / 'html'
    for page in ('index', 'install', 'quickstart', 'cli', 'API', 'benchmarks',
                 'recipes/many_pvs', 'recipes/waveforms', 'recipes/timestamps',
                 'recipes/reconnects', 'reference/ca', 'reference/monitor', 'reference/stats',
                 'reference/macros', 'reference/constants', 'reference/dbr', 'reference/aio'):
        assert (html / (page + '.html')).is_file(), page
    aio = (html / 'reference' / 'aio.html').read_text()
    assert 'camonitor' in aio and 'all_updates' in aio and 'dropped_callbacks' in aio
    reference = (html / 'reference' / 'ca.html').read_text()
    assert 'create_subscription' in reference and 'ctype' in reference
    assert '<object object at' not in reference       # the sentinel default of get's ctype


def test_cli_page_covers_every_subcommand():
    from caffi.cli import build_parser
    texts = dict(caffi_docs.help_texts(build_parser()))
    names = [name for name, _ in caffi_docs.subcommands(build_parser())]
    assert {'get', 'put', 'monitor', 'info', 'demo'} <= set(names)
    for name in names:
        assert ('caffi ' + name) in texts
        assert texts['caffi ' + name].startswith('usage: caffi ' + name)
    assert 'COMMAND' in texts['caffi']


def test_plain_docstring():
    lines = ['Intro.', '', 'Monitor(chid, chtype=DBR.TIME_DOUBLE,', '        depth=1024)', '',
             'A plain or TIME_ type.', '', '``updates``   counted updates', '',
             'Read them:', '', '    s = stats(evid)']
    caffi_docs.plain_docstring(None, 'class', 'caffi.monitor.Monitor', None, {}, lines)
    assert not any('depth=1024' in line for line in lines)
    assert 'A plain or TIME\\_ type.' in lines
    assert lines[lines.index('``updates``') + 1] == '   counted updates'
    assert 'Read them::' in lines


@pytest.mark.parametrize('present', [False, True])
def test_figure_if_present(tmp_path, present):
    source = tmp_path / 'src'
    source.mkdir()
    (source / 'conf.py').write_text('import sys\nsys.path.insert(0, %r)\n'
                                    "extensions = ['caffi_docs']\n"
                                    % os.path.join(DOCS, '_ext'))
    (source / 'index.rst').write_text('Page\n====\n\n.. figure-if-present:: plot.png\n'
                                      '   :alt: a plot\n\n   The caption.\n')
    if present:     # a 1x1 PNG
        (source / 'plot.png').write_bytes(bytes.fromhex(
            '89504e470d0a1a0a0000000d4948445200000001000000010806000000'
            '1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082'))
    result = sphinx_build(source, tmp_path)
    assert result.returncode == 0, result.stdout
    html = (tmp_path / 'html' / 'index.html').read_text()
    assert ('plot.png' in html) == present
    assert ('The caption.' in html) == present
