"""Sphinx configuration of caffi's documentation.

Build (what CI runs, see docs/build.sh):

    sphinx-build -W -b html docs docs/_build/html      # warnings are errors
    python docs/run_doctests.py                        # the doctests, against the test IOC

caffi must be importable (an installed or editable build: the API reference is read from the
compiled modules' docstrings).
"""
import doctest
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '_ext'))

import caffi  # noqa: E402  (the API reference needs the compiled modules)

project = 'caffi'
author = 'the caffi developers'
copyright = 'the caffi developers'
release = caffi.__version__
version = '.'.join(release.split('.')[:2])

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.doctest',
    'myst_parser',
    'caffi_docs',               # _ext/caffi_docs.py: the CLI page, figures that may be absent
]

source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build', 'Thumbs.db', '.DS_Store']
templates_path = []

# `single backticks` in caffi's docstrings name parameters and attributes: show them as code.
default_role = 'code'

# -- autodoc ----------------------------------------------------------------------------------
# caffi's functions are Cython functions (binding=True): inspect.signature() works on them, but
# a few defaults are sentinels whose repr is useless (get's `ctype`), and the extension types'
# __init__ has no signature. Those pages give the signature explicitly (from caffi/*.pyi and
# docs/API.md); autodoc_docstring_signature stays on for docstrings that start with one.
autodoc_docstring_signature = True
autodoc_member_order = 'bysource'
autodoc_typehints = 'none'
autodoc_default_options = {}

# -- MyST (docs/API.md, benchmarks/README.md) ------------------------------------------------
myst_heading_anchors = 3
myst_enable_extensions = []

# -- doctest ----------------------------------------------------------------------------------
# The quick start's examples run against the test IOC (tests/ioc/test.db): run them with
# docs/run_doctests.py, which starts the IOC and gives sphinx-build its client environment.
doctest_global_setup = '''
import os
if not os.environ.get('EPICS_CA_SERVER_PORT'):
    raise RuntimeError('the doctests need the test IOC: run python docs/run_doctests.py')
'''
doctest_default_flags = (doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
                         | doctest.DONT_ACCEPT_TRUE_FOR_1 | doctest.IGNORE_EXCEPTION_DETAIL)

# -- HTML -------------------------------------------------------------------------------------
html_theme = 'alabaster'
html_title = 'caffi %s' % release
html_static_path = []
html_theme_options = {'description': 'Cython binding to EPICS Channel Access',
                      'page_width': '1100px', 'body_max_width': 'none'}
