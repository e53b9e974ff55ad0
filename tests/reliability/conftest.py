"""tests/reliability: restarts, threads, re-entrant callbacks and lifetimes, against the real IOC.

Tests marked ``soak`` (the full-size thread stress) are skipped unless selected with
``pytest -m soak``.
"""

import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


def pytest_collection_modifyitems(config, items):
    if 'soak' in (config.getoption('markexpr', '') or ''):
        return
    skip = pytest.mark.skip(reason='soak test: select it with `pytest -m soak`')
    for item in items:
        if item.get_closest_marker('soak') is not None:
            item.add_marker(skip)
