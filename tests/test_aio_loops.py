"""caffi.aio with other loops and threads, run(), uvloop, loops closing with subscriptions
open, memory over 100,000 updates, an aioca script run unchanged, and a read-only PV."""
import asyncio
import os
import subprocess
import sys
import threading
import time

import pytest

import pytest_asyncio  # noqa: F401  (a test extra: these tests need it)

import caffi.aio as aioca
import caffi.ca as ca
from caffi.constants import ECA

from aio_util import until

pytestmark = [pytest.mark.usefixtures('ioc')]

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, 'aio_scripts')


def in_thread(function, *args):
    """function(*args) in a new thread; its result, or its exception raised here."""
    outcome = {}

    def body():
        try:
            outcome['result'] = function(*args)
        except BaseException as error:    # handed to the test's thread
            outcome['error'] = error

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), 'the thread did not finish'
    if 'error' in outcome:
        raise outcome['error']
    return outcome['result']


async def get_and_monitor(burst_values=()):
    """What each loop under test does: caget, caput, and a monitor of every update."""
    assert await aioca.caget('cabo', datatype=aioca.DBR_STRING) in ('Done', 'Busy')
    values = []
    subscription = aioca.camonitor('aio:burst', values.append, all_updates=True)
    await until(lambda: values)
    for value in burst_values:
        await aioca.caput('aio:burst', value)
    if burst_values:
        await until(lambda: values[-1] == burst_values[-1])
    subscription.close()
    return [float(v) for v in values[1:]]


@pytest.mark.asyncio
async def test_loop_in_another_thread_beside_this_one():
    loop = asyncio.get_running_loop()
    other = loop.run_in_executor(None, in_thread, asyncio.run,
                                 get_and_monitor([1.0, 2.0, 3.0]))
    here = await get_and_monitor()
    assert here == []
    assert await other == [1.0, 2.0, 3.0]
    assert await aioca.caget('catest') is not None


def test_run_and_plain_thread():
    async def read():
        return await aioca.caget('catest')

    def run_it():
        with pytest.warns(DeprecationWarning):
            return aioca.run(read())

    assert in_thread(run_it) is not None
    assert in_thread(asyncio.run, get_and_monitor([5.0, 6.0])) == [5.0, 6.0]


def test_uvloop():
    import uvloop

    def with_uvloop():
        loop = uvloop.new_event_loop()
        try:
            return loop.run_until_complete(get_and_monitor([float(i) for i in range(100)]))
        finally:
            loop.close()

    assert in_thread(with_uvloop) == [float(i) for i in range(100)]


def test_loop_closing_with_subscriptions_open(capfd):
    async def leave_open():
        values = []
        aioca.camonitor('aio:fast', values.append)
        aioca.camonitor('cawave', values.append, format=aioca.FORMAT_CTRL)
        await until(lambda: len(values) >= 3)
        return len(values)

    assert in_thread(asyncio.run, leave_open()) >= 3
    time.sleep(0.5)                       # updates go on arriving for the closed loop
    assert in_thread(asyncio.run, get_and_monitor([9.0])) == [9.0]
    err = capfd.readouterr().err
    assert 'Traceback' not in err and 'Error' not in err, err


def rss_bytes():
    with open('/proc/self/statm') as statm:
        return int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


@pytest.mark.skipif(not os.path.exists('/proc/self/statm'), reason='needs /proc')
def test_no_leak_over_100000_updates():
    """RSS after 20,000 updates (warm) and after 100,000 more. The server may merge updates
    of a burst it cannot send fast enough, so the writer goes on until enough arrived."""
    async def updates(warm, total, all_updates):
        await aioca.connect('aio:burst')      # caffi.aio's preemptive context, for this thread
        status, chid = ca.create_channel('aio:burst')
        assert status == ECA.NORMAL and ca.pend_io(5) == ECA.NORMAL
        received = []
        subscription = aioca.camonitor('aio:burst', received.append,
                                       format=aioca.FORMAT_TIME, all_updates=all_updates)
        await until(lambda: received)
        sent = delivered = 0
        rss = {}
        deadline = time.monotonic() + 120
        while delivered + subscription.dropped_callbacks < warm + total:
            assert time.monotonic() < deadline, f'only {delivered} updates arrived'
            if 'warm' not in rss and delivered + subscription.dropped_callbacks >= warm:
                rss['warm'] = rss_bytes()
            for _ in range(200):
                sent += 1
                ca.put(chid, float(sent))
            ca.flush_io()
            delivered += len(received) - 1
            del received[:-1]                 # values are kept for the time being only
            await asyncio.sleep(0.001)
        await until(lambda: received[-1] == sent, timeout=30, message='last update missing')
        rss['end'] = rss_bytes()
        subscription.close()
        ca.clear_channel(chid)
        return sent, subscription.dropped_callbacks, rss

    for all_updates in (True, False):
        sent, dropped, rss = asyncio.run(updates(20000, 100000, all_updates))
        growth = rss['end'] - rss['warm']
        print(f'all_updates={all_updates}: {sent} puts, {dropped} merged; RSS growth over '
              f'100,000 updates: {growth / 1e6:.2f} MB')
        assert growth < 4e6, f'RSS grew by {growth / 1e6:.1f} MB over 100,000 updates'
        if all_updates:
            assert dropped == 0


def run_script(args, module_alias=True, timeout=120):
    """A script in a child process: with module_alias, `import aioca` gives caffi.aio."""
    script = os.path.join(SCRIPTS, args[0])
    if module_alias:
        code = ('import sys, runpy, caffi.aio; sys.modules["aioca"] = caffi.aio; '
                f'sys.argv = {[script] + list(args[1:])!r}; '
                f'runpy.run_path({script!r}, run_name="__main__")')
        command = [sys.executable, '-c', code]
    else:
        command = [sys.executable, script] + list(args[1:])
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          cwd=HERE)


SCRIPT_ARGS = ['aioca_script.py', 'catest', 'castr', 'cawave', 'aio:no:such:pv']


def test_aioca_script_runs_unchanged_on_caffi_aio():
    done = run_script(SCRIPT_ARGS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'aioca script: OK' in done.stdout
    assert "units 'mm', precision 4" in done.stdout
    assert 'as expected: aio:no:such:pv: User specified timeout' in done.stdout
    assert 'State: connected' in done.stdout


def test_the_same_script_on_aioca_itself():
    done = run_script(SCRIPT_ARGS, module_alias=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'aioca script: OK' in done.stdout


def test_access_rights_put_and_get():
    """A put without write access and a read without read access raise epicscorelibs'
    CAException with the code libca refused them with (aioca's ctypes calls raise it), or
    give CANothing with throw=False: single PVs and lists alike."""
    done = run_script(['access_rights.py'], module_alias=False)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert 'access True False' in lines
    for wait in (False, True):
        assert f'raised CAException {int(ECA.NOWTACCESS)} {wait}' in lines
        assert f'returned CANothing False {int(ECA.NOWTACCESS)} {wait}' in lines
    assert 'writable True 2.0' in lines
    assert 'hidden access False False' in lines
    nothing = f"('CANothing', {int(ECA.NORDACCESS)})"
    for form in ('single', 'list'):
        assert f'read raised CAException {int(ECA.NORDACCESS)} {form}' in lines
    assert f'read returned single {nothing}' in lines
    assert f'read returned list 2.0 {nothing}' in lines
