#!/usr/bin/env python3
"""asyncio benchmark: aioca's API (camonitor, caget) on aioca and on caffi.aio, beside C.

    python benchmarks/aio_bench.py            # full: N = 1000, 5000; ao; wf1m; caget; peers
    python benchmarks/aio_bench.py --short    # CI: N = 1000, short windows, C + caffi.aio
    python benchmarks/aio_bench.py --help

The asyncio clients run benchmarks/aio_subscriber.py, which imports its library by name:
``aioca`` (aioca 2.1, installed apart from the venv by peers.py and run through
peer_launcher.py) or ``caffi.aio`` (this caffi's asyncio module, whose API is aioca's).  When
``caffi.aio`` is not importable it is skipped with a note (and so are its floors).  Every
client runs in its own process pinned to the client CPU; the IOC (and the publisher) have the
server CPU, as in many_pv_bench.py and monitor_bench.py.  Four parts, subscribers interleaved
within each repeat, medians over the repeats, every ratio taken to C in the same repeat:

1. many -- N counter PVs at 10 Hz (many_pv_bench.py's generated IOC of calc records):
   ``camonitor(list, callback, format=FORMAT_TIME, all_updates=True / False)`` against
   c/ca_many_subscriber.  CPU % and us per delivered update, x C, missed updates (counter gaps
   seen in the callback values), delivered fraction (updates / N x the IOC rate C saw x window).
2. ao -- the scalar ``bench:ao`` at the full rate of monitor_bench.py's C publisher
   (c/ca_publisher), ``camonitor(pv, cb, format=FORMAT_TIME)`` against c/ca_subscriber
   (DBR_TIME_DOUBLE): CPU us per update, x C, delivered / published (of pub), missed.
3. wf1m -- the 1M-element DOUBLE waveform ``bench:wf1m``, same, FORMAT_RAW / DBR_DOUBLE.
4. caget -- ``caget(list of 1000 PVs)`` in one call: the first (cold: creates and connects the
   channels) and then ITERATIONS more (warm), wall time each, against c/ca_caget_many
   (ca_array_get_callback on each channel, one flush, wait until all are in).

Targets are reported (met / NOT MET); --short checks generous CI floors on caffi.aio (skipped
when it is absent) and exits 1 on a broken floor or a failed C / caffi.aio client.  --json
writes the tables and every run.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_results  # noqa: E402
import peers  # noqa: E402
from bench_results import SUBSCRIBER_COLUMNS, Column, RepeatRuns, med, runs_table  # noqa: E402
from many_pv_bench import PREFIX, RATE_HZ, Runs, many_ioc  # noqa: E402
from monitor_bench import (BUILD_DIR, C_DIR, SUBJECTS, Pinning, bench_ioc,  # noqa: E402
                           free_port_block, make_env, run_client, with_publisher)

SCRIPT = os.path.join(HERE, "aio_subscriber.py")
ONE_SUBJECTS = {s.name: s for s in SUBJECTS if s.name in ("ao", "wf1m")}
CAGET_N = 1000


class Sub:
    """An asyncio client library, imported by aio_subscriber.py under *module*."""

    def __init__(self, name, module, peer=None):
        self.name, self.module, self.peer = name, module, peer
        self.env = {}
        self.origin = None

    def prepare(self, env):
        """Install a peer / check that the module imports; raises RuntimeError if not."""
        if self.peer is not None:
            self.env = self.peer.prepare()
            return
        # as the client will import it: sys.path[0] is benchmarks/ (for "python -c", the
        # working directory), never the repository root, whose caffi/ is the source tree
        proc = subprocess.run([sys.executable, "-c", "import %s as m; print(m.__file__)"
                               % self.module], env=env, cwd=HERE, capture_output=True,
                              text=True)
        if proc.returncode:
            lines = proc.stderr.strip().splitlines()
            raise RuntimeError("not importable (%s)" % (lines[-1] if lines else "rc=%d"
                                                           % proc.returncode))
        self.origin = proc.stdout.strip()

    def argv(self, args):
        args = [SCRIPT, self.module] + [str(a) for a in args]
        if self.peer is not None:
            return self.peer.argv(args)
        return [sys.executable] + args


LIBS = {s.name: s for s in [Sub("aioca", "aioca", peers.AIOCA), Sub("caffi.aio", "caffi.aio")]}
MODES = {"all": True, "merge": False}          # label -> camonitor's all_updates


def label(lib, mode):
    return "%s all_updates=%s" % (lib, MODES[mode])


# The targets, reported as met / NOT MET (never asserted):
# (label, part, config, subscriber, kind, limit).  Kinds: cpu_ratio (CPU us/update / C's, same
# repeat), missed (largest over the repeats), caget_ratio (warm caget wall time / C's).
TARGETS = [
    ("N=5000 camonitor all_updates=True: CPU/update vs C", "many", 5000,
     "caffi.aio all_updates=True", "cpu_ratio", 2.5),
    ("N=5000 camonitor all_updates=True: missed", "many", 5000,
     "caffi.aio all_updates=True", "missed", 0),
    ("N=5000 camonitor all_updates=False: CPU/update vs C", "many", 5000,
     "caffi.aio all_updates=False", "cpu_ratio", 2.5),
    ("N=5000 camonitor all_updates=False: missed", "many", 5000,
     "caffi.aio all_updates=False", "missed", 0),
    ("wf1m camonitor: CPU/update vs C", "one", "wf1m", "caffi.aio all_updates=False",
     "cpu_ratio", 1.05),
    ("wf1m camonitor all_updates=True: CPU/update vs C", "one", "wf1m",
     "caffi.aio all_updates=True", "cpu_ratio", 1.05),
    ("caget of 1000 PVs: wall time vs C", "caget", CAGET_N, "caffi.aio", "caget_ratio", 1.5),
]

# CI floors (--short: N = 1000, 1-2 s windows on a shared 2-core machine), on caffi.aio only:
# generous, so that noise does not trip them; a gross regression does.
FLOORS = [
    ("many", 1000, "caffi.aio all_updates=True", "cpu_ratio", 6.0,
     "the target is 2.5x C at 5000 PVs; 6x at 1000 (where C's per-update floor is higher) "
     "means Python work per update grew several-fold (a task or future per update, one event "
     "loop wake-up per update instead of per batch)"),
    ("many", 1000, "caffi.aio all_updates=False", "cpu_ratio", 6.0,
     "as above, with merging: it can only be cheaper than all_updates=True"),
    ("many", 1000, "caffi.aio all_updates=True", "delivered", 0.9,
     "10,000 updates/s must all reach the callbacks (aioca, falling behind, delivers less); "
     "below 0.9 the loop no longer keeps up"),
    ("many", 1000, "caffi.aio all_updates=True", "missed", 0,
     "with all_updates=True nothing may be merged or dropped: a counter gap is a lost update"),
    ("one", "ao", "caffi.aio all_updates=True", "cpu_ratio", 4.0,
     "a scalar update costs C ~10-25 us here, mostly the kernel wake-up (aioca ~2x with "
     "all_updates=True); 4x means the path from libca's callback to the Python callback got "
     "several times slower (all_updates=True: no merging, so every update is paid and counted)"),
    ("one", "wf1m", "caffi.aio all_updates=False", "cpu_ratio", 2.0,
     "8 MB per update: one more copy cannot double the cost; an element-wise conversion can"),
    ("caget", CAGET_N, "caffi.aio", "caget_ratio", 5.0,
     "the target is 1.5x C's wall time (C reads 1000 PVs in ~0.3 ms); caffi.aio issues the list "
     "in one call and wakes once (1.4-2.2x C here, by load); 5x leaves room for a busy CPU 1 "
     "and catches a return to Python work per PV (a task, future or callback per PV was "
     "35-80x, aioca's gather ~400x)"),
]


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------

TABLES = []     # (title, header, rows) of every table printed, for --markdown


def print_table(title, hdr, rows, left=2):
    """bench_results' table, also kept for --markdown."""
    TABLES.append((title, hdr, rows, left))
    bench_results.print_table(title, hdr, rows, left)


class OneRuns(RepeatRuns):
    """Single-PV runs by (subject, subscriber), each with the publisher's result as "pub"."""

    LARGEST = ("missed",)

    def add(self, subject, sub, rep, r, pub):
        r = super().add(subject, sub, rep, r)
        r["pub"] = pub
        r["cpu_pct"] = 100.0 * r["cpu_s"] / r["seconds"]
        r["of_pub"] = (r["updates_per_s"] / pub["puts_per_s"]) if pub.get("puts_per_s") \
            else None

    def stat(self, subject, sub, key):
        if key == "pub":
            return med([r["pub"].get("puts_per_s") for r in self.get(subject, sub)])
        return super().stat(subject, sub, key)


class CagetRuns(RepeatRuns):
    """caget runs by (number of PVs, subscriber), with "warm_s", "warm_min_s" and
    "cpu_per_get_s" derived."""

    def add(self, n, sub, rep, r):
        gets = sorted(r["gets"])
        r = super().add(n, sub, rep, r)
        r["warm_s"], r["warm_min_s"] = med(gets), gets[0]
        r["cpu_per_get_s"] = r["cpu_s"] / r["iterations"]


MANY_COLUMNS = SUBSCRIBER_COLUMNS + [
    Column("delivered", "delivered", "%.3f"),
    Column("updates", "updates", "%.0f"),
    Column("connect ms", "connect_s", "%.0f", scale=1e3),
    Column("RSS MB", "rss_mb", "%.1f"),
    Column("IOC Hz", "ioc_hz", "%.2f"),
]
ONE_COLUMNS = SUBSCRIBER_COLUMNS + [
    Column("delivered", "of_pub", "%.3f"),
    Column("updates/s", "updates_per_s", "%.0f"),
    Column("pub puts/s", "pub", "%.0f"),
]
CAGET_COLUMNS = [
    Column("warm ms", "warm_s", "%.2f", scale=1e3),
    Column("min ms", "warm_min_s", "%.2f", scale=1e3),
    Column("xC", "warm_s", "%.2f", to_c=True),
    Column("cold ms", "cold_s", "%.1f", scale=1e3),
    Column("cold xC", "cold_s", "%.2f", to_c=True),
    Column("CPU ms/caget", "cpu_per_get_s", "%.2f", scale=1e3),
    Column("CPU xC", "cpu_per_get_s", "%.2f", to_c=True),
]


def many_table(runs, ns, subs):
    hdr, rows = runs_table(runs, ns, subs, MANY_COLUMNS, case_header="N")
    print_table("1. camonitor of N counter PVs at %d Hz (medians; CPU = user + sys of the "
                "subscriber process over the window; xC = ratio to C in the same repeat; "
                "missed = counter gaps, largest run; delivered = updates / (N x C's IOC Hz x "
                "window))" % RATE_HZ, hdr, rows)


def one_table(one, subjects, subs):
    hdr, rows = runs_table(one, subjects, subs, ONE_COLUMNS, case_header="subject")
    print_table("2./3. camonitor of one PV at the C publisher's full rate (medians; xC = ratio "
                "to C in the same repeat; missed = counter gaps seen by the callback, largest "
                "run (C does not count them); delivered = updates/s / publisher puts/s)",
                hdr, rows)


def caget_table(cg, subs, n, iterations):
    hdr, rows = runs_table(cg, [n], subs, CAGET_COLUMNS)
    print_table("4. caget of a list of %d PVs in one call (medians over the repeats of each "
                "run's median of %d warm cagets; cold = the first, which creates and connects "
                "the channels; xC = ratio to C in the same repeat)" % (n, iterations),
                hdr, rows, left=1)


def measure(kind, part, config, sub, runs, one, cg):
    if part == "many":
        if kind == "cpu_ratio":
            return runs.ratio(config, sub, "cpu_us_per_update")
        return runs.stat(config, sub, kind)
    if part == "one":
        if kind == "cpu_ratio":
            return one.ratio(config, sub, "cpu_us_per_update")
        return one.stat(config, sub, kind)
    if part == "caget":
        return cg.ratio(config, sub, "warm_s")
    raise ValueError(part)


def within(kind, value, limit):
    return value >= limit if kind == "delivered" else value <= limit


def limit_text(kind, limit):
    return {"cpu_ratio": "<= %gx C", "caget_ratio": "<= %gx C", "missed": "== %d",
            "delivered": ">= %g"}[kind] % limit


def describe(kind, value):
    if value is None:
        return "-"
    return {"cpu_ratio": "%.2fx", "caget_ratio": "%.2fx", "missed": "%d",
            "delivered": "%.3f"}[kind] % value


def target_table(runs, one, cg):
    rows = []
    for text, part, config, sub, kind, limit in TARGETS:
        value = measure(kind, part, config, sub, runs, one, cg)
        aioca = measure(kind, part, config, sub.replace("caffi.aio", "aioca"), runs, one, cg)
        rows.append((text, describe(kind, value), describe(kind, aioca),
                     limit_text(kind, limit),
                     "-" if value is None else "met" if within(kind, value, limit)
                     else "NOT MET"))
    print_table("Targets for caffi.aio (reported, not asserted; '-': not measured)",
                ("target", "caffi.aio", "aioca", "target", "status"), rows, left=1)


def check_floors(runs, one, cg, have_caffi_aio):
    print("\nCI floors on caffi.aio (--short fails on these)")
    if not have_caffi_aio:
        print("  skipped: caffi.aio is not importable (not measured)")
        return [], 0
    failed, passed = [], 0
    for part, config, sub, kind, limit, reason in FLOORS:
        value = measure(kind, part, config, sub, runs, one, cg)
        if value is None:       # a part or mode left out with --parts / --modes / --subjects
            status = "not measured"
        elif within(kind, value, limit):
            status, passed = "ok", passed + 1
        else:
            status = "FAILED"
            failed.append("%s/%s/%s/%s" % (part, config, sub, kind))
        print("  %-5s %-5s %-28s %-11s %-8s %-9s %s" % (
            part, config, sub, kind, describe(kind, value), limit_text(kind, limit), status))
        if status == "FAILED":
            print("      reason for the floor: " + reason)
    return failed, passed


def write_markdown(path, header):
    """The printed tables as Markdown (for benchmarks/README.md)."""
    with open(path, "w") as f:
        f.write(header + "\n")
        for title, hdr, rows, left in TABLES:
            f.write("\n%s\n\n| %s |\n|%s|\n" % (title, " | ".join(hdr), "|".join(
                "---" if i < left else "---:" for i in range(len(hdr)))))
            for row in rows:
                f.write("| %s |\n" % " | ".join(str(x) for x in row))


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--short", action="store_true",
                    help="CI mode: N = 1000, 3 repeats, short windows, no peers (C + caffi.aio), "
                    "CI floors checked; under 3 minutes")
    ap.add_argument("--parts", default="many,one,caget",
                    help="comma separated subset of: %(default)s")
    ap.add_argument("--ns", help="comma separated N for part 1 (1000,5000; short 1000)")
    ap.add_argument("--subjects", default="ao,wf1m", help="part 2/3 subjects (%(default)s)")
    ap.add_argument("--modes", default="all,merge",
                    help="camonitor's all_updates: all (True), merge (False); %(default)s")
    ap.add_argument("--libs", default=",".join(LIBS),
                    help="comma separated asyncio libraries: %(default)s")
    ap.add_argument("--peers", action="store_true",
                    help="with --short: measure aioca too (installed on first use)")
    ap.add_argument("--no-peers", action="store_true", help="leave out aioca")
    ap.add_argument("--repeats", type=int, help="repeats (3; short 3)")
    ap.add_argument("--window", type=float, help="part 1 window [s] (5; short 2)")
    ap.add_argument("--warmup", type=float, help="part 1 warm-up [s] (2; short 1)")
    ap.add_argument("--one-window", type=float, help="part 2/3 window [s] (5; short 1.5)")
    ap.add_argument("--one-warmup", type=float, help="part 2/3 warm-up [s] (1; short 0.5)")
    ap.add_argument("--caget-iterations", type=int, help="warm cagets per run (20; short 10)")
    ap.add_argument("--pub-lead", type=float, default=0.5,
                    help="start the publisher this long before the subscriber [s]")
    ap.add_argument("--server-cpu", default="0", help="CPU(s) for the IOC + publisher (0)")
    ap.add_argument("--client-cpu", default="1", help="CPU(s) for the client (1)")
    ap.add_argument("--no-build", action="store_true", help="skip building the C programs")
    ap.add_argument("--json", metavar="PATH", help="write the tables and every run here")
    ap.add_argument("--markdown", metavar="PATH", help="write the tables as Markdown here")
    args = ap.parse_args()
    d = dict(ns="1000", repeats=3, window=2.0, warmup=1.0, one_window=1.5, one_warmup=0.5,
             caget_iterations=10) if args.short else dict(
        ns="1000,5000", repeats=3, window=5.0, warmup=2.0, one_window=5.0, one_warmup=1.0,
        caget_iterations=20)
    for key, value in d.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.ns = [int(x) for x in str(args.ns).split(",")]
    args.parts = args.parts.split(",")
    args.subjects = [s for s in args.subjects.split(",") if s in ONE_SUBJECTS]
    args.modes = [m for m in args.modes.split(",") if m in MODES]
    return args


def main():
    args = parse_args()
    t_start = time.monotonic()
    no_peers = args.no_peers or (args.short and not args.peers)
    libs = [n for n in LIBS if n in args.libs.split(",") and not (no_peers and LIBS[n].peer)]
    if not args.no_build:
        subprocess.run([sys.executable, os.path.join(C_DIR, "build.py"), BUILD_DIR],
                       check=True, stdout=subprocess.DEVNULL)
    pin = Pinning(args.server_cpu, args.client_cpu)
    skipped = {}
    for name in libs:
        try:
            LIBS[name].prepare(make_env(0))
        except Exception as exc:  # noqa: BLE001  (absent / not installable: say so, go on)
            skipped[name] = str(exc)
            print("%s skipped: %s" % (name, exc), flush=True)
    libs = [n for n in libs if n not in skipped]
    for name in libs:
        if LIBS[name].peer is None:
            print("%s from %s" % (name, LIBS[name].origin), flush=True)
    have_caffi_aio = "caffi.aio" in libs
    subs = ["C"] + [label(lib, m) for lib in libs for m in args.modes]
    lib_of = {label(lib, m): (LIBS[lib], m) for lib in libs for m in args.modes}
    print("asyncio clients: %s; %s; repeats %d" % (
        ", ".join(libs) or "none (C only)", "IOC(+publisher) on CPU %s, client on CPU %s" % (
            args.server_cpu, args.client_cpu) if pin.enabled else "no CPU pinning",
        args.repeats), flush=True)

    runs, one, cg = Runs(), OneRuns(), CagetRuns()
    failures, failed_at, why = [], {}, {}

    def failed(name, key, what, exc, peer):
        text = str(exc)[-1500:]
        if peer:        # a peer that fails is reported and left out from this case on
            failed_at[key] = what       # (many: from this N on; it fails so with more PVs)
            why["%s %s" % (name, what)] = text
            print("  %s left out from %s on: %s" % (name, what, text), flush=True)
        else:
            failures.append("%s %s" % (name, what))
            print("  %s %s FAILED: %s" % (name, what, text), flush=True)

    if "many" in args.parts or "caget" in args.parts:
        port = free_port_block()
        env = make_env(port)
        records = max(args.ns + [CAGET_N])
        t_ioc = time.monotonic()
        with many_ioc(port, pin, records):
            print("counter IOC (%d calc records at %d Hz) ready in %.1f s on port %d" % (
                records, RATE_HZ, time.monotonic() - t_ioc, port), flush=True)
            for rep in range(args.repeats if "many" in args.parts else 0):
                for n in args.ns:
                    timeout = 30.0 + n / 200.0
                    for sub in subs:
                        if n >= failed_at.get(("many", sub), n + 1):
                            continue
                        if sub == "C":
                            argv, extra = [os.path.join(BUILD_DIR, "ca_many_subscriber"),
                                           PREFIX, str(n), str(args.window), str(args.warmup),
                                           str(timeout)], {}
                        else:
                            lib, mode = lib_of[sub]
                            argv = lib.argv(["many", PREFIX, n, args.window, args.warmup,
                                             timeout, int(MODES[mode])])
                            extra = lib.env
                        try:
                            r = run_client(argv, dict(env, **extra), pin,
                                           args.warmup + args.window + timeout + 60,
                                           "%s N=%d" % (sub, n))
                        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                            if sub.startswith("aioca"):
                                failed(sub, ("many", sub), "N=%d" % n, exc, True)
                                failed_at[("many", sub)] = n
                            else:
                                failed(sub, None, "N=%d" % n, exc, False)
                            continue
                        runs.add(n, sub, rep, r)
                        r = runs.get(n, sub)[-1]
                        print("  [%d/%d] N=%-5d %-28s %5.1f%% CPU %8.2f us/upd  missed %-7d "
                              "delivered %.3f  IOC %.2f Hz" % (
                                  rep + 1, args.repeats, n, sub, r["cpu_pct"],
                                  r["cpu_us_per_update"] or float("nan"), r["missed"],
                                  r["delivered"] or float("nan"), r["ioc_hz"] or float("nan")),
                              flush=True)
            if "caget" in args.parts:
                caget_subs = ["C"] + libs
                for rep in range(args.repeats):
                    for sub in caget_subs:
                        if ("caget", sub) in failed_at:
                            continue
                        if sub == "C":
                            argv, extra = [os.path.join(BUILD_DIR, "ca_caget_many"), PREFIX,
                                           str(CAGET_N), str(args.caget_iterations), "30"], {}
                        else:
                            argv = LIBS[sub].argv(["caget", PREFIX, CAGET_N,
                                                   args.caget_iterations, 30])
                            extra = LIBS[sub].env
                        try:
                            r = run_client(argv, dict(env, **extra), pin, 120,
                                           "caget %s" % sub)
                        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                            failed(sub, ("caget", sub), "caget", exc, sub == "aioca")
                            continue
                        cg.add(CAGET_N, sub, rep, r)
                        r = cg.get(CAGET_N, sub)[-1]
                        print("  [%d/%d] caget %d PVs %-10s warm %7.2f ms (min %7.2f)  cold "
                              "%7.1f ms  CPU %6.2f ms/caget" % (
                                  rep + 1, args.repeats, CAGET_N, sub, 1e3 * r["warm_s"],
                                  1e3 * r["warm_min_s"], 1e3 * r["cold_s"],
                                  1e3 * r["cpu_per_get_s"]), flush=True)

    if "one" in args.parts and args.subjects:
        port = free_port_block()
        env = make_env(port)
        with bench_ioc(port, pin):
            for rep in range(args.repeats):
                for name in args.subjects:
                    s = ONE_SUBJECTS[name]
                    for sub in subs:
                        if ("one", name, sub) in failed_at:
                            continue
                        if sub == "C":
                            argv, extra = [os.path.join(BUILD_DIR, "ca_subscriber"), s.pv,
                                           s.dbr_type, str(args.one_window),
                                           str(args.one_warmup)], {}
                        else:
                            lib, mode = lib_of[sub]
                            argv = lib.argv(["one", s.pv, "time" if s.count == 1 else "raw",
                                             args.one_window, args.one_warmup,
                                             int(MODES[mode])])
                            extra = lib.env
                        limit = args.one_warmup + args.one_window + 60
                        try:
                            r, pub = with_publisher(
                                s, env, pin, args.pub_lead, limit + 30,
                                lambda: run_client(argv, dict(env, **extra), pin, limit,
                                                   "%s %s" % (sub, name)))
                        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                            failed(sub, ("one", name, sub), name, exc, sub.startswith("aioca"))
                            continue
                        one.add(name, sub, rep, r, pub)
                        r = one.get(name, sub)[-1]
                        print("  [%d/%d] %-5s %-28s %5.1f%% CPU %9.2f us/upd  %8.0f upd/s "
                              "(of pub %.3f)  missed %s" % (
                                  rep + 1, args.repeats, name, sub, r["cpu_pct"],
                                  r["cpu_us_per_update"] or float("nan"), r["updates_per_s"],
                                  r["of_pub"] or float("nan"),
                                  "-" if r.get("missed") is None else r["missed"]), flush=True)

    print("\ntotal %.0f s; load average at the end %s" % (
        time.monotonic() - t_start, " ".join(open("/proc/loadavg").read().split()[:3])))
    if "many" in args.parts:
        many_table(runs, args.ns, subs)
    if "one" in args.parts:
        one_table(one, args.subjects, subs)
    if "caget" in args.parts:
        caget_table(cg, ["C"] + libs, CAGET_N, args.caget_iterations)
    for name, reason in skipped.items():
        print("\n%s not measured: %s" % (name, reason))
    for name, reason in why.items():
        print("\n%s failed (left out from there on): %s" % (name, reason))
    target_table(runs, one, cg)
    floors_failed, floors_passed = (check_floors(runs, one, cg, have_caffi_aio)
                                    if args.short else ([], 0))

    if args.json:
        results = {
            "config": {k: getattr(args, k) for k in (
                "short", "parts", "ns", "subjects", "modes", "repeats", "window", "warmup",
                "one_window", "one_warmup", "caget_iterations")},
            "load": open("/proc/loadavg").read().split()[:3],
            "libs": libs, "not_measured": dict(skipped, **why),
            "many": [{"n": n, "subscriber": s,
                      "cpu_pct": runs.stat(n, s, "cpu_pct"),
                      "cpu_us_per_update": runs.stat(n, s, "cpu_us_per_update"),
                      "cpu_ratio_c": runs.ratio(n, s, "cpu_us_per_update"),
                      "missed": runs.stat(n, s, "missed"),
                      "delivered": runs.stat(n, s, "delivered"),
                      "connect_s": runs.stat(n, s, "connect_s"),
                      "ioc_hz": runs.stat(n, s, "ioc_hz"), "runs": runs.get(n, s)}
                     for n in args.ns for s in subs if runs.get(n, s)],
            "one": [{"subject": name, "subscriber": s,
                     "cpu_pct": one.stat(name, s, "cpu_pct"),
                     "cpu_us_per_update": one.stat(name, s, "cpu_us_per_update"),
                     "cpu_ratio_c": one.ratio(name, s, "cpu_us_per_update"),
                     "missed": one.stat(name, s, "missed"),
                     "delivered": one.stat(name, s, "of_pub"),
                     "updates_per_s": one.stat(name, s, "updates_per_s"),
                     "runs": one.get(name, s)}
                    for name in args.subjects for s in subs if one.get(name, s)],
            "caget": [{"subscriber": s, "n": CAGET_N,
                       "warm_s": cg.stat(CAGET_N, s, "warm_s"),
                       "warm_ratio_c": cg.ratio(CAGET_N, s, "warm_s"),
                       "cold_s": cg.stat(CAGET_N, s, "cold_s"),
                       "cold_ratio_c": cg.ratio(CAGET_N, s, "cold_s"),
                       "cpu_per_caget_s": cg.stat(CAGET_N, s, "cpu_per_get_s"),
                       "runs": cg.get(CAGET_N, s)}
                      for s in ["C"] + libs if cg.get(CAGET_N, s)],
            "floors": {"failed": floors_failed, "passed": floors_passed,
                       "skipped": not have_caffi_aio} if args.short else None,
        }
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.markdown:
        write_markdown(args.markdown, "aio_bench.py %s: %s, load average %s at the end" % (
            " ".join(sys.argv[1:]), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            " ".join(open("/proc/loadavg").read().split()[:3])))
    if failures:
        print("\nfailed: " + ", ".join(failures))
    if args.short:
        print("\nfloors: %d passed, %d failed%s" % (
            floors_passed, len(floors_failed),
            " (skipped: caffi.aio not importable)" if not have_caffi_aio else ""))
    return 1 if failures or floors_failed else 0


if __name__ == "__main__":
    sys.exit(main())
