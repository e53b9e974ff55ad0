#!/usr/bin/env python3
"""Instructions per operation on caffi's hot paths (valgrind's callgrind): a CI guard that
does not flake.

    python benchmarks/instructions.py                    # count, compare with the baseline
    python benchmarks/instructions.py --update-baseline  # accept the counts as the new baseline
    python benchmarks/instructions.py --tree DIR --no-check   # count a checkout's in-place build

CPU time on these shared machines moves by 10-20 % from run to run; the number of instructions
the same binary executes for the same input does not, when only the operation is counted. Each
client runs under ``valgrind --tool=callgrind --instr-atstart=no`` against a soft IOC on
127.0.0.1 (for updates, the C publisher writes as fast as the IOC completes the writes), real
operations across the real wire. Its start-up runs uninstrumented; each path is one counted part
(benchmarks/c/callgrind_marks.c: callgrind's client requests, from zero to a dump of its own),
after the same operations uncounted (first calls, caches, the libca thread's Python thread
state), with the garbage collector off, PYTHONHASHSEED=0 and LD_BIND_NOW=1. A path's count is the
inclusive count of the C function that is the operation (with its callees), divided by the calls
of that function callgrind saw in the part.

=================== =====================================================================
callback            ``on_update``: one TIME_DOUBLE update of ``bench:ao`` through a Python
                    callback (the GIL-free shell and its ``with gil`` body deliver_update:
                    counters, GIL, the §10.3 dict, the callback)
callback-1k-numpy   ``on_update``: one 1000-element DOUBLE update into a numpy array
callback-1m-numpy   ``on_update`` of one 1M-element DOUBLE update into numpy, per element
monitor-update      ``on_buffered_update``: one update copied into a Monitor's ring (deep,
                    never full, nobody waiting or draining meanwhile)
group-update        ``on_group_update``: one update copied into a MonitorGroup's ring, as
                    monitor-update (the group's member counters, its row index and event)
monitor-drain-100   ``Monitor.drain()`` of a ring holding 100 updates (zero-copy hand-out)
group-drain-1000    ``MonitorGroup.drain()`` of 1000 waiting rows
get-pend-io         ``get`` + ``pend_io`` + ``DBRValue.get()`` of a scalar, client side,
                    without pend_io's wait for the reply (its futex path depends on whether
                    the reply came first)
put-1m-ndarray      ``put`` of a 1M float64 ndarray (handed to libca without a copy)
format-time-double  ``format_dbr``: a TIME_DOUBLE dict from a DBR buffer
aio-update          caffi.aio ``camonitor`` (FORMAT_TIME, all_updates=True): one update of a
                    batch the loop takes in one wake-up (drain, the augmented ca_float with
                    its attributes, the callback), per callback made
aio-caget           caffi.aio ``caget`` of a list of 1000 reads: their issue, the values made
                    ahead of the replies, libca's replies into C slots, the loop's wake-up
                    and the values filled in, per read
aio-caget-time      the same with FORMAT_TIME (each value's alarm and stamp fields too)
aio-caget-polled    ``values = await caget(names)`` again and again, 1000 PVs: the values
                    made by the caget before the last one are renewed, not made
=================== =====================================================================

Run to run (3-5 runs on the 2-core VM, loaded or not) the counts spread by at most 0.3 %
(benchmarks/README.md has them per path).

The baseline (benchmarks/instructions_baseline.json: per path the median count, with the
Python and numpy versions it was taken with) is compared with medians of --repeats runs: more
than --tolerance (5 %) above it fails; more than 5 % below is reported as an improvement to
record with --update-baseline. A baseline taken with another Python or numpy version is
reported, not compared (their interpreters execute different instruction streams).

Needs valgrind (with its headers, as Debian's package has them) and a C compiler
(benchmarks/c/build.py builds the publisher; the marks library is built in a temporary
directory). ``--keep DIR`` keeps the dumps for ``callgrind_annotate --inclusive=yes``.
"""
import argparse
import concurrent.futures
import glob
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BASELINE = os.path.join(HERE, "instructions_baseline.json")
sys.path.insert(0, HERE)
import monitor_bench as bench  # noqa: E402

CLIENT_HEAD = r"""
import contextlib, ctypes, gc, json, os, sys, threading, time
if sys.argv[1]:                    # --tree: that checkout's in-place build, else the installed one
    sys.path.insert(0, sys.argv[1])
import numpy
import caffi, caffi.ca as ca
from caffi.monitor import Monitor, MonitorGroup
assert caffi.__file__.startswith(sys.argv[1]), caffi.__file__
pv = sys.argv[2]
marks = ctypes.CDLL(sys.argv[3])
marks.caffi_marks_stop.argtypes = [ctypes.c_char_p]
expected = {}      # path -> the calls of its function the client made, where it knows them
ca.create_context(True)
status, chid = ca.create_channel(pv)
assert ca.pend_io(10) == ca.ECA.NORMAL

@contextlib.contextmanager
def counted(path):
    # callgrind counts only in here (from zero; a dump of its own named by the path), with no
    # garbage collection: a collection costs what the whole heap holds, not the operation
    gc.collect()
    gc.disable()
    marks.caffi_marks_start()
    try:
        yield
    finally:
        marks.caffi_marks_stop(path.encode())
        gc.enable()

def subscribe_for(n, use_numpy):
    seen, done = [0], threading.Event()
    def on_update(event):
        event['value']
        seen[0] += 1
        if seen[0] == n:
            done.set()
    status, evid = ca.create_subscription(chid, on_update, ca.DBR.TIME_DOUBLE if not use_numpy
                                          else ca.DBR.DOUBLE, use_numpy=use_numpy)
    ca.flush_io()
    assert done.wait(600)
    ca.clear_subscription(evid)        # after this, no more calls: seen[0] is the call count
    return seen[0]

def full(rings, n):
    # without the ring's lock (`pending` reads a field): libca's callback never waits for it
    for ring in rings:
        while ring.pending < n:
            time.sleep(0.002)
"""

# each client's last lines: which caffi it counted, then the paths it counted
CLIENT_TAIL = r"""
print(os.path.dirname(caffi.__file__))
print(json.dumps(expected), flush=True)
"""

# the PVs of aio-caget-polled: passive ao records beside bench.db's
POLLED_PV, POLLED_PVS = "bench:polled:%d", 1000
POLLED_RECORDS = "".join('record(ao, "%s") {\n}\n' % (POLLED_PV % i) for i in range(POLLED_PVS))

# per client: what it runs. Each `counted(path)` block is one callgrind dump; `expected` says
# how many calls of the path's function the client made (None: whatever arrived in the block).
# Before each counted block, the same operations uncounted (first calls: the libca thread's
# Python thread state, lazily made objects, caches, the first allocations).
CLIENTS = {
    "ao": CLIENT_HEAD + r"""
subscribe_for(50, False)
with counted('callback'):
    expected['callback'] = subscribe_for(2000, False)
# the ring's callback: a deep ring (never full), nobody waiting (no wake-up) nor draining (no
# lock taken by another thread), so every call stores an update the same way
for path in (None, 'monitor-update'):
    with Monitor(chid, ca.DBR.TIME_DOUBLE, depth=1 << 16) as monitor:
        with counted(path) if path else contextlib.nullcontext():
            ca.flush_io()
            full([monitor], 3000 if path else 100)
            monitor.close()
expected['monitor-update'] = None          # whatever arrived before the close
for path in (None, 'group-update'):
    with MonitorGroup([chid], ca.DBR.TIME_DOUBLE, depth=1 << 16) as group:
        with counted(path) if path else contextlib.nullcontext():
            ca.flush_io()
            full([group], 3000 if path else 100)
        # closed after the count: the calls libca still makes after a close return at once,
        # and how many come is a matter of timing
        group.close()
expected['group-update'] = None            # every call counted stored an update
# drains of full rings whose subscriptions are closed: no callback competes for the lock
monitors = [Monitor(chid, ca.DBR.TIME_DOUBLE, depth=100, overflow='drop_newest')
            for n in range(10 + 50)]
ca.flush_io()
full(monitors, 100)
for monitor in monitors:
    monitor.close()
for monitor in monitors[:10]:
    assert len(monitor.drain().counts) == 100
with counted('monitor-drain-100'):
    for monitor in monitors[10:]:
        monitor.drain()
expected['monitor-drain-100'] = 50
groups = [MonitorGroup([chid], ca.DBR.TIME_DOUBLE, depth=1000, overflow='drop_newest')
          for n in range(3 + 20)]
ca.flush_io()
full(groups, 1000)
for group in groups:
    group.close()
for group in groups[:3]:
    assert len(group.drain().index) == 1000
with counted('group-drain-1000'):
    for group in groups[3:]:
        group.drain()
expected['group-drain-1000'] = 20
for path, n in ((None, 20), ('get-pend-io', 500)):
    with counted(path) if path else contextlib.nullcontext():
        for i in range(n):
            status, value = ca.get(chid)
            assert ca.pend_io(10) == ca.ECA.NORMAL
            value.get()
expected['get-pend-io'] = 500
raw = bytes(ca.dbr_size_n(ca.DBR.TIME_DOUBLE, 1))
for path, n in ((None, 100), ('format-time-double', 2000)):
    with counted(path) if path else contextlib.nullcontext():
        for i in range(n):
            ca.format_dbr(ca.DBR.TIME_DOUBLE, 1, raw)
expected['format-time-double'] = 2000
""" + CLIENT_TAIL,
    "aio": CLIENT_HEAD + "POLLED_PV, POLLED_PVS = %r, %d\n" % (POLLED_PV, POLLED_PVS) + r"""
import asyncio
import caffi.aio as aio

async def deliveries():
    seen = [0]
    def on_value(value):
        seen[0] += 1
    for path in (None, 'aio-update'):
        subscription = aio.camonitor(pv, on_value, format=aio.FORMAT_TIME, all_updates=True)
        started = seen[0]
        while seen[0] < started + 50:             # this subscription's first updates came
            await asyncio.sleep(0.01)
        with counted(path) if path else contextlib.nullcontext():
            before = seen[0]
            for batch in range(4):
                # the loop is held while the ring fills: each wake-up then drains one batch of
                # a few thousand rows, so the per-batch costs spread thin and evenly
                time.sleep(0.3)
                await asyncio.sleep(0)
            subscription.close()
            await asyncio.sleep(0)
            expected['aio-update'] = seen[0] - before

asyncio.run(deliveries())

from epicscorelibs.ca.dbr import ca_float

async def list_reads():
    # a list caget of 1000 reads in one batch (the one PV 1000 times: one channel); each
    # counted caget after the uncounted ones made the loop's descriptors and the list's memo
    names = [pv] * 1000
    for format, path in ((aio.FORMAT_RAW, 'aio-caget'), (aio.FORMAT_TIME, 'aio-caget-time')):
        for counted_path, n in ((None, 3), (path, 10)):
            with counted(counted_path) if counted_path else contextlib.nullcontext():
                for i in range(n):
                    values = await aio.caget(names, format=format)
            assert len(values) == 1000 and all(type(v) is ca_float for v in values)
        expected[path] = 10 * len(names)
    # a polling loop over 1000 PVs: from the third caget on, each renews the values of the
    # one before the last (its request kept them), which nothing refers to any more
    names = [POLLED_PV % i for i in range(POLLED_PVS)]
    for counted_path, n in ((None, 3), ('aio-caget-polled', 10)):
        with counted(counted_path) if counted_path else contextlib.nullcontext():
            for i in range(n):
                values = await aio.caget(names)
        assert len(values) == POLLED_PVS and all(type(v) is ca_float for v in values)
    expected['aio-caget-polled'] = 10 * len(names)

asyncio.run(list_reads())
""" + CLIENT_TAIL,
    "wf1k": CLIENT_HEAD + r"""
subscribe_for(50, True)
with counted('callback-1k-numpy'):
    expected['callback-1k-numpy'] = subscribe_for(1000, True)
""" + CLIENT_TAIL,
    "wf1m": CLIENT_HEAD + r"""
subscribe_for(3, True)
with counted('callback-1m-numpy'):
    expected['callback-1m-numpy'] = subscribe_for(10, True)
""" + CLIENT_TAIL,
    "put": CLIENT_HEAD + r"""
value = numpy.arange(1000000, dtype=numpy.float64)
for path, n in ((None, 2), ('put-1m-ndarray', 10)):
    with counted(path) if path else contextlib.nullcontext():
        for i in range(n):
            assert ca.put(chid, value) == ca.ECA.NORMAL
            ca.flush_io()
        assert ca.pend_io(10) == ca.ECA.NORMAL
expected['put-1m-ndarray'] = 10
""" + CLIENT_TAIL,
}

# client -> (PV, publisher subject or None)
SUBJECTS = {"ao": ("bench:ao", "ao"), "wf1k": ("bench:wf1k", "wf1k"),
            "wf1m": ("bench:wf1m", "wf1m"), "put": ("bench:wf1m", None),
            "aio": ("bench:ao", "ao")}

# path -> the functions whose inclusive counts make one operation (Cython's names for them;
# the number in a wrapper's name is Cython's running count, hence the patterns). The
# operations are the calls of the first one, as callgrind counted them; PER_ELEMENT divides
# further.
FUNCTIONS = {
    # on_update: the GIL-free shell, inclusive of its `with gil` body deliver_update
    "callback": [r"__pyx_f_5caffi_3_ca_on_update"],
    "callback-1k-numpy": [r"__pyx_f_5caffi_3_ca_on_update"],
    "callback-1m-numpy": [r"__pyx_f_5caffi_3_ca_on_update"],
    "monitor-update": [r"__pyx_f_5caffi_8_monitor_on_buffered_update"],
    "group-update": [r"__pyx_f_5caffi_8_monitor_on_group_update"],
    "monitor-drain-100": [r"__pyx_pw_5caffi_8_monitor_7Monitor_\d+drain"],
    "group-drain-1000": [r"__pyx_pw_5caffi_8_monitor_12MonitorGroup_\d+drain"],
    "get-pend-io": [r"__pyx_pw_5caffi_3_ca_\d+get", r"__pyx_pw_5caffi_3_ca_\d+pend_io",
                    r"__pyx_pw_5caffi_4_dbr_8DBRValue_\d+get"],
    "put-1m-ndarray": [r"__pyx_pw_5caffi_3_ca_\d+put"],
    "format-time-double": [r"__pyx_pw_5caffi_4_dbr_\d+format_dbr"],
    "aio-update": [r"__pyx_pw_5caffi_4_aio_13GroupDispatch_\d+on_readable"],
    # read_batch issues the reads and makes the values ahead; the replies (libca's thread),
    # the wake-up's take() and values() complete them
    "aio-caget": [r"__pyx_pw_5caffi_4_aio_\d+read_batch", r"__pyx_f_5caffi_4_aio_on_read_reply",
                  r"__pyx_pw_5caffi_4_aio_15ReadCompletions_\d+take",
                  r"__pyx_pw_5caffi_4_aio_9ReadBatch_\d+values"],
}
FUNCTIONS["aio-caget-time"] = FUNCTIONS["aio-caget-polled"] = FUNCTIONS["aio-caget"]
# path -> the function whose calls are its operations, where not the first of FUNCTIONS
OPERATIONS = {"aio-update": r"__pyx_f_5caffi_4_aio_6Member_deliver",
              "aio-caget": r"__pyx_f_5caffi_4_aio_on_read_reply"}
OPERATIONS["aio-caget-time"] = OPERATIONS["aio-caget-polled"] = OPERATIONS["aio-caget"]
PER_ELEMENT = {"callback-1m-numpy": 1000000}
# path -> functions inside the operation left out of its count, each called once per operation:
# pend_io's wait for the reply, whose futex path takes more or fewer instructions as the reply
# is there or not yet when pend_io starts waiting (a race with the IOC: 1-2 % of the path)
EXCLUDED = {
    "get-pend-io": [r"ca_client_context::blockForEventAndEnableCallbacks\(.*\)"],
}
PATHS = list(FUNCTIONS)
PIN = bench.Pinning("0", "1")        # the IOC and publishers; valgrind clients run anywhere
MARKS_SOURCE = os.path.join(bench.C_DIR, "callgrind_marks.c")
# the client's environment on top of the benchmark's: the same hashes (dict and set probes)
# in every run, every symbol bound at load time rather than at a first call
CLIENT_ENV = {"PYTHONHASHSEED": "0", "LD_BIND_NOW": "1"}
TRIGGER = "desc: Trigger: Client Request: "       # a dump's line naming its counted part


def read_profile(out_file):
    """(trigger, {function: inclusive instructions}, {function: calls}) of one callgrind dump
    (its raw format: fn= blocks of self costs, and calls= lines each followed by the inclusive
    cost of those calls). A recursion's levels (callgrind's name'2) count as the function."""
    names, inclusive, calls = {}, {}, {}
    trigger, fn, callee, call_cost = None, None, None, False

    def name(text):
        text = text.strip()
        if text.startswith("("):
            ident, _, rest = text.partition(")")
            rest = rest.strip()
            if rest:
                names[ident] = rest.split("'")[0]
            return names[ident]
        return text.split("'")[0]

    with open(out_file) as f:
        for line in f:
            if call_cost:                        # the cost line of the calls= line above
                call_cost = False
                parts = line.split()
                if callee != fn and len(parts) > 1:
                    inclusive[fn] = inclusive.get(fn, 0) + int(parts[1])
            elif line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if len(parts) > 1:
                    inclusive[fn] = inclusive.get(fn, 0) + int(parts[1])
            elif line.startswith("fn="):
                fn = name(line[3:])
            elif line.startswith("cfn="):
                callee = name(line[4:])
            elif line.startswith("calls="):
                call_cost = True
                if callee != fn:
                    calls[callee] = calls.get(callee, 0) + int(line[6:].split()[0])
            elif line.startswith(TRIGGER):
                trigger = line[len(TRIGGER):].strip()
    return trigger, inclusive, calls


def matched_function(path, pattern, functions):
    """The one function of a dump's `functions` that `pattern` names."""
    matched = [n for n in functions if re.fullmatch(pattern, n)]
    if len(matched) != 1:
        sys.exit("instructions: %s: %d functions match %r" % (path, len(matched), pattern))
    return matched[0]


def build_marks(root):
    out = os.path.join(root, "callgrind_marks.so")
    cc = shlex.split(os.environ.get("CC", "cc"))
    subprocess.run(cc + ["-O2", "-shared", "-fPIC", MARKS_SOURCE, "-o", out], check=True)
    return out


def run_client(client, tree, env, marks, job, root, keep):
    pv, subject_name = SUBJECTS[client]
    out = os.path.join(root, "callgrind.%s.%d.out" % (client, job[0]))
    argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
            "--callgrind-out-file=" + out, sys.executable, "-c", CLIENTS[client], tree, pv, marks]

    def run():
        # in `root`: from the checkout, `-c` would import its caffi/ source directory
        return subprocess.run(argv, env=dict(env, **CLIENT_ENV), cwd=root,
                              capture_output=True, text=True, timeout=900)

    if subject_name is None:
        proc = run()
    else:
        subject = next(s for s in bench.SUBJECTS if s.name == subject_name)
        proc, _ = bench.with_publisher(subject, env, PIN, 0.5, 900, run)
    if proc.returncode != 0:
        sys.exit("instructions: client %s failed:\n%s%s" % (client, proc.stdout,
                                                             proc.stderr[-3000:]))
    caffi_dir, line = proc.stdout.strip().splitlines()[-2:]
    expected = json.loads(line)
    dumps = {}
    for dump in glob.glob(glob.escape(out) + ".*"):
        trigger, inclusive, calls = read_profile(dump)
        if trigger in FUNCTIONS:
            dumps[trigger] = (inclusive, calls)
        if keep:
            shutil.copy(dump, keep)
    result = {}
    for path in expected:
        if path not in dumps:
            sys.exit("instructions: %s: no callgrind dump of its counted part" % path)
        inclusive, calls = dumps[path]
        total = 0
        for pattern in FUNCTIONS[path]:
            total += inclusive[matched_function(path, pattern, inclusive)]
        operation = OPERATIONS.get(path, FUNCTIONS[path][0])
        operations = calls.get(matched_function(path, operation, calls), 0)
        # A subscription's trampoline may still be called after clear_subscription has made
        # it inactive, until libca's own clear returns (a backlog of updates under callgrind's
        # slowdown): those calls return at once and are no operation. So callgrind may count
        # more calls than the client made, never fewer; the client's count is the divisor.
        if not operations or (expected[path] is not None and operations < expected[path]):
            sys.exit("instructions: %s: %s calls of %s counted, the client made %s"
                     % (path, operations, operation, expected[path]))
        if expected[path] is not None:
            operations = expected[path]
        for pattern in EXCLUDED.get(path, ()):
            matched = [n for n in inclusive if re.fullmatch(pattern, n)]
            if len(matched) != 1 or calls.get(matched[0]) != operations:
                sys.exit("instructions: %s: %r: not one function called once per operation"
                         % (path, pattern))
            total -= inclusive[matched[0]]
        result[path] = total / (operations * PER_ELEMENT.get(path, 1))
    return caffi_dir, result


def rounded(count):
    return round(count, 1) if count >= 100 else round(count, 4)


def number(count):
    return "%12.1f" % count if count >= 100 else "%12.4f" % count


def versions():
    import numpy
    return {"python": platform.python_version(), "numpy": numpy.__version__}


def compare(medians, tolerance):
    """Prints the comparison with the baseline; returns (the paths over it, the paths compared)."""
    if not os.path.exists(BASELINE):
        print("no baseline (%s): record one with --update-baseline" % BASELINE)
        return [], 0
    with open(BASELINE) as f:
        baseline = json.load(f)
    here = versions()
    over, compared = [], 0
    print("\n%-20s %12s %12s %9s" % ("path", "baseline", "now", "change"))
    for path, now in medians.items():
        entry = baseline["paths"].get(path)
        if entry is None:
            print("%-20s %12s %s   (new path: record it with --update-baseline)"
                  % (path, "-", number(now)))
            continue
        if (entry["python"], entry["numpy"]) != (here["python"], here["numpy"]):
            print("%-20s %s %s   (baseline of Python %s / numpy %s: not compared)"
                  % (path, number(entry["count"]), number(now), entry["python"],
                     entry["numpy"]))
            continue
        change = now / entry["count"] - 1
        compared += 1
        verdict = ""
        if change > tolerance:
            verdict = "  SLOWER: over the %+.0f%% guard" % (100 * tolerance)
            over.append(path)
        elif change < -tolerance:
            verdict = "  faster: record it with --update-baseline"
        print("%-20s %s %s %+8.2f%%%s" % (path, number(entry["count"]), number(now),
                                          100 * change, verdict))
    return over, compared


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--clients", default=",".join(CLIENTS), help="subset of " + ",".join(CLIENTS))
    ap.add_argument("--tree", default="", help="checkout whose in-place build is counted "
                    "(default: the caffi this Python imports, e.g. an editable install's)")
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--update-baseline", action="store_true")
    ap.add_argument("--no-check", action="store_true", help="count and print only")
    ap.add_argument("--keep", metavar="DIR", help="keep the callgrind dumps in DIR "
                    "(callgrind_annotate --inclusive=yes DIR/FILE to read one)")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("instructions: needs valgrind (callgrind)")
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(bench.C_DIR, "build.py"), bench.BUILD_DIR],
                   check=True, stdout=subprocess.DEVNULL)
    tree = os.path.abspath(args.tree) if args.tree else ""
    counted_caffi = set()
    port = bench.free_port_block()
    env = bench.make_env(port)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="caffi-instructions-") as root, \
            bench.bench_ioc(port, PIN, POLLED_RECORDS):
        marks = build_marks(root)
        # two clients at a time: the counts do not depend on how the CPUs are shared
        jobs = [(rep, client) for rep in range(args.repeats) for client in args.clients.split(",")]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            results = pool.map(lambda job: (job, run_client(job[1], tree, env, marks, job, root,
                                                          args.keep)), jobs)
            for (rep, client), (caffi_dir, counts) in results:
                counted_caffi.add(caffi_dir)
                for path, value in counts.items():
                    runs.setdefault(path, []).append(value)
                    print("  [%d/%d] %-20s %s instructions per operation"
                          % (rep + 1, args.repeats, path, number(value)), flush=True)
    medians = {path: statistics.median(values) for path, values in runs.items()}
    print("\ninstructions per operation, medians of %d (caffi: %s):"
          % (args.repeats, ", ".join(sorted(counted_caffi))))
    for path, values in runs.items():
        spread = (max(values) - min(values)) / medians[path] if medians[path] else 0
        print("  %-20s %s   runs %s (spread %.2f%%)"
              % (path, number(medians[path]), [rounded(v) for v in values], 100 * spread))
    if args.update_baseline:
        baseline = {"paths": {}}
        if os.path.exists(BASELINE):
            with open(BASELINE) as f:
                baseline = json.load(f)
        for path, count in medians.items():
            baseline["paths"][path] = dict(versions(), count=rounded(count))
        with open(BASELINE, "w") as f:
            json.dump(baseline, f, indent=2, sort_keys=True)
            f.write("\n")
        print("baseline written: %s" % BASELINE)
        return 0
    if args.no_check:
        return 0
    over, compared = compare(medians, args.tolerance)
    if over:
        print("instructions: %d path(s) over the guard: %s" % (len(over), ", ".join(over)))
        return 1
    if compared < len(medians):
        print("instructions: %d of %d paths compared (the others: no baseline of this Python "
              "and numpy), none over %+.0f%%" % (compared, len(medians), 100 * args.tolerance))
        return 0
    print("instructions: every path within %+.0f%% of its baseline" % (100 * args.tolerance))
    return 0


if __name__ == "__main__":
    sys.exit(main())
