#!/usr/bin/env python3
"""Instructions per operation on caffi's hot paths (valgrind's callgrind): a CI guard that
does not flake.

    python benchmarks/instructions.py                    # count, compare with the baseline
    python benchmarks/instructions.py --update-baseline  # accept the counts as the new baseline
    python benchmarks/instructions.py --tree DIR --no-check   # count another checkout's build

CPU time on these shared machines moves by 10-20 % from run to run; the number of instructions
the same binary executes for the same input does not. Each path below is the inclusive count of
the one C function that is the operation (callgrind_annotate --inclusive), divided by how many
times the client made it happen; clients cross the real wire (a soft IOC on 127.0.0.1 and, for
updates, the C publisher writing as fast as the IOC completes the writes).

=================== =====================================================================
callback            ``on_update``: one TIME_DOUBLE update of ``bench:ao`` through a Python
                    callback (counters, GIL, the §10.3 dict, the callback)
callback-1k-numpy   ``on_update``: one 1000-element DOUBLE update into a numpy array
callback-1m-numpy   ``on_update`` of one 1M-element DOUBLE update into numpy, per element
monitor-update      ``on_buffered_update``: one update copied into a Monitor's ring
monitor-drain-100   ``Monitor.drain()`` of a ring holding 100 updates (zero-copy hand-out)
group-drain-1000    ``MonitorGroup.drain()`` of 1000 waiting rows
get-pend-io         ``get`` + ``pend_io`` + ``DBRValue.get()`` of a scalar, client side
put-1m-ndarray      ``put`` of a 1M float64 ndarray (handed to libca without a copy)
format-time-double  ``format_dbr``: a TIME_DOUBLE dict from a DBR buffer
=================== =====================================================================

The baseline (benchmarks/instructions_baseline.json: per path the median count, with the
Python and numpy versions it was taken with) is compared with medians of --repeats runs: more
than --tolerance (5 %) above it fails; more than 5 % below is reported as an improvement to
record with --update-baseline. A baseline taken with another Python or numpy version is
reported, not compared (their interpreters execute different instruction streams).

Needs valgrind and a C compiler (benchmarks/c/build.py builds the publisher).
"""
import argparse
import concurrent.futures
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BASELINE = os.path.join(HERE, "instructions_baseline.json")
sys.path.insert(0, HERE)
import monitor_bench as bench  # noqa: E402

CLIENT_HEAD = r"""
import json, sys, threading, time
sys.path.insert(0, sys.argv[1])
import numpy
import caffi, caffi.ca as ca
from caffi.monitor import Monitor, MonitorGroup
assert caffi.__file__.startswith(sys.argv[1]), caffi.__file__
pv = sys.argv[2]
ops = {}
ca.create_context(True)
status, chid = ca.create_channel(pv)
assert ca.pend_io(10) == ca.ECA.NORMAL

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
    done.wait(600)
    ca.clear_subscription(evid)        # after this, no more calls: seen[0] is the call count
    return seen[0]
"""

# per client: what it runs; its output is one JSON line {path: operations}
CLIENTS = {
    "ao": CLIENT_HEAD + r"""
ops['callback'] = subscribe_for(500, False)
# the ring's callback with nobody waiting: no wake-up, so every call does the same work
with Monitor(chid, ca.DBR.TIME_DOUBLE, depth=1 << 16) as monitor:
    ca.flush_io()
    while monitor.stats()['updates'] < 500:
        time.sleep(0.002)
        monitor.drain()
    monitor.close()
    stats = monitor.stats()
ops['monitor-update'] = stats['updates'] + stats['failures']
# drains of full rings whose subscriptions are closed: no callback competes for the lock
for n in range(30):
    with Monitor(chid, ca.DBR.TIME_DOUBLE, depth=100, overflow='drop_newest') as monitor:
        ca.flush_io()
        while monitor.pending < 100:
            monitor.wait(1.0)
        monitor.close()
        ops['monitor-update'] += monitor.stats()['updates'] + monitor.stats()['failures']
        assert len(monitor.drain().counts) == 100
ops['monitor-drain-100'] = 30
for n in range(10):
    with MonitorGroup([chid], ca.DBR.TIME_DOUBLE, depth=1000, overflow='drop_newest') as group:
        ca.flush_io()
        while group.pending < 1000:
            group.wait(1.0)
        group.close()
        assert len(group.drain().index) == 1000
ops['group-drain-1000'] = 10
for i in range(200):
    status, value = ca.get(chid)
    assert ca.pend_io(10) == ca.ECA.NORMAL
    value.get()
ops['get-pend-io'] = 200
raw = bytes(ca.dbr_size_n(ca.DBR.TIME_DOUBLE, 1))
for i in range(500):
    ca.format_dbr(ca.DBR.TIME_DOUBLE, 1, raw)
ops['format-time-double'] = 500
print(json.dumps(ops), flush=True)
""",
    "wf1k": CLIENT_HEAD + r"""
ops['callback-1k-numpy'] = subscribe_for(200, True)
print(json.dumps(ops), flush=True)
""",
    "wf1m": CLIENT_HEAD + r"""
ops['callback-1m-numpy'] = subscribe_for(10, True) * 1000000     # per element
print(json.dumps(ops), flush=True)
""",
    "put": CLIENT_HEAD + r"""
value = numpy.arange(1000000, dtype=numpy.float64)
for i in range(10):
    assert ca.put(chid, value) == ca.ECA.NORMAL
    ca.flush_io()
assert ca.pend_io(10) == ca.ECA.NORMAL
ops['put-1m-ndarray'] = 10
print(json.dumps(ops), flush=True)
""",
}

# client -> (PV, publisher subject or None)
SUBJECTS = {"ao": ("bench:ao", "ao"), "wf1k": ("bench:wf1k", "wf1k"),
            "wf1m": ("bench:wf1m", "wf1m"), "put": ("bench:wf1m", None)}

# path -> the functions whose inclusive counts make one operation (Cython's names for them;
# the number in a wrapper's name is Cython's running count, hence the patterns)
FUNCTIONS = {
    "callback": [r"__pyx_f_5caffi_3_ca_on_update"],
    "callback-1k-numpy": [r"__pyx_f_5caffi_3_ca_on_update"],
    "callback-1m-numpy": [r"__pyx_f_5caffi_3_ca_on_update"],
    "monitor-update": [r"__pyx_f_5caffi_8_monitor_on_buffered_update"],
    "monitor-drain-100": [r"__pyx_pw_5caffi_8_monitor_7Monitor_\d+drain"],
    "group-drain-1000": [r"__pyx_pw_5caffi_8_monitor_12MonitorGroup_\d+drain"],
    "get-pend-io": [r"__pyx_pw_5caffi_3_ca_\d+get", r"__pyx_pw_5caffi_3_ca_\d+pend_io",
                    r"__pyx_pw_5caffi_4_dbr_8DBRValue_\d+get"],
    "put-1m-ndarray": [r"__pyx_pw_5caffi_3_ca_\d+put"],
    "format-time-double": [r"__pyx_pw_5caffi_4_dbr_\d+format_dbr"],
}
PATHS = list(FUNCTIONS)
PIN = bench.Pinning("0", "1")        # the IOC and publishers; valgrind clients run anywhere
ANNOTATE_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\S*:(\S+)")


def inclusive_counts(out_file):
    """function name -> inclusive instructions, from a callgrind output file."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                           out_file], capture_output=True, text=True, check=True).stdout
    counts = {}
    for line in text.splitlines():
        match = ANNOTATE_LINE.match(line)
        if match:
            name = match.group(2).split("'")[0]
            counts[name] = counts.get(name, 0) + int(match.group(1).replace(",", ""))
    return counts


def run_client(client, tree, env, job, root):
    pv, subject_name = SUBJECTS[client]
    out = os.path.join(root, "callgrind.%s.%d.out" % (client, job[0]))
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
            sys.executable, "-c", CLIENTS[client], tree, pv]

    def run():
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)

    if subject_name is None:
        proc = run()
    else:
        subject = next(s for s in bench.SUBJECTS if s.name == subject_name)
        proc, _ = bench.with_publisher(subject, env, PIN, 0.5, 900, run)
    if proc.returncode != 0:
        sys.exit("instructions: client %s failed:\n%s%s" % (client, proc.stdout,
                                                             proc.stderr[-3000:]))
    operations = json.loads(proc.stdout.strip().splitlines()[-1])
    counts = inclusive_counts(out)
    result = {}
    for path, ops in operations.items():
        total = 0
        for pattern in FUNCTIONS[path]:
            matched = [n for n in counts if re.fullmatch(pattern, n)]
            if len(matched) != 1:
                sys.exit("instructions: %s: %d functions match %r" % (path, len(matched), pattern))
            total += counts[matched[0]]
        result[path] = total / ops
    return result


def versions():
    import numpy
    return {"python": platform.python_version(), "numpy": numpy.__version__}


def compare(medians, tolerance):
    """Prints the comparison with the baseline; returns the paths over it."""
    if not os.path.exists(BASELINE):
        print("no baseline (%s): record one with --update-baseline" % BASELINE)
        return []
    with open(BASELINE) as f:
        baseline = json.load(f)
    here = versions()
    over = []
    print("\n%-20s %12s %12s %9s" % ("path", "baseline", "now", "change"))
    for path, now in medians.items():
        entry = baseline["paths"].get(path)
        if entry is None:
            print("%-20s %12s %12.0f   (new path: record it with --update-baseline)"
                  % (path, "-", now))
            continue
        if (entry["python"], entry["numpy"]) != (here["python"], here["numpy"]):
            print("%-20s %12.0f %12.0f   (baseline of Python %s / numpy %s: not compared)"
                  % (path, entry["count"], now, entry["python"], entry["numpy"]))
            continue
        change = now / entry["count"] - 1
        verdict = ""
        if change > tolerance:
            verdict = "  SLOWER: over the %+.0f%% guard" % (100 * tolerance)
            over.append(path)
        elif change < -tolerance:
            verdict = "  faster: record it with --update-baseline"
        print("%-20s %12.0f %12.0f %+8.1f%%%s" % (path, entry["count"], now, 100 * change,
                                                  verdict))
    return over


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--clients", default=",".join(CLIENTS), help="subset of " + ",".join(CLIENTS))
    ap.add_argument("--tree", default=REPO, help="checkout whose in-place build is counted")
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--update-baseline", action="store_true")
    ap.add_argument("--no-check", action="store_true", help="count and print only")
    args = ap.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        sys.exit("instructions: needs valgrind (callgrind, callgrind_annotate)")
    subprocess.run([sys.executable, os.path.join(bench.C_DIR, "build.py"), bench.BUILD_DIR],
                   check=True, stdout=subprocess.DEVNULL)
    tree = os.path.abspath(args.tree)
    port = bench.free_port_block()
    env = bench.make_env(port)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="caffi-instructions-") as root, \
            bench.bench_ioc(port, PIN):
        # two clients at a time: the counts do not depend on how the CPUs are shared
        jobs = [(rep, client) for rep in range(args.repeats) for client in args.clients.split(",")]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            results = pool.map(lambda job: (job, run_client(job[1], tree, env, job, root)), jobs)
            for (rep, client), counts in results:
                for path, value in counts.items():
                    runs.setdefault(path, []).append(value)
                    print("  [%d/%d] %-20s %12.1f instructions per operation"
                          % (rep + 1, args.repeats, path, value), flush=True)
    medians = {path: statistics.median(values) for path, values in runs.items()}
    print("\ninstructions per operation, medians of %d (%s):" % (args.repeats, tree))
    for path, values in runs.items():
        spread = (max(values) - min(values)) / medians[path] if medians[path] else 0
        print("  %-20s %12.1f   runs %s (spread %.1f%%)"
              % (path, medians[path], [round(v, 1) for v in values], 100 * spread))
    if args.update_baseline:
        baseline = {"paths": {}}
        if os.path.exists(BASELINE):
            with open(BASELINE) as f:
                baseline = json.load(f)
        for path, count in medians.items():
            baseline["paths"][path] = dict(versions(), count=round(count, 1))
        with open(BASELINE, "w") as f:
            json.dump(baseline, f, indent=2, sort_keys=True)
            f.write("\n")
        print("baseline written: %s" % BASELINE)
        return 0
    if args.no_check:
        return 0
    over = compare(medians, args.tolerance)
    if over:
        print("instructions: %d path(s) over the guard: %s" % (len(over), ", ".join(over)))
        return 1
    print("instructions: every path within %+.0f%% of its baseline" % (100 * args.tolerance))
    return 0


if __name__ == "__main__":
    sys.exit(main())
