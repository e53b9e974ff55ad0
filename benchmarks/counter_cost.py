#!/usr/bin/env python3
"""What the always-on subscription counters (caffi.stats) cost on the scalar callback path.

    python benchmarks/counter_cost.py [--repeats 2] [--updates 3000]

Wall-clock CPU per update cannot resolve tens of nanoseconds on this machine (run-to-run noise
is several percent of ~12 us), so this counts instructions instead: valgrind's callgrind, with
collection switched on only inside caffi's update trampoline (``on_update``: everything libca's
receive thread runs for one update once it calls caffi, the counters, the GIL, the §10.3 dict
and the user callback included).  Two builds of this checkout are compared, made side by side
in a temporary directory: as it is, and with the counting step removed.  For each, a client
subscribes to ``bench:ao`` (DBR_TIME_DOUBLE, a callback that touches the value, as the monitor
benchmark's) while the C publisher writes it, until it has seen UPDATES updates; instructions
per update = instructions collected / updates.  Builds alternate, ``--repeats`` times each.
Under valgrind clock_gettime() is a system call (~10 instructions counted) where natively the
vDSO reads the clock in ~20 ns.

Needs valgrind, a C compiler and caffi's build requirements (Cython, setuptools_dso,
epicscorelibs) in this interpreter: the developer install of DEVELOPERS.md.
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

# the counting step of the update trampoline (caffi/_ca.pyx); the variant without counters
# replaces it by `pass`
COUNTING_LINE = "count_update(&subscription.counters, request_size(args.type, args.count))"
TRAMPOLINE = "__pyx_f_5caffi_3_ca_on_update"

CLIENT = r"""
import sys, threading
sys.path.insert(0, sys.argv[1])
import caffi, caffi.ca as ca
wanted, seen, done = int(sys.argv[2]), [0], threading.Event()
def on_update(event):
    event['value']['value']
    seen[0] += 1
    if seen[0] == wanted:
        done.set()
ca.create_context(True)
status, chid = ca.create_channel('bench:ao')
assert ca.pend_io(10) == ca.ECA.NORMAL
status, evid = ca.create_subscription(chid, on_update, ca.DBR.TIME_DOUBLE)
ca.flush_io()
done.wait(600)
ca.clear_subscription(evid)        # after this, no more calls: `seen` is the trampoline's count
assert caffi.__file__.startswith(sys.argv[1]), caffi.__file__
print('updates', seen[0], flush=True)
ca.clear_channel(chid)
ca.destroy_context()
"""


def make_build(root, name, counting):
    tree = os.path.join(root, name)
    for part in ("caffi", "include"):
        shutil.copytree(os.path.join(REPO, part), os.path.join(tree, part),
                        ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__"))
    for part in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(os.path.join(REPO, part), tree)
    if not counting:
        path = os.path.join(tree, "caffi", "_ca.pyx")
        with open(path) as f:
            source = f.read()
        if source.count(COUNTING_LINE) != 1:
            sys.exit("counter_cost: the counting step is not where this script expects it")
        with open(path, "w") as f:
            f.write(source.replace(COUNTING_LINE, "pass"))
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tree,
                   check=True, stdout=subprocess.DEVNULL)
    return tree


def instructions_per_update(tree, updates, env, pin, subject, root):
    out = os.path.join(root, "callgrind.out")
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
            "--toggle-collect=" + TRAMPOLINE, sys.executable, "-c", CLIENT, tree, str(updates)]
    proc, _ = bench.with_publisher(subject, env, pin, 0.5, 900, lambda: subprocess.run(
        pin.client(argv), env=env, capture_output=True, text=True, timeout=900))
    seen = re.search(r"^updates (\d+)$", proc.stdout, re.M)
    collected = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or not seen or not collected:
        sys.exit("counter_cost: client failed:\n%s%s" % (proc.stdout, proc.stderr[-3000:]))
    return int(collected.group(1)) / int(seen.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--updates", type=int, default=3000)
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("counter_cost: needs valgrind")
    subprocess.run([sys.executable, os.path.join(bench.C_DIR, "build.py"), bench.BUILD_DIR],
                   check=True, stdout=subprocess.DEVNULL)
    subject = next(s for s in bench.SUBJECTS if s.name == "ao")
    pin = bench.Pinning("0", "1")
    port = bench.free_port_block()
    env = bench.make_env(port)
    results = {"with counters": [], "without": []}
    with tempfile.TemporaryDirectory(prefix="caffi-counter-cost-") as root:
        trees = {"with counters": make_build(root, "with", True),
                 "without": make_build(root, "without", False)}
        with bench.bench_ioc(port, pin):
            for rep in range(args.repeats):
                for name, tree in trees.items():
                    value = instructions_per_update(tree, args.updates, env, pin, subject, root)
                    results[name].append(value)
                    print("  [%d/%d] %-13s %8.0f instructions per update"
                          % (rep + 1, args.repeats, name, value), flush=True)
    with_, without = (statistics.median(results[k]) for k in ("with counters", "without"))
    print("\nscalar callback path (caffi's update trampoline, inclusive), medians:")
    print("  with counters %8.0f instructions per update" % with_)
    print("  without       %8.0f" % without)
    print("  counters      %+8.0f (%+.2f%% of the path)" % (with_ - without,
                                                           100 * (with_ - without) / without))
    print("  runs: with %s, without %s (their spread is the noise of the method: how updates "
          "happen to be batched)" % ([round(v) for v in results["with counters"]],
                                     [round(v) for v in results["without"]]))


if __name__ == "__main__":
    main()
