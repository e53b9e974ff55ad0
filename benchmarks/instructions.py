#!/usr/bin/env python3
"""Instructions per operation on caffi's hot paths, counted with valgrind's callgrind.

    python benchmarks/instructions.py [--repeats 3] [--paths callback,monitor,drain100]
                                      [--tree DIR]

CPU time on these shared machines moves by 10-20 % from run to run; instruction counts of the
same binary on the same input do not, so they can compare two builds (before and after a
refactoring) to a fraction of a percent.  Each path is counted with callgrind's
``--toggle-collect`` on the one C function that is the operation, in a client that crosses the
real wire (a soft IOC on 127.0.0.1, the C publisher writing ``bench:ao`` as fast as it can):

=========== ============================================================================
callback    ``on_update``: everything libca's receive thread runs for one TIME_DOUBLE
            update once it calls caffi (counters, GIL, the §10.3 dict, the user callback)
monitor     ``on_buffered_update``: one update copied into a Monitor's ring
drain100    ``Monitor.drain()`` of a ring holding 100 updates (the zero-copy hand-out)
=========== ============================================================================

``--tree DIR`` counts another checkout's build (for a before/after comparison, build it in
place first: ``python setup.py build_ext --inplace`` in DIR); by default this checkout's.
Results are per operation, medians over ``--repeats`` runs.

Needs valgrind and the C benchmark programs' build tools (benchmarks/c/build.py).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import monitor_bench as bench  # noqa: E402

# Each client prints "operations N" when done; only the toggled function's instructions count.
CLIENT_HEAD = r"""
import sys, threading
sys.path.insert(0, sys.argv[1])
import caffi, caffi.ca as ca
assert caffi.__file__.startswith(sys.argv[1]), caffi.__file__
wanted = int(sys.argv[2])
ca.create_context(True)
status, chid = ca.create_channel('bench:ao')
assert ca.pend_io(10) == ca.ECA.NORMAL
"""

CALLBACK_CLIENT = CLIENT_HEAD + r"""
seen, done = [0], threading.Event()
def on_update(event):
    event['value']['value']
    seen[0] += 1
    if seen[0] == wanted:
        done.set()
status, evid = ca.create_subscription(chid, on_update, ca.DBR.TIME_DOUBLE)
ca.flush_io()
done.wait(600)
ca.clear_subscription(evid)        # after this, no more calls: `seen` is the trampoline's count
print('operations', seen[0], flush=True)
"""

MONITOR_CLIENT = CLIENT_HEAD + r"""
import time
from caffi.monitor import Monitor
with Monitor(chid, ca.DBR.TIME_DOUBLE, depth=1 << 16) as monitor:
    ca.flush_io()
    taken = 0
    while monitor.stats()['updates'] < wanted:
        monitor.wait(1.0)
        time.sleep(0.002)
        taken += len(monitor.drain().counts)
    monitor.close()
    stats = monitor.stats()
# every call of the callback while open stored an update (or counted a drop or failure)
print('operations', stats['updates'] + stats['failures'], flush=True)
"""

DRAIN_CLIENT = CLIENT_HEAD + r"""
from caffi.monitor import Monitor
# a full ring of 100 that drops what arrives: each drain hands out exactly 100 rows
with Monitor(chid, ca.DBR.TIME_DOUBLE, depth=100, overflow='drop_newest') as monitor:
    ca.flush_io()
    drains = 0
    while drains < wanted:
        while monitor.pending < 100:
            monitor.wait(1.0)
        batch = monitor.drain()
        assert len(batch.counts) == 100
        del batch
        drains += 1
print('operations', drains, flush=True)
"""

# path -> (client, callgrind toggle pattern, operations per run)
PATHS = {
    "callback": (CALLBACK_CLIENT, "*_ca_on_update", 3000),
    "monitor": (MONITOR_CLIENT, "*on_buffered_update", 3000),
    "drain100": (DRAIN_CLIENT, "*Monitor_*drain", 200),
}


def count(tree, path, env, pin, subject, out):
    client, toggle, operations = PATHS[path]
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
            "--toggle-collect=" + toggle, sys.executable, "-c", client, tree, str(operations)]
    proc, _ = bench.with_publisher(subject, env, pin, 0.5, 900, lambda: subprocess.run(
        pin.client(argv), env=env, capture_output=True, text=True, timeout=900))
    done = re.search(r"^operations (\d+)$", proc.stdout, re.M)
    collected = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or not done or not collected:
        sys.exit("instructions: %s client failed:\n%s%s" % (path, proc.stdout, proc.stderr[-3000:]))
    return int(collected.group(1)) / int(done.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--paths", default=",".join(PATHS))
    ap.add_argument("--tree", default=REPO, help="checkout whose in-place build is counted")
    args = ap.parse_args()
    paths = args.paths.split(",")
    if shutil.which("valgrind") is None:
        sys.exit("instructions: needs valgrind")
    subprocess.run([sys.executable, os.path.join(bench.C_DIR, "build.py"), bench.BUILD_DIR],
                   check=True, stdout=subprocess.DEVNULL)
    subject = next(s for s in bench.SUBJECTS if s.name == "ao")
    pin = bench.Pinning("0", "1")
    port = bench.free_port_block()
    env = bench.make_env(port)
    results = {p: [] for p in paths}
    with tempfile.TemporaryDirectory(prefix="caffi-instructions-") as root, \
            bench.bench_ioc(port, pin):
        for rep in range(args.repeats):
            for path in paths:
                value = count(os.path.abspath(args.tree), path, env, pin, subject,
                              os.path.join(root, "callgrind.out"))
                results[path].append(value)
                print("  [%d/%d] %-9s %9.0f instructions per operation"
                      % (rep + 1, args.repeats, path, value), flush=True)
    print("\ninstructions per operation, medians of %d (%s):" % (args.repeats, args.tree))
    for path in paths:
        print("  %-9s %9.0f   runs %s" % (path, statistics.median(results[path]),
                                          [round(v) for v in results[path]]))


if __name__ == "__main__":
    main()
