"""fork() under a live preemptive context, run as a child process by tests/test_fork.py.

    python fork_child.py os.fork|multiprocessing

This process (the "parent" here) opens a preemptive context, channels, a subscription with a
callback, a Monitor and a MonitorGroup on the test IOC's records (its environment comes from the
test), then forks while a thread keeps writing cacalc-like updates to catest. The forked child
checks what it sees of the inherited handles and that a context of its own works, and reports
through its exit code and a JSON line; the parent checks that its own deliveries went on
throughout. The last stdout line is the parent's JSON result.
"""
import json
import multiprocessing
import os
import sys
import threading
import time

import caffi.ca as ca
from caffi.dbr import DBR
from caffi.monitor import Monitor, MonitorGroup

TIMEOUT = 10.0


def timed(call, *args):
    started = time.monotonic()
    result = call(*args)
    return result, time.monotonic() - started


def in_child(chid, evid, monitor, group, context):
    """What a forked child must see; returns a dict of findings (all must be true)."""
    found = {}
    (status, value), seconds = timed(ca.get, chid)
    found['get_badchid'] = status == ca.ECA.BADCHID and value is None and seconds < 1
    status, seconds = timed(ca.put, chid, 1.0)
    found['put_badchid'] = status == ca.ECA.BADCHID and seconds < 1
    status, seconds = timed(ca.pend_io, 1.0)
    found['pend_io_returns'] = seconds < 1.5
    found['clear_subscription_badchid'] = ca.clear_subscription(evid) == ca.ECA.BADCHID
    found['clear_channel_badchid'] = ca.clear_channel(chid) == ca.ECA.BADCHID
    found['attach_nocactx'] = ca.attach_context(context) == ca.ECA.NOCACTX
    for name, thing in (('monitor', monitor), ('group', group)):
        try:
            thing.drain()
            found[name + '_refused'] = False
        except RuntimeError as exc:
            found[name + '_refused'] = 'fork' in str(exc)
        thing.close()                                   # allowed, and does nothing
    found['monitor_closed'] = monitor.closed
    # a context of the child's own works as in any process
    ca.destroy_context()                                # none: the thread was detached
    found['fresh_context'] = ca.create_context(True) == ca.ECA.NORMAL
    status, fresh = ca.create_channel('calong')
    found['fresh_connects'] = status == ca.ECA.NORMAL and ca.pend_io(TIMEOUT) == ca.ECA.NORMAL
    status, value = ca.get(fresh)
    found['fresh_get'] = status == ca.ECA.NORMAL and ca.pend_io(TIMEOUT) == ca.ECA.NORMAL \
        and value.get() == 321
    with Monitor(fresh, DBR.TIME_LONG) as fresh_monitor:
        ca.flush_io()
        found['fresh_monitor'] = fresh_monitor.get(TIMEOUT).value == 321
    ca.clear_channel(fresh)
    ca.destroy_context()
    return found


def child_main(chid, evid, monitor, group, context, queue=None):
    try:
        found = in_child(chid, evid, monitor, group, context)
    except BaseException as exc:          # reported, never a hang
        found = {'exception': repr(exc)}
    if queue is not None:
        queue.put(found)
    else:
        print('CHILD ' + json.dumps(found), flush=True)
    return all(v is True for v in found.values())


def main():
    how = sys.argv[1]
    assert ca.create_context(True) == ca.ECA.NORMAL
    context = ca.current_context()
    status, chid = ca.create_channel('catest')
    status, calong = ca.create_channel('calong')
    assert ca.pend_io(TIMEOUT) == ca.ECA.NORMAL
    assert ca.put(calong, 321) == ca.ECA.NORMAL and ca.pend_io(TIMEOUT) == ca.ECA.NORMAL
    seen = []
    status, evid = ca.create_subscription(chid, lambda event: seen.append(event['value']))
    monitor = Monitor(chid, DBR.TIME_DOUBLE, depth=1 << 16)
    group = MonitorGroup([chid, calong], DBR.TIME_DOUBLE)
    ca.flush_io()
    stop = threading.Event()

    def writer():
        ca.attach_context(context)
        i = 0
        while not stop.is_set():
            i += 1
            ca.put(chid, float(i % 9))
            ca.flush_io()
            time.sleep(0.002)

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.5)
    before = (len(seen), monitor.stats()['updates'], group.stats()['updates'])
    results = []
    for attempt in range(3):
        if how == 'os.fork':
            pid = os.fork()
            if pid == 0:
                os._exit(0 if child_main(chid, evid, monitor, group, context) else 1)
            _, status = os.waitpid(pid, 0)
            results.append(os.waitstatus_to_exitcode(status))
        else:
            fork = multiprocessing.get_context('fork')
            queue = fork.Queue()
            process = fork.Process(target=child_main, args=(chid, evid, monitor, group, context,
                                                            queue))
            process.start()
            found = queue.get(timeout=60)
            process.join(60)
            print('CHILD ' + json.dumps(found), flush=True)
            results.append(process.exitcode if all(v is True for v in found.values()) else 1)
        time.sleep(0.3)
    after = (len(seen), monitor.stats()['updates'], group.stats()['updates'])
    stop.set()
    thread.join()
    batch = group.drain()
    print(json.dumps({'children': results, 'before': before, 'after': after,
                      'group_rows': len(batch.index), 'monitor_pending': monitor.pending}),
          flush=True)
    monitor.close()
    group.close()
    ca.clear_subscription(evid)
    ca.destroy_context()


if __name__ == '__main__':
    main()
