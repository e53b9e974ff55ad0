#!/bin/sh
# Build caffi's documentation as CI does: the HTML site with warnings as errors, then the
# doctests against the test IOC (docs/run_doctests.py starts and stops it).
# Needs caffi installed (editable is fine) and the `docs` extra: pip install -e '.[docs]'.
# Run from anywhere; output in docs/_build/html and docs/_build/doctest.
set -e
cd "$(dirname "$0")/.."
sphinx-build -W -b html docs docs/_build/html
python docs/run_doctests.py
