#!/usr/bin/env python3
"""End-to-end benchmark suite: monitors, round trips and memory, caffi beside a C floor and peers.

    python benchmarks/monitor_bench.py            # full run (installs the peers on first use)
    python benchmarks/monitor_bench.py --short    # CI: C + this caffi only, under 3 minutes
    python benchmarks/monitor_bench.py --help     # subsets, windows, repeats, CPUs

Starts a CA-only soft IOC (epicscorelibs) on a private loopback port with benchmarks/ioc/bench.db
(a scalar ``ao`` and DOUBLE waveforms of 1k, 100k and 1M elements) and runs, each client in its
own process:

1. monitors -- for every (subject, subscriber), interleaved, ``--repeats`` times: the C
   publisher (benchmarks/c/ca_publisher) puts to the subject as fast as the IOC accepts, pinned
   with the IOC on the *server* CPU; the subscriber, pinned alone on the *client* CPU, measures
   updates, wall time and its process CPU (user + sys, all threads) over a window.
   Subscribers: ``C`` (benchmarks/c/ca_subscriber: memcpy of each update, the floor), this
   caffi with numpy and with lists, and the peers (peers.py): caffi 1.0.4 numpy/list, pyepics,
   CaChannel 3.2 numpy.  Output per subject and subscriber: CPU us per update (total, user, sys)
   and its ratio to C's, delivered updates/s and its ratio to C's, MB/s, the publisher's rate.
2. round trips -- get + pend_io per second and put-with-callback (waited for) per second on
   the scalar, one at a time, no publisher running; C (benchmarks/c/ca_roundtrip) and the same
   libraries.
3. memory -- this caffi's RSS before/after 1M scalar updates and after 2,000 updates of the
   1M-element waveform (numpy), after a warm-up.
4. batches -- the Python cost of one caffi.monitor drain() by the number of updates waiting
   (1, 100, 10,000) on the scalar and the 1k waveform while the publisher runs
   (monitor_batches.py).

Medians over the repeats.  At the end: the issue's targets (reported, not asserted) and the
CI floors: generous limits on the ratios to C, each with its reason; the script exits 1 only if
one of them is broken (or a client fails).  Needs epicscorelibs, numpy, taskset and a C
compiler (the C programs are built with benchmarks/c/build.py at every start).
"""
import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections import namedtuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peers  # noqa: E402
from bench_results import drain_ratio, fmt, med, print_table  # noqa: E402

from caffi import _ioc  # noqa: E402  (the IOC launcher; this repository's caffi, installed)

DB = os.path.join(HERE, "ioc", "bench.db")
C_DIR = os.path.join(HERE, "c")
BUILD_DIR = os.path.join(C_DIR, "build")
PY_CLIENT = os.path.join(HERE, "py_client.py")

Subject = namedtuple("Subject", "name pv count dbr_type")

SUBJECTS = [
    Subject("ao", "bench:ao", 1, "DBR_TIME_DOUBLE"),
    Subject("wf1k", "bench:wf1k", 1000, "DBR_DOUBLE"),
    Subject("wf100k", "bench:wf100k", 100000, "DBR_DOUBLE"),
    Subject("wf1m", "bench:wf1m", 1000000, "DBR_DOUBLE"),
]
SCALAR_PV = "bench:ao"


class Client:
    """One library as a monitor subscriber / round-trip client.  peer: a peers.Peer or None
    (C, or this repository's caffi as the running interpreter imports it)."""

    def __init__(self, name, backend, representation=None, peer=None, linger=0.0):
        self.name = name
        self.backend = backend            # "c", "monitor" or a py_client.py backend
        self.representation = representation
        self.peer = peer
        self.linger = linger              # monitor: seconds to let a batch gather after a wake-up
        self.env = {}

    def prepare(self):
        if self.peer is not None:
            self.env = self.peer.prepare()

    def _py(self, args):
        args = [PY_CLIENT, self.backend] + args
        if self.peer is not None:
            return self.peer.argv(args)
        return [sys.executable] + args

    def monitor_argv(self, subject, window, warmup):
        if self.backend == "c":
            return [os.path.join(BUILD_DIR, "ca_subscriber"), subject.pv, subject.dbr_type,
                    str(window), str(warmup)]
        if self.backend == "monitor":     # caffi.monitor: the C ring, drained in batches
            return [sys.executable, MONITOR_SUBSCRIBER, subject.pv, subject.dbr_type, str(window),
                    str(warmup), self.representation, "", str(self.linger)]
        return self._py(["monitor", subject.pv, subject.dbr_type, str(window), str(warmup),
                         self.representation])

    def roundtrip_argv(self, window, warmup):
        if self.backend == "c":
            return [os.path.join(BUILD_DIR, "ca_roundtrip"), SCALAR_PV, str(window), str(warmup)]
        return self._py(["roundtrip", SCALAR_PV, str(window), str(warmup)])

    def memory_argv(self, subject, updates, warmup_updates, timeout):
        return self._py(["memory", subject.pv, subject.dbr_type, str(updates),
                         str(warmup_updates), str(timeout), self.representation])


MONITOR_SUBSCRIBER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "monitor_subscriber.py")


SUBSCRIBERS = {c.name: c for c in [
    Client("C", "c"),
    Client("caffi-numpy", "caffi", "numpy"),
    Client("caffi-list", "caffi", "list"),
    # caffi.monitor consumers: a DAQ loop that drains what gathered over 2 ms after each
    # wake-up, and one that drains at every wake-up (about one drain per update when it keeps up)
    Client("caffi-monitor", "monitor", "numpy", linger=0.002),
    Client("caffi-monitor-eager", "monitor", "numpy"),
    Client("caffi104-numpy", "caffi", "numpy", peers.CAFFI_104),
    Client("caffi104-list", "caffi", "list", peers.CAFFI_104),
    Client("pyepics-numpy", "pyepics", "numpy", peers.PYEPICS),
    Client("cachannel-numpy", "cachannel", "numpy", peers.CACHANNEL),
]}

ROUNDTRIP_CLIENTS = {c.name: c for c in [
    Client("C", "c"),
    Client("caffi", "caffi", "numpy"),
    Client("caffi104", "caffi", "numpy", peers.CAFFI_104),
    Client("pyepics", "pyepics", "numpy", peers.PYEPICS),
    Client("cachannel", "cachannel", "numpy", peers.CACHANNEL),
]}

# (run name, subject, updates measured, warm-up updates, subscriber)
MEMORY_RUNS_FULL = [("ao 1M updates", "ao", 1000000, 20000, "caffi-numpy"),
                    ("wf1m 2000 updates", "wf1m", 2000, 50, "caffi-numpy")]
MEMORY_RUNS_SHORT = [("ao 100k updates", "ao", 100000, 10000, "caffi-numpy"),
                     ("wf1m 200 updates", "wf1m", 200, 20, "caffi-numpy")]

SHORT_PAIRS = [("ao", "C"), ("ao", "caffi-numpy"),
               ("wf1k", "C"), ("wf1k", "caffi-numpy"),
               ("wf100k", "C"), ("wf100k", "caffi-numpy"),
               ("wf1m", "C"), ("wf1m", "caffi-numpy"), ("wf1m", "caffi-list"),
               ("ao", "caffi-monitor"), ("wf1m", "caffi-monitor")]

# Python cost per Monitor.drain() by batch size (monitor_batches.py), while the publisher runs
BATCH_SIZES = (1, 100, 10000)
BATCH_SUBJECTS = ("ao", "wf1k")
MONITOR_BATCHES = os.path.join(HERE, "monitor_batches.py")

MAX_ARRAY_BYTES = _ioc.MAX_ARRAY_BYTES  # 100 MB > 8 MB of the 1M waveform, on IOC *and* clients


# ---------------------------------------------------------------------------------------------
# targets and floors
# ---------------------------------------------------------------------------------------------

# The targets: reported, never asserted.  kind "cpu_ratio": caffi's median CPU per
# update / C's; "rate_ratio": delivered updates/s / C's; "cpu_abs": CPU us per update;
# "user_excess": user CPU us per update above C's; "rss": RSS growth over a memory run.
TARGETS = [
    # (label, kind, subject or memory run subject, subscriber, limit, peer for comparison)
    ("ao: CPU/update, callback gets the full dict", "cpu_abs", "ao", "caffi-numpy", 0.8,
     "caffi104-numpy"),
    # Derived: here each scalar update costs a kernel wake-up (~10 us, the same for every
    # client, see README.md), which the C figure of 0.2 us does not include; the user
    # CPU a client spends above the C subscriber's is what the 0.8 - 0.2 us budget is about.
    ("ao: user CPU/update above C's (0.8 - 0.2)", "user_excess", "ao", "caffi-numpy", 0.6,
     "caffi104-numpy"),
    ("ao: delivered updates/s vs C", "rate_ratio", "ao", "caffi-numpy", 0.95, "caffi104-numpy"),
    ("wf1k numpy: CPU/update vs C", "cpu_ratio", "wf1k", "caffi-numpy", 1.3, "caffi104-numpy"),
    ("wf100k numpy: CPU/update vs C", "cpu_ratio", "wf100k", "caffi-numpy", 1.02,
     "caffi104-numpy"),
    ("wf1m numpy: CPU/update vs C", "cpu_ratio", "wf1m", "caffi-numpy", 1.02, "caffi104-numpy"),
    ("wf1m list: CPU/update vs C", "cpu_ratio", "wf1m", "caffi-list", 5.0, "caffi104-list"),
    # caffi.monitor (issue 8): subscriber CPU per delivered update, the C ring drained in batches
    ("ao Monitor: CPU/update vs C", "cpu_ratio", "ao", "caffi-monitor", 2.0, None),
    ("ao Monitor: delivered updates/s vs C", "rate_ratio", "ao", "caffi-monitor", 0.95, None),
    ("wf1m Monitor: CPU/update vs C", "cpu_ratio", "wf1m", "caffi-monitor", 1.02, None),
    ("wf1m Monitor: delivered updates/s vs C", "rate_ratio", "wf1m", "caffi-monitor", 0.95,
     None),
    # "independent of the number of updates in it": 10,000 updates cost what 1 does
    ("ao Monitor: drain() of 10,000 vs of 1 update", "batch_ratio", "ao", "caffi-monitor", 1.5,
     None),
    ("wf1k Monitor: drain() of 10,000 vs of 1 update", "batch_ratio", "wf1k", "caffi-monitor",
     1.5, None),
    ("RSS growth, scalar run", "rss", "ao", "caffi-numpy", 0.01, None),
    ("RSS growth, 1M waveform run", "rss", "wf1m", "caffi-numpy", 0.01, None),
]

# CI floors: the only checks that fail the script.  Generous, so that noise (other processes on
# a 2-core machine, one run's median of 3 short windows) never trips them and a real regression
# (an extra copy or conversion per update, a per-update allocation that is never freed, a
# callback path that stops releasing the GIL or creates a thread state per update) does.
FLOORS = [
    ("ao", "caffi-numpy", "cpu_ratio", 3.0,
     "a scalar update costs C ~11 us here, mostly the kernel wake-up; caffi adds the Python "
     "callback and its dict (~1.1x); 3x means the callback path itself got several times slower"),
    ("ao", "caffi-numpy", "rate_ratio", 0.5,
     "caffi keeps up with the publisher like C does (~1.0x); half the rate means it can no "
     "longer follow a ~20k updates/s scalar"),
    ("wf1k", "caffi-numpy", "cpu_ratio", 3.0,
     "8 kB per update: one memcpy into a new ndarray and the dict on top of the wake-up "
     "(~1.3-1.8x); 3x means per-update overhead grew far beyond one copy"),
    ("wf100k", "caffi-numpy", "cpu_ratio", 2.0,
     "800 kB per update: the receive copy dominates and caffi adds one memcpy (~1.0-1.1x); 2x "
     "means an extra pass over the data (a second copy or an element-wise conversion)"),
    ("wf1m", "caffi-numpy", "cpu_ratio", 2.0,
     "8 MB per update: same reason as wf100k -- one more memcpy cannot double the cost, an "
     "element-wise conversion or a second copy plus page faults can"),
    ("wf1m", "caffi-list", "cpu_ratio", 20.0,
     "a list of 1M Python floats costs ~10x the memcpy floor (1M float objects); 20x means the "
     "list is no longer built in a C loop (caffi 1.0.4's cffi path is ~11x)"),
    ("ao", "caffi-monitor", "cpu_ratio", 2.0,
     "a Monitor drained every 2 ms costs what the C subscriber does (~1.0x): libca's callback "
     "copies into the ring without the GIL; 2x means Python is back on the per-update path"),
    ("ao", "caffi-monitor", "rate_ratio", 0.5,
     "the ring takes every update libca delivers (~1.0x C); half means the callback blocks"),
    ("wf1m", "caffi-monitor", "cpu_ratio", 1.5,
     "8 MB per update, one memcpy into the ring (~1.0x C); 1.5x means several more passes "
     "over the data (copies out of the ring, fresh pages per update)"),
    ("ao", "caffi-monitor", "batch_ratio", 5.0,
     "drain() of 10,000 waiting updates hands out the ring's slots (~1x of draining one); a "
     "copy of them costs ~20x, a Python object per update far more"),
    ("wf1k", "caffi-monitor", "batch_ratio", 10.0,
     "the same for 10,000 x 8 kB: a copy into the batch costs thousands of times one drain"),
    ("ao", "caffi-numpy", "rss", 0.10,
     "RSS stays flat after the warm-up (<0.1%); 10% of ~50 MB over 100k updates is a leak of "
     "~50 bytes per update"),
    ("wf1m", "caffi-numpy", "rss", 0.25,
     "a leaked 8 MB array per update grows RSS by >1 GB over 200 updates; 25% leaves room for "
     "the allocator keeping one or two more 8 MB buffers than at the warm-up sample"),
]


# ---------------------------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------------------------

def free_port_block():
    """CA server port P, P+1 the repeater/beacon port: TCP P, UDP P and P+1 free on 127.0.0.1
    (the launcher's choice, with its lock file held while this process runs)."""
    return _ioc.free_port(lock=True)


def make_env(port):
    """Environment for clients (publisher, subscribers): the launcher's loopback-only client
    settings, with every other EPICS_* / PYEPICS_* / CACHANNEL_* variable removed.  The IOC
    gets the CAS variables on top of this (they are kept out of the clients' environment:
    libca would warn about a 'Duplicate EPICS CA Address list entry', harmless)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("EPICS_", "PYEPICS_", "CACHANNEL_"))}
    # MAX_ARRAY_BYTES is needed on the client: without it libca (default 16 kB) silently
    # delivers *no* monitor updates for the big waveforms (no error callback).
    env.update(_ioc.client_environment(port, MAX_ARRAY_BYTES))
    return env


class Pinning:
    def __init__(self, server_cpu, client_cpu, client_prefix=()):
        self.server_cpu, self.client_cpu = server_cpu, client_cpu
        self.client_prefix = list(client_prefix)
        self.enabled = bool(_ioc.taskset_prefix(server_cpu))

    def server_prefix(self):
        return _ioc.taskset_prefix(self.server_cpu) if self.enabled else []

    def server(self, argv):
        return self.server_prefix() + list(argv)

    def client(self, argv):
        argv = self.client_prefix + list(argv)
        return (_ioc.taskset_prefix(self.client_cpu) if self.enabled else []) + argv


def bench_ioc(port, pin, more_records=""):
    """The CA-only soft IOC (caffi._ioc.SoftIoc, not started) serving bench.db (and
    *more_records*, database text) on *port*, pinned to the server CPU, in a session of its
    own, ready once it accepts TCP connections and has printed the end of iocInit."""
    with open(DB) as f:
        records = f.read() + more_records
    return _ioc.SoftIoc(port=port, db_text=records, env=make_env(port),
                        max_array_bytes=MAX_ARRAY_BYTES,
                        prefix=pin.server_prefix(), new_session=True,
                        ready=[_ioc.log_contains("iocRun: All initialization complete")])


def last_json(text):
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in output:\n" + text)


def run_client(argv, env, pin, timeout, what):
    proc = subprocess.run(pin.client(argv), env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError("%s failed (rc=%d): %s\n%s%s" % (
            what, proc.returncode, " ".join(argv), proc.stdout, proc.stderr))
    return last_json(proc.stdout)


def with_publisher(subject, env, pin, lead, max_seconds, func):
    """Runs func() while the C publisher puts to subject; returns (func(), publisher JSON)."""
    pub_argv = [os.path.join(BUILD_DIR, "ca_publisher"), subject.pv, str(subject.count),
                str(max_seconds)]  # a safety net only: it is stopped with SIGINT
    pub = subprocess.Popen(pin.server(pub_argv), env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(lead)
        result = func()
    finally:
        pub.send_signal(signal.SIGINT)  # taskset exec()s, so this is the publisher
        try:
            pout, perr = pub.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            pub.kill()
            pout, perr = pub.communicate()
    try:
        return result, last_json(pout)
    except ValueError:
        raise RuntimeError("publisher printed no result:\n%s%s" % (pout, perr))


# ---------------------------------------------------------------------------------------------
# statistics and tables
# ---------------------------------------------------------------------------------------------

class Monitors:
    def __init__(self):
        self.runs = {}  # (subject name, subscriber) -> [result]

    def add(self, subject, sub, result):
        self.runs.setdefault((subject, sub), []).append(result)

    def stat(self, subject, sub, key):
        """Median over the repeats of key; user_us / sys_us / wakeups (per update) are taken
        from the run whose total CPU per update is the median, so that user + sys = CPU."""
        rs = self.runs.get((subject, sub))
        if not rs:
            return None
        if key in ("user_us", "sys_us", "wakeups", "faults"):
            done = [r for r in rs if r["updates"]]
            if not done:
                return None
            r = sorted(done, key=lambda r: r["cpu_us_per_update"])[(len(done) - 1) // 2]
            if key == "faults" and "minor_faults" not in r:
                return None
            return {"user_us": r["cpu_user_s"] * 1e6, "sys_us": r["cpu_sys_s"] * 1e6,
                    "wakeups": r["vol_ctx_switches"], "faults": r.get("minor_faults")
                    }[key] / r["updates"]
        if key == "cpu_us_per_update":  # the median run's (median_low), as above
            done = sorted(r[key] for r in rs if r["updates"])
            return done[(len(done) - 1) // 2] if done else None
        if key == "pub":
            return med([r["pub"]["puts_per_s"] for r in rs])
        if key == "of_pub":  # delivered / published in the same run
            return med([r["updates_per_s"] / r["pub"]["puts_per_s"]
                        for r in rs if r["pub"]["puts_per_s"]])
        return med([r.get(key) for r in rs])

    def ratio(self, subject, sub, key):
        a, c = self.stat(subject, sub, key), self.stat(subject, "C", key)
        return a / c if a is not None and c else None


def monitor_table(mon, subjects, subscribers):
    rows = []
    for s in subjects:
        for sub in subscribers:
            if (s.name, sub) not in mon.runs:
                continue
            st = lambda k: mon.stat(s.name, sub, k)  # noqa: E731
            rows.append((s.name, sub,
                         fmt(st("cpu_us_per_update"), "%.2f"), fmt(st("user_us"), "%.2f"),
                         fmt(st("sys_us"), "%.2f"),
                         fmt(mon.ratio(s.name, sub, "cpu_us_per_update"), "%.2f"),
                         fmt(mon.ratio(s.name, sub, "user_us"), "%.2f"),
                         fmt(st("updates_per_s"), "%.0f"),
                         fmt(mon.ratio(s.name, sub, "updates_per_s"), "%.2f"),
                         fmt(st("of_pub"), "%.2f"),
                         fmt(st("mb_per_s"), "%.1f"), fmt(st("wakeups"), "%.2f"),
                         fmt(st("faults"), "%.1f"),
                         fmt(st("pub"), "%.0f"), str(len(mon.runs[(s.name, sub)]))))
    print_table("Monitors (medians; CPU = user + sys of the whole subscriber process, us per "
                "update; xC = ratio to the C subscriber's median; of pub = updates delivered / "
                "puts published in the same run)",
                ("subject", "subscriber", "CPU us/upd", "user", "sys", "CPU xC", "user xC",
                 "updates/s", "rate xC", "of pub", "MB/s", "wakeups/upd", "faults/upd",
                 "pub puts/s", "runs"), rows, left=2)


def roundtrip_table(rt, clients):
    rows = []
    for name in clients:
        rs = rt.get(name)
        if not rs:
            continue
        row = [name]
        for phase in ("get", "putcb"):
            rate = med([r[phase]["ops_per_s"] for r in rs])
            c_rate = med([r[phase]["ops_per_s"] for r in rt.get("C", [])])
            row += [fmt(rate, "%.0f"), fmt(rate / c_rate if rate and c_rate else None, "%.2f"),
                    fmt(med([r[phase]["cpu_us_per_op"] for r in rs]), "%.1f"),
                    fmt(med([r[phase]["user_us_per_op"] for r in rs]), "%.1f")]
        row.append(str(len(rs)))
        rows.append(tuple(row))
    print_table("Round trips on the scalar, one at a time (medians; CPU us per operation)",
                ("client", "get+pend_io/s", "xC", "CPU us/get", "user",
                 "put-callback/s", "xC", "CPU us/put", "user", "runs"), rows, left=2)


def memory_table(mem):
    rows = [(label, sub, str(r["updates"]), "%.1f" % (r["rss_before"] / 1e6),
             "%.1f" % (r["rss_after"] / 1e6), "%+.2f" % (100 * r["rss_growth"]),
             "%.1f" % (r["vm_hwm"] / 1e6) if r.get("vm_hwm") else "-", "%.1f" % r["seconds"])
            for label, subj, sub, r in mem]
    print_table("Memory (RSS after the warm-up updates, and after the measured ones)",
                ("run", "subscriber", "updates", "RSS before MB", "RSS after MB", "growth %",
                 "peak RSS MB", "seconds"), rows)


def batch_table(bat):
    rows = []
    for subject, r in bat.items():
        one = r["sizes"]["1"]["drain_us"]
        for n, m in r["sizes"].items():
            rows.append((subject, n, "%.2f" % m["drain_us"], "%.2f" % m["drain_min_us"],
                         "%.1f" % (m["drain_us"] * 1000 / int(n)), "%.2f" % (m["drain_us"] / one),
                         fmt(m["partial_us"], "%.1f"), "%d x %d" % (m["monitors"] - 1,
                                                                     m["drains"] // (m["monitors"] - 1))))
    print_table("Batches: Python cost of one Monitor.drain() of N waiting updates (medians; "
                "x1 = ratio to N = 1; drain(N-1) copies a part of what waits, for contrast)",
                ("subject", "N", "drain us", "min us", "ns/update", "x1", "drain(N-1) us",
                 "timed rings x rounds"), rows)


def batch_ratio(bat, subject):
    return drain_ratio(bat.get(subject, {}).get("sizes", {}), max(BATCH_SIZES))


def measure(kind, mon, mem, subject, sub, bat=None):
    """Value of one target/floor kind, or None if not measured."""
    if kind == "cpu_ratio":
        return mon.ratio(subject, sub, "cpu_us_per_update")
    if kind == "rate_ratio":
        return mon.ratio(subject, sub, "updates_per_s")
    if kind == "cpu_abs":
        return mon.stat(subject, sub, "cpu_us_per_update")
    if kind == "user_excess":
        a, c = mon.stat(subject, sub, "user_us"), mon.stat(subject, "C", "user_us")
        return a - c if a is not None and c is not None else None
    if kind == "rss":
        vals = [r["rss_growth"] for _, subj, s, r in mem if subj == subject and s == sub]
        return max(vals) if vals else None
    if kind == "batch_ratio":
        return batch_ratio(bat or {}, subject)
    raise ValueError(kind)


def describe(kind, value, mon, subject, sub, bat=None):
    if value is None:
        return "-"
    if kind == "batch_ratio":
        sizes = bat[subject]["sizes"]
        return "%.2fx (%.2f vs %.2f us)" % (value, sizes[str(max(BATCH_SIZES))]["drain_us"],
                                           sizes["1"]["drain_us"])
    if kind == "cpu_ratio":
        return "%.2fx (%.1f us; user %.2fx)" % (
            value, mon.stat(subject, sub, "cpu_us_per_update"),
            mon.ratio(subject, sub, "user_us") or float("nan"))
    if kind == "rate_ratio":
        return "%.2fx (%.0f/s)" % (value, mon.stat(subject, sub, "updates_per_s"))
    if kind == "cpu_abs":
        return "%.2f us (user %.2f)" % (value, mon.stat(subject, sub, "user_us"))
    if kind == "user_excess":
        return "%+.2f us (%.2f vs C %.2f)" % (
            value, mon.stat(subject, sub, "user_us"), mon.stat(subject, "C", "user_us"))
    if kind == "rss":
        return "%+.2f%%" % (100 * value)
    raise ValueError(kind)


def limit_text(kind, limit):
    return {"cpu_ratio": "<= %gx C", "rate_ratio": ">= %gx C", "cpu_abs": "<= %g us",
            "user_excess": "<= +%g us", "rss": "< %g%%", "batch_ratio": "<= %gx N=1"}[kind] % (
        100 * limit if kind == "rss" else limit)


def within(kind, value, limit):
    return value >= limit if kind == "rate_ratio" else value <= limit


def target_table(mon, mem, bat):
    rows = []
    for label, kind, subject, sub, limit, peer in TARGETS:
        value = measure(kind, mon, mem, subject, sub, bat)
        peer_value = measure(kind, mon, mem, subject, peer) if peer else None
        status = "-" if value is None else ("met" if within(kind, value, limit) else "NOT MET")
        rows.append((label, describe(kind, value, mon, subject, sub, bat),
                     describe(kind, peer_value, mon, subject, peer) if peer else "",
                     limit_text(kind, limit), status))
    print_table("Targets (reported, not asserted)",
                ("target", "caffi", "caffi 1.0.4", "target", "status"), rows)


def check_floors(mon, mem, bat):
    print("\nCI floors (the script fails only on these)")
    failed, passed, skipped = [], 0, 0
    for subject, sub, kind, limit, reason in FLOORS:
        value = measure(kind, mon, mem, subject, sub, bat)
        if value is None:
            status = "not measured"
            skipped += 1
        elif within(kind, value, limit):
            status = "ok"
            passed += 1
        else:
            status = "FAILED"
            failed.append((subject, sub, kind))
        print("  %-7s %-13s %-11s %-18s %-10s %s" % (
            subject, sub, kind, describe(kind, value, mon, subject, sub, bat),
            limit_text(kind, limit), status))
        if status == "FAILED":
            print("      reason for the floor: " + reason)
    return failed, passed, skipped


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--short", action="store_true",
                    help="CI mode: C + this caffi only (no peers), 1 s windows, 100k/200-update "
                    "memory runs, one round-trip repeat; under 3 minutes")
    ap.add_argument("--window", type=float, help="monitor window [s] (5; short 1)")
    ap.add_argument("--warmup", type=float, help="monitor warm-up [s] (1; short 0.5)")
    ap.add_argument("--repeats", type=int, default=3, help="monitor repeats (3)")
    ap.add_argument("--subjects", default=",".join(s.name for s in SUBJECTS),
                    help="comma separated subset of: %(default)s")
    ap.add_argument("--subscribers", default=",".join(SUBSCRIBERS),
                    help="comma separated subset of: %(default)s")
    ap.add_argument("--roundtrip-clients", default=",".join(ROUNDTRIP_CLIENTS),
                    help="comma separated subset of: %(default)s")
    ap.add_argument("--no-peers", action="store_true",
                    help="leave out caffi 1.0.4, pyepics and CaChannel")
    ap.add_argument("--parts", default="monitors,roundtrips,memory,batches",
                    help="comma separated subset of: %(default)s")
    ap.add_argument("--server-cpu", default="0", help="CPU(s) for IOC + publisher (0)")
    ap.add_argument("--client-cpu", default="1", help="CPU(s) for the client (1)")
    ap.add_argument("--pub-lead", type=float, default=0.5,
                    help="start the publisher this long before the subscriber [s]")
    ap.add_argument("--client-prefix", default="", metavar="CMD",
                    help="run each measured client under this command, e.g. 'perf record -e "
                    "cpu-clock -g -o /tmp/sub.perf --' with one subject/subscriber/repeat")
    ap.add_argument("--no-build", action="store_true", help="skip building the C programs")
    ap.add_argument("--json", metavar="FILE", help="also dump all raw results here")
    args = ap.parse_args()
    if args.window is None:
        args.window = 1.0 if args.short else 5.0
    if args.warmup is None:
        args.warmup = 0.5 if args.short else 1.0
    return args


def main():
    args = parse_args()
    t_start = time.monotonic()
    parts = args.parts.split(",")
    subjects = [s for s in SUBJECTS if s.name in args.subjects.split(",")]
    by_name = {s.name: s for s in SUBJECTS}
    no_peers = args.short or args.no_peers
    subscribers = [n for n in SUBSCRIBERS if n in args.subscribers.split(",")
                   and not (no_peers and SUBSCRIBERS[n].peer)]
    rt_clients = [n for n in ROUNDTRIP_CLIENTS if n in args.roundtrip_clients.split(",")
                  and not (no_peers and ROUNDTRIP_CLIENTS[n].peer)]
    if args.short:
        pairs = [(s, n) for s, n in SHORT_PAIRS
                 if s in {x.name for x in subjects} and n in subscribers]
    else:
        pairs = [(s.name, n) for s in subjects for n in subscribers]
    memory_runs = MEMORY_RUNS_SHORT if args.short else MEMORY_RUNS_FULL
    rt_window, rt_warmup, rt_repeats = ((1.0, 0.3, 1) if args.short else
                                        (3.0, 0.5, args.repeats))
    batch_rounds = 3 if args.short else 10

    if not args.no_build:
        subprocess.run([sys.executable, os.path.join(C_DIR, "build.py"), BUILD_DIR],
                       check=True, stdout=subprocess.DEVNULL)
    used = ({n for _, n in pairs} if "monitors" in parts else set())
    for name in used:
        SUBSCRIBERS[name].prepare()
    if "roundtrips" in parts:
        for name in rt_clients:
            ROUNDTRIP_CLIENTS[name].prepare()

    pin = Pinning(args.server_cpu, args.client_cpu, shlex.split(args.client_prefix))
    port = free_port_block()
    env = make_env(port)
    print("CA server port %d (repeater %d); %s; monitors: window %gs, warm-up %gs, %d repeats"
          % (port, port + 1, "IOC+publisher on CPU %s, client on CPU %s" % (
              args.server_cpu, args.client_cpu) if pin.enabled else "no CPU pinning",
             args.window, args.warmup, args.repeats), flush=True)

    mon, rt, mem, bat = Monitors(), {}, [], {}
    with bench_ioc(port, pin):
        if "monitors" in parts:
            for rep in range(args.repeats):
                for subject_name, name in pairs:
                    s, client = by_name[subject_name], SUBSCRIBERS[name]
                    argv = client.monitor_argv(s, args.window, args.warmup)
                    r, pub = with_publisher(
                        s, env, pin, args.pub_lead, args.warmup + args.window + 90,
                        lambda: run_client(argv, dict(env, **client.env), pin,
                                           args.warmup + args.window + 60,
                                           "subscriber " + name))
                    r["pub"] = pub
                    mon.add(s.name, name, r)
                    print("  [%d/%d] %-6s %-15s %9.2f us/upd (user %7.2f) %8.0f upd/s "
                          "%7.1f MB/s  pub %6.0f puts/s" % (
                              rep + 1, args.repeats, s.name, name,
                              r["cpu_us_per_update"] or float("nan"),
                              (r["cpu_user_s"] * 1e6 / r["updates"]) if r["updates"]
                              else float("nan"),
                              r["updates_per_s"], r["mb_per_s"], pub["puts_per_s"]),
                          flush=True)
        if "roundtrips" in parts:
            for rep in range(rt_repeats):
                for name in rt_clients:
                    client = ROUNDTRIP_CLIENTS[name]
                    r = run_client(client.roundtrip_argv(rt_window, rt_warmup),
                                   dict(env, **client.env), pin,
                                   2 * (rt_window + rt_warmup) + 60, "round trips " + name)
                    rt.setdefault(name, []).append(r)
                    print("  [%d/%d] round trips %-10s get %7.0f/s (%6.1f us CPU)  "
                          "put-callback %7.0f/s (%6.1f us CPU)" % (
                              rep + 1, rt_repeats, name, r["get"]["ops_per_s"],
                              r["get"]["cpu_us_per_op"], r["putcb"]["ops_per_s"],
                              r["putcb"]["cpu_us_per_op"]), flush=True)
        if "memory" in parts:
            for label, subject_name, updates, warm, name in memory_runs:
                s, client = by_name[subject_name], SUBSCRIBERS[name]
                # generous: a loaded machine still publishes > 5,000 scalars or 20 x 1M/s
                timeout = 30 + (updates + warm) / (5000 if s.count == 1 else 20)
                argv = client.memory_argv(s, updates, warm, timeout)
                r, pub = with_publisher(
                    s, env, pin, args.pub_lead, timeout + 90,
                    lambda: run_client(argv, dict(env, **client.env), pin, timeout + 60,
                                       "memory " + label))
                r["pub"] = pub
                mem.append((label, s.name, name, r))
                print("  memory %-18s RSS %.1f -> %.1f MB (%+.2f%%) over %d updates in "
                      "%.1f s" % (label, r["rss_before"] / 1e6, r["rss_after"] / 1e6,
                                  100 * r["rss_growth"], r["updates"], r["seconds"]),
                      flush=True)
        if "batches" in parts:
            for subject_name in BATCH_SUBJECTS:
                s = by_name[subject_name]
                argv = [sys.executable, MONITOR_BATCHES, s.pv, s.dbr_type,
                        ",".join(map(str, BATCH_SIZES)), str(batch_rounds)]
                # the largest rings fill in ~1 s at the slowest subject's rate: generous
                timeout = 60 + 3 * batch_rounds * max(BATCH_SIZES) / 2000
                r, pub = with_publisher(s, env, pin, args.pub_lead, timeout + 90,
                                        lambda: run_client(argv, env, pin, timeout,
                                                           "batches " + s.name))
                bat[s.name] = r
                print("  batches %-6s " % s.name + "  ".join(
                    "N=%s %.2f us" % (n, m["drain_us"]) for n, m in r["sizes"].items()),
                    flush=True)

    print("\ntotal %.0f s" % (time.monotonic() - t_start))
    if "monitors" in parts:
        monitor_table(mon, subjects, [n for n in SUBSCRIBERS if n in {p[1] for p in pairs}])
    if "roundtrips" in parts:
        roundtrip_table(rt, rt_clients)
    if "memory" in parts:
        memory_table(mem)
    if "batches" in parts:
        batch_table(bat)
    target_table(mon, mem, bat)
    failed, passed, skipped = check_floors(mon, mem, bat)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"monitors": [{"subject": k[0], "subscriber": k[1], "runs": v}
                                    for k, v in mon.runs.items()],
                       "roundtrips": rt,
                       "memory": [{"run": m[0], "subject": m[1], "subscriber": m[2],
                                   "result": m[3]} for m in mem],
                       "batches": bat}, f, indent=1)
    if failed:
        print("\nbroken CI floor(s): " + ", ".join("/".join(f) for f in failed))
    # closing line in the plain 'N passed, N failed' form
    print("\nfloors: %d passed, %d failed%s" % (
        passed, len(failed), ", %d skipped" % skipped if skipped else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
