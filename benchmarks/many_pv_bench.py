#!/usr/bin/env python3
"""Many-PV benchmark: N counter PVs at 10 Hz, subscribers from a C floor to caffi and peers.

    python benchmarks/many_pv_bench.py            # N = 1000, 5000 (+ 10000), 3 repeats, peers
    python benchmarks/many_pv_bench.py --short    # CI: N = 1000, C + this caffi, under 2 min
    python benchmarks/many_pv_bench.py --help

A CA-only soft IOC (caffi._ioc.SoftIoc, database text generated here) serves ``many:0`` ..
``many:<max N - 1>``: calc records with SCAN ".1 second" and CALC "VAL+1", so each PV is a
counter advancing by one ten times a second and a jump of more than one is an update that a
subscriber missed.  For every N and subscriber, interleaved (each N's subscribers in turn, then
the next repeat), a subscriber process pinned to the client CPU (the IOC has the server CPU)
connects the first N PVs, subscribes, warms up and measures over a window:

    C                 c/ca_many_subscriber: libca callback per update, per-PV last value and
                      gap count (the floor)
    caffi-callbacks   caffi.ca.create_subscription per PV, a Python callback checking the counter
    caffi-group       one caffi.monitor.MonitorGroup of all N, a 20 Hz DAQ loop (wait, let the
                      batch gather 50 ms, drain, check the counters with numpy)
    caffi-monitors    one caffi.monitor.Monitor per PV, all drained every 20 ms
    caffi-aio         caffi.aio.camonitor of the list (aioca's API on MonitorGroup rings),
                      the aioca peer's code with caffi.aio imported in its place
    caffi104-callbacks, pyepics-PV, aioca-camonitor   the peers (peers.py), not in --short

Per run: CPU (user + sys of the subscriber process over the window) in % of a CPU and in us per
delivered update, the ratio of the latter to C's in the same repeat, missed updates (counter
gaps over all PVs), the delivered fraction (updates taken / how far the counters advanced:
what the IOC published), the time to connect all N channels and its ratio to C's, RSS at the
end, and the IOC's own rate (counter advance per PV per second: 10 if the IOC kept up).
Medians over the repeats (missed: the largest).  Then MonitorGroup.drain() for 1 / 100 /
10,000 waiting rows (many_pv_drain.py), the targets (met / NOT MET) and, with --short, the CI
floors: the script exits 1 if one fails or a subscriber does.  --json keeps every run, --plot
draws CPU us per update against N (matplotlib, installed like the peers).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peers  # noqa: E402
from bench_results import (SUBSCRIBER_COLUMNS, Column, RepeatRuns, drain_ratio,  # noqa: E402
                           med, print_table, runs_table)
from monitor_bench import (BUILD_DIR, C_DIR, MAX_ARRAY_BYTES, Pinning,  # noqa: E402
                           free_port_block, make_env, run_client)

from caffi import _ioc  # noqa: E402

PREFIX = "many:"
RATE_HZ = 10                          # SCAN ".1 second": the fastest period in menuScan
SUBSCRIBER = os.path.join(HERE, "many_pv_subscriber.py")
DRAIN = os.path.join(HERE, "many_pv_drain.py")
PLOT = os.path.join(HERE, "many_pv_plot.py")
DEFAULT_PLOT = os.path.join(HERE, "many_pv.png")
DRAIN_SIZES = (1, 100, 10000)
DRAIN_MEMBERS = 1000                  # 10,000 rows/s: the largest ring fills in about a second


class Sub:
    def __init__(self, name, kind, peer=None):
        self.name, self.kind, self.peer = name, kind, peer
        self.env = {}

    def prepare(self):
        if self.peer is not None:
            self.env = self.peer.prepare()

    def argv(self, n, window, warmup, timeout):
        args = [PREFIX, str(n), str(window), str(warmup), str(timeout)]
        if self.kind == "c":
            return [os.path.join(BUILD_DIR, "ca_many_subscriber")] + args
        if self.peer is not None:
            return self.peer.argv([SUBSCRIBER, self.kind] + args)
        return [sys.executable, SUBSCRIBER, self.kind] + args


SUBSCRIBERS = {s.name: s for s in [
    Sub("C", "c"),
    Sub("caffi-callbacks", "callbacks"),
    Sub("caffi-group", "group"),
    Sub("caffi-monitors", "monitors"),
    Sub("caffi-aio", "caffi-aio"),
    Sub("caffi104-callbacks", "callbacks", peers.CAFFI_104),
    Sub("pyepics-PV", "pyepics", peers.PYEPICS),
    Sub("aioca-camonitor", "aioca", peers.AIOCA),
]}
CAFFI = ("caffi-callbacks", "caffi-group", "caffi-monitors", "caffi-aio")

# The targets, reported as met / NOT MET (never asserted).
# (label, kind, N, subscriber, limit); kinds: cpu_ratio (CPU us/update / C's, same repeat),
# missed (largest over the repeats), connect_ratio (connect time / C's, same repeat; "caffi":
# the runs of every caffi subscriber of this checkout together).
TARGETS = [
    ("N=1000 MonitorGroup CPU/update vs C", "cpu_ratio", 1000, "caffi-group", 1.2),
    ("N=1000 MonitorGroup missed updates", "missed", 1000, "caffi-group", 0),
    ("N=5000 MonitorGroup CPU/update vs C", "cpu_ratio", 5000, "caffi-group", 1.2),
    ("N=5000 MonitorGroup missed updates", "missed", 5000, "caffi-group", 0),
    ("N=1000 caffi.ca callbacks CPU/update vs C", "cpu_ratio", 1000, "caffi-callbacks", 2.0),
    ("N=5000 caffi.ca callbacks CPU/update vs C", "cpu_ratio", 5000, "caffi-callbacks", 2.0),
    ("N=5000 caffi.aio camonitor CPU/update vs C", "cpu_ratio", 5000, "caffi-aio", 2.5),
    ("N=5000 caffi.aio camonitor missed updates", "missed", 5000, "caffi-aio", 0),
    ("N=1000 caffi connect time vs C", "connect_ratio", 1000, "caffi", 1.2),
    ("N=5000 caffi connect time vs C", "connect_ratio", 5000, "caffi", 1.2),
]

# CI floors (--short: N = 1000, 1-2 s windows on a shared 2-core machine).  Generous, so that
# noise does not trip them, tight enough that a real regression does.
FLOORS = [
    ("cpu_ratio", 1000, "caffi-group", 2.5,
     "a group costs about what C does (one C copy per update into the shared ring, a numpy "
     "pass per 50 ms batch); 2.5x means Python is back on the per-update path (a Python call "
     "per row, or one wake-up per update instead of per batch)"),
    ("cpu_ratio", 1000, "caffi-callbacks", 4.0,
     "a Python callback per update with its TIME dict is ~1.5-2x C here; 4x means the "
     "trampoline got far slower (a thread state per update, the dict rebuilt the slow way)"),
    ("missed", 1000, "caffi-group", 0,
     "10,000 updates/s fit a 65,536-row ring drained at 20 Hz many times over: any gap is a "
     "lost or overwritten row"),
    ("missed", 1000, "C", 0,
     "the floor itself must see every update; a gap means the IOC or the loopback dropped "
     "updates, and then no ratio of this run means anything"),
    ("drain_ratio", 10000, "caffi-group", 5.0,
     "drain() of 10,000 rows hands out the ring's slots (~1x of draining one); a copy of "
     "them costs several times more, a Python object per row ~100x"),
]


# ---------------------------------------------------------------------------------------------
# IOC
# ---------------------------------------------------------------------------------------------

def database(n):
    return "".join('record(calc, "%s%d") {\n    field(SCAN, ".1 second")\n'
                   '    field(CALC, "VAL+1")\n}\n' % (PREFIX, i) for i in range(n))


def many_ioc(port, pin, n):
    return _ioc.SoftIoc(port=port, db_text=database(n), env=make_env(port),
                        max_array_bytes=MAX_ARRAY_BYTES, prefix=pin.server_prefix(),
                        new_session=True, start_timeout=120.0,
                        ready=[_ioc.log_contains("iocRun: All initialization complete")])


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------

class Runs(RepeatRuns):
    """Runs by (N, subscriber)."""

    LARGEST = ("missed",)

    def add(self, n, sub, rep, r):
        r = super().add(n, sub, rep, r)
        r["cpu_us_per_update"] = r["cpu_s"] * 1e6 / r["updates"] if r["updates"] else None
        r["cpu_pct"] = 100.0 * r["cpu_s"] / r["seconds"]
        r["consumer_us"] = (r["consumer_s"] * 1e6 / r["updates"]
                            if r.get("batches") and r["updates"] else None)
        r["ioc_hz"] = r["produced"] / (r["channels"] - r["unseen"]) / r["seconds"] \
            if r["channels"] > r["unseen"] else None

    def get(self, n, sub):
        rs = super().get(n, sub)
        ioc = {r["repeat"]: r["ioc_hz"] for r in self.runs.get((n, "C"), [])}
        for r in rs:
            # of what the IOC published in the window, as C (which keeps up) saw its rate in
            # the same repeat: a subscriber that falls behind sees its counters advance less
            hz = ioc.get(r["repeat"])
            r["delivered"] = r["updates"] / (r["channels"] * hz * r["seconds"]) if hz else None
        return rs

    def stat(self, n, sub, key):
        if key == "rss_mb":
            return med([r["rss_bytes"] / 1e6 for r in self.get(n, sub)])
        return super().stat(n, sub, key)

    def members(self, sub):
        return CAFFI if sub == "caffi" else (sub,)


RUN_COLUMNS = SUBSCRIBER_COLUMNS + [
    Column("delivered", "delivered", "%.4f"),
    Column("consumer", "consumer_us", "%.2f"),
    Column("updates", "updates", "%.0f"),
    Column("connect ms", "connect_s", "%.0f", scale=1e3),
    Column("conn xC", "connect_s", "%.2f", to_c=True),
    Column("RSS MB", "rss_mb", "%.1f"),
    Column("IOC Hz", "ioc_hz", "%.2f"),
]


def run_table(runs, ns, subs):
    hdr, rows = runs_table(runs, ns, subs, RUN_COLUMNS, case_header="N")
    print_table("Many PVs (medians; CPU = user + sys of the subscriber process over the window; "
                "xC = ratio to C in the same repeat; missed = counter gaps, largest run; "
                "delivered = updates taken / (N x C's IOC Hz x window); consumer = CPU of the group's "
                "drain and numpy check per update; IOC Hz = counter advance per PV per second "
                "as this subscriber saw it)", hdr, rows)


def drain_table(drain):
    if not drain:
        return
    one = drain["sizes"]["1"]["drain_us"]
    rows = [(s, "%.2f" % m["drain_us"], "%.2f" % m["drain_min_us"],
             "%.2f" % (m["drain_us"] / one), "%d x %d" % (m["groups"] - 1,
                                                        m["drains"] // (m["groups"] - 1)))
            for s, m in drain["sizes"].items()]
    print_table("MonitorGroup.drain() of N waiting rows (group of %d PVs; medians; x1 = ratio "
                "to N = 1)" % drain["members"],
                ("N", "drain us", "min us", "x1", "timed groups x rounds"), rows)


def measure(kind, runs, drain, n, sub):
    if kind == "cpu_ratio":
        return runs.ratio(n, sub, "cpu_us_per_update")
    if kind == "connect_ratio":
        return runs.ratio(n, sub, "connect_s")
    if kind == "missed":
        return runs.stat(n, sub, "missed")
    if kind == "drain_ratio":
        return drain_ratio((drain or {}).get("sizes", {}), n)
    raise ValueError(kind)


def describe(kind, value, runs, n, sub):
    if value is None:
        return "-"
    if kind == "cpu_ratio":
        return "%.2fx (%.2f vs C %.2f us)" % (value, runs.stat(n, sub, "cpu_us_per_update"),
                                             runs.stat(n, "C", "cpu_us_per_update"))
    if kind == "connect_ratio":
        caffi = med([r["connect_s"] for s in CAFFI for r in runs.get(n, s)]) \
            if sub == "caffi" else runs.stat(n, sub, "connect_s")
        return "%.2fx (%.0f vs C %.0f ms)" % (value, 1e3 * caffi,
                                             1e3 * runs.stat(n, "C", "connect_s"))
    if kind == "missed":
        return "%d" % value
    if kind == "drain_ratio":
        return "%.2fx" % value
    raise ValueError(kind)


def limit_text(kind, limit):
    return ("== 0" if kind == "missed" else "<= %gx C" % limit if kind.endswith("ratio")
            and kind != "drain_ratio" else "<= %gx N=1" % limit)


def target_table(runs, drain):
    rows = []
    for label, kind, n, sub, limit in TARGETS:
        value = measure(kind, runs, drain, n, sub)
        rows.append((label, describe(kind, value, runs, n, sub), limit_text(kind, limit),
                     "-" if value is None else "met" if value <= limit else "NOT MET"))
    if drain:
        value = measure("drain_ratio", runs, drain, max(DRAIN_SIZES), "caffi-group")
        rows.append(("MonitorGroup drain() of 10,000 rows vs of 1 (flat)",
                     describe("drain_ratio", value, runs, 0, ""), "<= 1.5x N=1",
                     "met" if value <= 1.5 else "NOT MET"))
    print_table("Targets (reported, not asserted)", ("target", "measured", "target", "status"),
                rows)


def check_floors(runs, drain):
    print("\nCI floors (--short fails on these)")
    failed = []
    for kind, n, sub, limit, reason in FLOORS:
        value = measure(kind, runs, drain, n, sub)
        status = ("not measured" if value is None else "ok" if value <= limit else "FAILED")
        print("  N=%-5d %-16s %-12s %-28s %-11s %s" % (
            n, sub, kind, describe(kind, value, runs, n, sub), limit_text(kind, limit),
            status))
        if value is None or value > limit:
            failed.append("%s/%s/%d" % (sub, kind, n))
            print("      reason for the floor: " + reason)
    return failed


def plot(results, path):
    """CPU us per update against N, in a matplotlib installed apart from the venv."""
    try:
        peers.MATPLOTLIB.install()
    except Exception as exc:  # noqa: BLE001  (no registry, no wheel: say so, go on)
        print("plot skipped: matplotlib could not be installed (%s)" % exc)
        return
    tmp = path + ".json"
    with open(tmp, "w") as f:
        json.dump(results, f)
    try:
        proc = subprocess.run(peers.MATPLOTLIB.argv([PLOT, tmp, path]), capture_output=True,
                              text=True, env=dict(os.environ, MPLBACKEND="Agg"))
    finally:
        os.unlink(tmp)
    if proc.returncode:
        print("plot skipped: matplotlib failed:\n" + proc.stderr[-2000:])
    else:
        print("plot written to %s" % path)


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--short", action="store_true",
                    help="CI mode: N = 1000, C + this caffi only, short windows, 2 repeats, "
                    "CI floors checked")
    ap.add_argument("--ns", help="comma separated N (1000,5000; short 1000)")
    ap.add_argument("--heavy", type=int, default=10000,
                    help="the heavier case's N (10000 PVs at 10 Hz: 100,000 updates/s; 0: "
                    "none; not in --short)")
    ap.add_argument("--window", type=float, help="window [s] (5; short 2)")
    ap.add_argument("--warmup", type=float, help="warm-up [s] (2; short 1)")
    ap.add_argument("--repeats", type=int, help="repeats (3; short 2)")
    ap.add_argument("--subscribers", default=",".join(SUBSCRIBERS),
                    help="comma separated subset of: %(default)s")
    ap.add_argument("--no-peers", action="store_true", help="leave out the peers")
    ap.add_argument("--no-drain", action="store_true", help="skip the drain() measurement")
    ap.add_argument("--server-cpu", default="0", help="CPU(s) for the IOC (0)")
    ap.add_argument("--client-cpu", default="1", help="CPU(s) for the subscriber (1)")
    ap.add_argument("--no-build", action="store_true", help="skip building the C programs")
    ap.add_argument("--json", metavar="PATH", help="write the table and every run here")
    ap.add_argument("--plot", metavar="PATH",
                    help="PNG of CPU us per update vs N (default %s; none in --short unless "
                    "given)" % os.path.relpath(DEFAULT_PLOT))
    args = ap.parse_args()
    defaults = (("1000", 2.0, 1.0, 2) if args.short else ("1000,5000", 5.0, 2.0, 3))
    args.ns = [int(x) for x in (args.ns or defaults[0]).split(",")]
    if not args.short and args.heavy and args.heavy not in args.ns:
        args.ns.append(args.heavy)
    args.window = defaults[1] if args.window is None else args.window
    args.warmup = defaults[2] if args.warmup is None else args.warmup
    args.repeats = defaults[3] if args.repeats is None else args.repeats
    if args.plot is None and not args.short:
        args.plot = DEFAULT_PLOT
    return args


def main():
    args = parse_args()
    t_start = time.monotonic()
    no_peers = args.short or args.no_peers
    subs = [s for s in SUBSCRIBERS if s in args.subscribers.split(",")
            and not (no_peers and SUBSCRIBERS[s].peer)]
    if "C" not in subs:
        subs.insert(0, "C")          # every ratio is to C in the same repeat
    if not args.no_build:
        subprocess.run([sys.executable, os.path.join(C_DIR, "build.py"), BUILD_DIR],
                       check=True, stdout=subprocess.DEVNULL)
    skipped = {}
    for name in subs:
        try:
            SUBSCRIBERS[name].prepare()
        except Exception as exc:  # noqa: BLE001  (a peer that cannot be installed is left out)
            skipped[name] = "cannot be installed: %s" % exc
    subs = [s for s in subs if s not in skipped]

    pin = Pinning(args.server_cpu, args.client_cpu)
    port = free_port_block()
    env = make_env(port)
    records = max(args.ns + ([DRAIN_MEMBERS] if not args.no_drain else []))
    print("CA server port %d; %d calc records at %d Hz; %s; window %gs, warm-up %gs, "
          "%d repeats; N = %s" % (
              port, records, RATE_HZ, "IOC on CPU %s, subscriber on CPU %s" % (
                  args.server_cpu, args.client_cpu) if pin.enabled else "no CPU pinning",
              args.window, args.warmup, args.repeats, ",".join(map(str, args.ns))), flush=True)

    runs, drain, failures = Runs(), None, []
    failed_at, why = {}, {}      # peer -> the smallest N it failed at; the reason
    t_ioc = time.monotonic()
    with many_ioc(port, pin, records):
        print("IOC ready in %.1f s" % (time.monotonic() - t_ioc), flush=True)
        for rep in range(args.repeats):
            for n in args.ns:
                timeout = 30.0 + n / 200.0
                for name in subs:
                    if name in skipped or n >= failed_at.get(name, n + 1):
                        continue
                    sub = SUBSCRIBERS[name]
                    try:
                        r = run_client(sub.argv(n, args.window, args.warmup, timeout),
                                       dict(env, **sub.env), pin,
                                       args.warmup + args.window + 2 * timeout + 60,
                                       "%s N=%d" % (name, n))
                    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                        if sub.peer is None:
                            failures.append("%s N=%d" % (name, n))
                            print("  [%d/%d] N=%-5d %-18s FAILED: %s" % (
                                rep + 1, args.repeats, n, name, str(exc)[-1500:]), flush=True)
                        else:     # a peer that fails here is reported and left out from
                            # this N on (it fails the same way with more PVs)
                            failed_at[name] = min(n, failed_at.get(name, n))
                            why[name] = "failed at N=%d: %s" % (n, str(exc)[-1500:])
                            print("  %s left out from N=%d on: %s" % (name, n, why[name]),
                                  flush=True)
                        continue
                    runs.add(n, name, rep, r)
                    r = runs.get(n, name)[-1]
                    print("  [%d/%d] N=%-5d %-18s %5.1f%% CPU %7.2f us/upd  missed %-6d "
                          "delivered %.4f  connect %5.0f ms  RSS %6.1f MB  IOC %.2f Hz" % (
                              rep + 1, args.repeats, n, name, r["cpu_pct"],
                              r["cpu_us_per_update"] or float("nan"), r["missed"],
                              r["delivered"] or float("nan"), 1e3 * r["connect_s"],
                              r["rss_bytes"] / 1e6, r["ioc_hz"] or float("nan")), flush=True)
        if not args.no_drain:
            rounds = 3 if args.short else 10
            try:
                drain = run_client([sys.executable, DRAIN, PREFIX, str(DRAIN_MEMBERS),
                                    ",".join(map(str, DRAIN_SIZES)), str(rounds)], env, pin,
                                   120 + 5 * rounds, "drain")
                print("  drain " + "  ".join("N=%s %.2f us" % (k, m["drain_us"])
                                             for k, m in drain["sizes"].items()), flush=True)
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                failures.append("drain")
                print("  drain FAILED: %s" % str(exc)[-1500:], flush=True)

    print("\ntotal %.0f s" % (time.monotonic() - t_start))
    run_table(runs, args.ns, subs)
    drain_table(drain)
    heavy = [n for n in args.ns if n == args.heavy]
    for n in heavy:
        hz = runs.stat(n, "C", "ioc_hz")
        if hz is not None:
            print("\nheavier case N=%d (%d updates/s): the IOC %s (%.2f Hz per PV as C saw it)"
                  % (n, n * RATE_HZ, "kept up" if hz >= 0.95 * RATE_HZ else
                     "did NOT keep up: its figures measure the IOC, not the subscribers", hz))
    for name, reason in list(skipped.items()) + list(why.items()):
        print("\n%s not measured: %s" % (name, reason))
    target_table(runs, drain)
    failed = check_floors(runs, drain) if args.short else []

    results = {
        "config": {"ns": args.ns, "rate_hz": RATE_HZ, "window_s": args.window,
                   "warmup_s": args.warmup, "repeats": args.repeats, "short": args.short,
                   "load": open("/proc/loadavg").read().split()[:3]},
        "table": [{"n": n, "subscriber": s,
                   "cpu_pct": runs.stat(n, s, "cpu_pct"),
                   "cpu_us_per_update": runs.stat(n, s, "cpu_us_per_update"),
                   "cpu_ratio_c": runs.ratio(n, s, "cpu_us_per_update"),
                   "missed": runs.stat(n, s, "missed"),
                   "delivered": runs.stat(n, s, "delivered"),
                   "consumer_us_per_update": runs.stat(n, s, "consumer_us"),
                   "connect_s": runs.stat(n, s, "connect_s"),
                   "connect_ratio_c": runs.ratio(n, s, "connect_s"),
                   "rss_mb": runs.stat(n, s, "rss_mb"), "ioc_hz": runs.stat(n, s, "ioc_hz")}
                  for n in args.ns for s in subs if runs.get(n, s)],
        "runs": [{"n": k[0], "subscriber": k[1], "runs": v} for k, v in runs.runs.items()],
        "drain": drain, "not_measured": dict(skipped, **why),
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.plot:
        plot(results, args.plot)
    if failures:
        print("\nfailed: " + ", ".join(failures))
    if args.short:
        print("\nfloors: %d passed, %d failed" % (len(FLOORS) - len(failed), len(failed)))
    return 1 if failures or failed else 0


if __name__ == "__main__":
    sys.exit(main())
