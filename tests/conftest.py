"""pytest setup: loopback-only CA environment, a CA repeater and the reference soft IOC.

All three come from ``ioc_harness``, which starts its processes with the launcher
``caffi._ioc`` (shared with ``caffi demo`` and the benchmarks).

Fixtures:

* ``ca_repeater`` (session, autouse): ``python -m caffi.repeater`` on UDP P+1.
* ``ioc`` (session): the running :class:`ioc_harness.SoftIoc`; a caffi channel
  to ``catest`` has connected before the first test gets it.
* ``restartable_ioc`` (function): the same object, for tests that call
  ``stop()`` / ``start()`` / ``restart()``; the IOC is running again afterwards.

Record names and native types: ``from ioc_harness import RECORDS``.
"""

import os
import sys
import warnings

import pytest

_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

import ioc_harness  # noqa: E402

# Before any test creates a caffi context: libca reads these when a context is created.
SERVER_PORT = ioc_harness.configure_environment()


def pytest_report_header(config):
    return 'caffi: CA server port %d, repeater port %d, address %s only' % (
        SERVER_PORT, SERVER_PORT + 1, ioc_harness.LOOPBACK)


@pytest.fixture(scope='session', autouse=True)
def ca_repeater():
    """The session's CA repeater, or None (with a warning) if it cannot run."""
    repeater = ioc_harness.CaRepeater(SERVER_PORT + 1)
    try:
        repeater.start()
    except ioc_harness.HarnessError as exc:
        repeater.close()
        warnings.warn('running without a CA repeater: %s' % exc)
        yield None
        return
    yield repeater
    repeater.close()


@pytest.fixture(scope='session')
def ioc(ca_repeater):
    """The reference soft IOC (tests/ioc/test.db), started once per session."""
    soft_ioc = ioc_harness.SoftIoc(SERVER_PORT)
    soft_ioc.start()
    yield soft_ioc
    soft_ioc.close()


@pytest.fixture
def restartable_ioc(ioc):
    """The session IOC for tests that stop or restart it; restarted if left stopped."""
    yield ioc
    if not ioc.running:
        ioc.start()


# ---------------------------------------------------------------------------
# Client side for the data-path modules (test_get, test_put, ...): they run in pytest's own
# thread and mark themselves with `pytestmark = pytest.mark.usefixtures('context')`.


@pytest.fixture(scope='module')
def context(ioc):
    """A preemptive context in pytest's thread for one test module, destroyed after it."""
    from ca_client_util import preemptive_context
    yield from preemptive_context()


@pytest.fixture(scope='module')
def chans(context):
    """Connected channels by record name (``chans['catest']``), cleared after the module."""
    from ca_client_util import Channels
    channels = Channels()
    yield channels
    channels.close()


@pytest.fixture
def exceptions(context):
    """libca exception reports of this test, collected instead of printed."""
    import caffi.ca as ca
    from ca_client_util import Collector
    collector = Collector()
    assert ca.add_exception_event(collector) == ca.ECA.NORMAL
    yield collector
    ca.add_exception_event(None)


@pytest.fixture
def subscriptions():
    """evids to clear after the test (already cleared ones just give BADCHID); fill it with
    ca_client_util.subscribe()."""
    import caffi.ca as ca
    evids = []
    yield evids
    for evid in evids:
        ca.clear_subscription(evid)
