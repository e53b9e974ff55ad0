"""CaChannel 3.x on top of caffi (API.md §1): CaChannel's own doctests, unchanged.

CaChannel with CACHANNEL_BACKEND=caffi does `from caffi.ca import *`, `from caffi.macros import *`
and `from caffi.constants import *`; its module doctests (CaChannel.CaChannel) exercise
the whole binding against the records catest, cabo, cawave, cawavec and cawaves of the
reference IOC (plus a channel that does not exist, for the search timeout).

They run in a subprocess: CaChannel keeps one class-wide preemptive context and the doctests
print from callbacks. Its working directory is outside the repository, so that the source
directory caffi/ cannot shadow the installed package.
"""

import os
import subprocess
import sys
import tempfile

import pytest

pytest.importorskip('CaChannel', reason='cachannel (a test extra) is not installed')

import caffi.ca as ca  # noqa: E402
from caffi.dbr import DBR  # noqa: E402

from ca_client_util import connect, own_context, put_wait, run_in_thread  # noqa: E402

SUBPROCESS_TIMEOUT = 240

# Fails unless every doctest ran and passed; reports which caffi served CaChannel.
#
# The doctests often drop a channel and at once search another on the same IOC (`chan =
# CaChannel('cabo')` clears the 'catest' channel it replaces). Clearing the last channel of a
# circuit makes libca shut the circuit down, and a search reply that arrives meanwhile can
# put the new channel on that dying circuit: ECA_DISCONN "Virtual circuit disconnect", then a
# search timeout (libca's race, not caffi's: a C client doing the same with a 0-200 us pause
# between ca_clear_channel and ca_create_channel failed 4 times in 300). One channel held
# open for the whole run keeps the circuit alive, so the doctests test the binding only.
RUN_DOCTESTS = r'''
import doctest, importlib, sys
import caffi, CaChannel
module = importlib.import_module('CaChannel.CaChannel')
circuit_keeper = module.CaChannel('cacalc')
circuit_keeper.searchw()
print('caffi from', caffi.__file__)
print('CaChannel.ca.get from', CaChannel.ca.get.__module__)
result = doctest.testmod(module, verbose=False, report=True)
print('doctests: attempted %d, failed %d' % (result.attempted, result.failed))
sys.exit(1 if result.failed or not result.attempted else 0)
'''

# CaChannel.replace_printf_handler's doctest is +SKIP: exercise it here, with a put the server
# rejects, which libca's default exception handler reports through the printf handler.
RUN_PRINTF_HANDLER = r'''
import sys, time
from CaChannel import CaChannel, ca
messages = []
CaChannel.replace_printf_handler(lambda message, user: messages.append((message, user)))
chan = CaChannel('cabo')
chan.searchw()
chan.array_put('NoSuchState')
chan.flush_io()
deadline = time.monotonic() + 10
while 'Channel write request failed' not in ''.join(m for m, _ in messages):
    if time.monotonic() > deadline:
        sys.exit('no report through the printf handler: %r' % messages)
    time.sleep(0.05)
assert all(type(m) is str and u is None for m, u in messages), messages
CaChannel.replace_printf_handler()
print('printf handler messages:', len(messages))
'''


@pytest.fixture
def cachannel_ioc(ioc):
    """The session IOC; afterwards the alarms the doctests raised are acknowledged (catest at
    145 is in a MAJOR alarm, cabo at Busy in a MINOR one; both latch as unacknowledged
    severities) and the records are back at 0, so that later tests see no trace of them."""
    yield ioc

    def restore():
        with own_context(True):
            # both channels connected before either is cleared: clearing the last channel of
            # a circuit lets libca close it, and a channel created just then can meet the
            # closing circuit ("Virtual circuit disconnect") and miss pend_io's timeout
            chids = [connect(name) for name in ('catest', 'cabo')]
            for chid in chids:
                put_wait(chid, 0)
                put_wait(chid, 3, DBR.PUT_ACKS)     # acknowledge up to INVALID
            for chid in chids:
                ca.clear_channel(chid)
    if ioc.running:
        run_in_thread(restore)


def run_with_cachannel(code):
    env = dict(os.environ, CACHANNEL_BACKEND='caffi', PYTHONUNBUFFERED='1')
    env.pop('PYTHONPATH', None)
    return subprocess.run([sys.executable, '-c', code], cwd=tempfile.gettempdir(), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=SUBPROCESS_TIMEOUT)


def test_cachannel_doctests(cachannel_ioc):
    result = run_with_cachannel(RUN_DOCTESTS)
    assert result.returncode == 0, result.stdout
    assert 'CaChannel.ca.get from caffi._ca' in result.stdout, result.stdout
    assert 'failed 0' in result.stdout, result.stdout


def test_cachannel_printf_handler(cachannel_ioc):
    result = run_with_cachannel(RUN_PRINTF_HANDLER)
    assert result.returncode == 0, result.stdout
    assert 'printf handler messages:' in result.stdout, result.stdout
