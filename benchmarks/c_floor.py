#!/usr/bin/env python3
"""CPU floor of a Channel Access monitor client (C reference implementation).

    python benchmarks/c_floor.py [--window 5] [--warmup 1] [--repeats 3]

Starts a soft IOC (``python -m epicscorelibs.ioc``) on a private loopback
port, and for every (subject, subscriber) pair:

  * a C publisher (benchmarks/c/ca_publisher) writing the subject's PV as
    fast as the IOC accepts, pinned together with the IOC on the *server*
    CPU (default 0);
  * a subscriber command, pinned alone on the *client* CPU (default 1),
    which must print one JSON line with at least ``updates``, ``seconds``,
    ``cpu_s``, ``cpu_us_per_update``, ``updates_per_s``, ``mb_per_s``.

A subscriber is just a function ``(subject, window, warmup) -> argv``; add
entries to SUBSCRIBERS (e.g. a Python/caffi subscriber) to compare them side
by side with the C floor.  Publisher and subscribers get the same client
CA environment (private loopback port, EPICS_CA_MAX_ARRAY_BYTES).

Prints a table of medians over the repeats.  Needs only ``epicscorelibs`` and
a C compiler (the C programs are built with benchmarks/c/build.py).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import namedtuple

HERE = os.path.dirname(os.path.abspath(__file__))
DB = os.path.join(HERE, "ioc", "bench.db")
C_DIR = os.path.join(HERE, "c")
BUILD_DIR = os.path.join(C_DIR, "build")

Subject = namedtuple("Subject", "name pv count dbr_type")

SUBJECTS = [
    Subject("ao", "bench:ao", 1, "DBR_TIME_DOUBLE"),
    Subject("wf1k", "bench:wf1k", 1000, "DBR_DOUBLE"),
    Subject("wf100k", "bench:wf100k", 100000, "DBR_DOUBLE"),
    Subject("wf1m", "bench:wf1m", 1000000, "DBR_DOUBLE"),
]


def c_subscriber(subject, window, warmup):
    return [os.path.join(BUILD_DIR, "ca_subscriber"), subject.pv,
            subject.dbr_type, str(window), str(warmup)]


def caffi_subscriber(representation):
    def argv(subject, window, warmup):
        return [sys.executable, os.path.join(HERE, "caffi_subscriber.py"), subject.pv,
                subject.dbr_type, str(window), str(warmup), representation]
    return argv


PEERS_DIR = os.path.join(HERE, ".peers")  # git-ignored cache of peer packages


class PeerCaffi:
    """Another ``caffi`` release from PyPI (e.g. the cffi-based 1.0.4) run side by
    side with ours.  It has the same import name, so it is never installed into a
    venv: ``pip install --target`` puts it (and cffi) in a cache directory, and
    benchmarks/peer_launcher.py runs caffi_subscriber.py with ``python -I`` and
    that directory first on sys.path (our editable caffi removed from the import
    machinery), printing the imported ``caffi.__file__`` to stderr.

    caffi 1.0.4 dlopen()s ``$EPICS_BASE/lib/$EPICS_HOST_ARCH/libca.so`` if
    $EPICS_BASE exists, else the libca bundled in its wheel.  We point it at
    epicscorelibs' libca: EPICS_BASE is a tiny tree in the cache directory whose
    lib/<arch>/libca.so is a symlink to ``epicscorelibs.path.get_lib('ca')``, next
    to a symlink to ``get_lib('Com')`` under libca's NEEDED name (libca's RPATH is
    $ORIGIN)."""

    HOST_ARCH = "epicscorelibs"

    def __init__(self, version):
        self.version = version
        self.dir = os.path.join(PEERS_DIR, "caffi-%s-%s" % (
            version, sys.implementation.cache_tag))
        self.epics_base = os.path.join(self.dir, "epics-base")

    def installed(self):
        return os.path.isdir(os.path.join(
            self.dir, "caffi-%s.dist-info" % self.version))

    def prepare(self):
        if not self.installed():
            os.makedirs(PEERS_DIR, exist_ok=True)
            tmp = tempfile.mkdtemp(prefix=os.path.basename(self.dir) + ".", dir=PEERS_DIR)
            print("installing caffi==%s into %s" % (self.version, self.dir), flush=True)
            try:
                subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                                "--disable-pip-version-check", "--no-warn-script-location",
                                "--target", tmp, "caffi==%s" % self.version],
                               check=True, stdout=sys.stderr)
                os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
                os.rename(tmp, self.dir)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                if not self.installed():  # else: a concurrent run won the race
                    raise
        from epicscorelibs.path import get_lib
        lib_dir = os.path.join(self.epics_base, "lib", self.HOST_ARCH)
        os.makedirs(lib_dir, exist_ok=True)
        for link, target in (("libca.so", get_lib("ca")),
                             (os.path.basename(get_lib("Com")), get_lib("Com"))):
            path = os.path.join(lib_dir, link)
            if os.path.islink(path) and os.readlink(path) == target:
                continue
            tmp = "%s.%d" % (path, os.getpid())
            os.symlink(target, tmp)
            os.replace(tmp, path)

    def subscriber(self, representation):
        def argv(subject, window, warmup):
            return [sys.executable, "-I", os.path.join(HERE, "peer_launcher.py"),
                    self.dir, self.epics_base, self.HOST_ARCH,
                    os.path.join(HERE, "caffi_subscriber.py"), subject.pv,
                    subject.dbr_type, str(window), str(warmup), representation]
        argv.prepare = self.prepare
        return argv


CAFFI_104 = PeerCaffi("1.0.4")

# name -> function(subject, window, warmup) -> argv printing the JSON line;
# an optional .prepare() attribute is called once before the IOC starts.
SUBSCRIBERS = {
    "C": c_subscriber,
    "caffi-numpy": caffi_subscriber("numpy"),
    "caffi-list": caffi_subscriber("list"),
    "caffi104-numpy": CAFFI_104.subscriber("numpy"),
    "caffi104-list": CAFFI_104.subscriber("list"),
}

MAX_ARRAY_BYTES = 100000000  # > 8 MB of the 1M waveform, on IOC *and* clients


def _port_free(port, n=2):
    """True if TCP and UDP port..port+n-1 can all be bound on 127.0.0.1."""
    socks = []
    try:
        for p in range(port, port + n):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def free_port_block(n=4):
    """Base of n consecutive ports free for TCP and UDP on 127.0.0.1:
    base = CA server port, base+1 = CA repeater/beacon port,
    base+2/base+3 = pvAccess server/broadcast port (the epicscorelibs IOC
    also starts a PVA server; keep it off the default ports too)."""
    for _ in range(200):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port + n < 65535 and _port_free(port, n):
            return port
    raise RuntimeError("no free port block found")


def make_env(port, server=False):
    """Environment for clients (publisher, subscribers) or, with server=True,
    for the IOC.  The CAS variables are kept out of the client environment:
    libca then warns 'Duplicate EPICS CA Address list entry' (harmless)."""
    env = dict(os.environ)
    for k in [k for k in env if k.startswith("EPICS_")]:
        del env[k]
    env.update({
        "EPICS_CA_AUTO_ADDR_LIST": "NO",
        "EPICS_CA_ADDR_LIST": "127.0.0.1",
        "EPICS_CA_SERVER_PORT": str(port),
        "EPICS_CA_REPEATER_PORT": str(port + 1),
        # Needed on the client: without it libca (default 16 kB) silently
        # delivers *no* monitor updates for the big waveforms (no error
        # callback).  RSRV of EPICS 7 grows its buffers on demand, set anyway.
        "EPICS_CA_MAX_ARRAY_BYTES": str(MAX_ARRAY_BYTES),
        "EPICS_PVA_AUTO_ADDR_LIST": "NO",
        "EPICS_PVA_ADDR_LIST": "127.0.0.1",
        "EPICS_PVA_SERVER_PORT": str(port + 2),
        "EPICS_PVA_BROADCAST_PORT": str(port + 3),
    })
    if not server:
        return env
    env.update({
        # RSRV
        "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
        "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_CAS_SERVER_PORT": str(port),
        # pvAccess server started by epicscorelibs.ioc: loopback, private ports
        "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_PVAS_BEACON_ADDR_LIST": "127.0.0.1",
        "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_PVAS_SERVER_PORT": str(port + 2),
        "EPICS_PVAS_BROADCAST_PORT": str(port + 3),
    })
    return env


def pinned(cpu, argv):
    return ["taskset", "-c", str(cpu)] + list(argv)


class Ioc:
    """Soft IOC in a child process.  Its shell is Python's code.interact(),
    which exits on EOF, so stdin is a pipe that we keep open."""

    def __init__(self, env, cpu, log):
        self.log = log
        self.proc = subprocess.Popen(
            pinned(cpu, [sys.executable, "-m", "epicscorelibs.ioc", "-d", DB]),
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
            env=env, start_new_session=True)

    def wait_ready(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("IOC exited early:\n" + self.output())
            if "iocRun: All initialization complete" in self.output():
                return
            time.sleep(0.1)
        raise RuntimeError("IOC did not start:\n" + self.output())

    def output(self):
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"exit()\n")
                self.proc.stdin.close()
                self.proc.wait(5)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def last_json(text):
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in output:\n" + text)


def run_one(subject, sub_argv, env, args):
    pub_argv = [os.path.join(BUILD_DIR, "ca_publisher"), subject.pv,
                str(subject.count),
                # safety net only: we stop it with SIGINT when the subscriber is done
                str(args.warmup + args.window + 60), str(args.put_window)]
    pub = subprocess.Popen(pinned(args.server_cpu, pub_argv), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        time.sleep(args.pub_lead)
        sub = subprocess.run(pinned(args.client_cpu, sub_argv), env=env,
                             capture_output=True, text=True,
                             timeout=args.warmup + args.window + 30)
    finally:
        pub.send_signal(signal.SIGINT)  # taskset exec()s, so this is the publisher
        try:
            pout, perr = pub.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            pub.kill()
            pout, perr = pub.communicate()
    if sub.returncode != 0:
        raise RuntimeError("subscriber failed (rc=%d): %s\n%s%s" % (
            sub.returncode, sub_argv, sub.stdout, sub.stderr))
    res = last_json(sub.stdout)
    res["pub"] = last_json(pout)
    return res


def median(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else float("nan")


def print_table(results, subjects, subscribers):
    hdr = ("subject", "subscriber", "cpu us/update", "updates/s", "MB/s",
           "client cpu %", "wakeups/update", "pub puts/s")
    rows = []
    for s in subjects:
        for name in subscribers:
            rs = results.get((s.name, name), [])
            if not rs:
                continue
            cpu_pct = [100 * r["cpu_s"] / r["seconds"] for r in rs]
            rows.append((s.name, name,
                         "%.3f" % median(rs, "cpu_us_per_update"),
                         "%.0f" % median(rs, "updates_per_s"),
                         "%.1f" % median(rs, "mb_per_s"),
                         "%.1f" % statistics.median(cpu_pct),
                         # voluntary context switches per update, if reported
                         "%.2f" % statistics.median(
                             r["vol_ctx_switches"] / r["updates"]
                             if "vol_ctx_switches" in r and r["updates"]
                             else float("nan") for r in rs),
                         "%.0f" % statistics.median(r["pub"]["puts_per_s"] for r in rs)))
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
    fmt = "  ".join("%%%ds" % w for w in widths)
    print(fmt % hdr)
    print(fmt % tuple("-" * w for w in widths))
    for r in rows:
        print(fmt % r)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--window", type=float, default=5.0, help="measurement window [s]")
    ap.add_argument("--warmup", type=float, default=1.0, help="subscriber warm-up [s]")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--subjects", default=",".join(s.name for s in SUBJECTS),
                    help="comma separated subset of: %(default)s")
    ap.add_argument("--subscribers",
                    default=",".join(n for n, f in SUBSCRIBERS.items()
                                     if not hasattr(f, "prepare")),
                    help="comma separated subset of: %s (default %%(default)s; "
                    "caffi104-*: caffi 1.0.4 from PyPI, pip-installed on first use "
                    "into benchmarks/.peers/)" % ",".join(SUBSCRIBERS))
    ap.add_argument("--server-cpu", default="0", help="CPU(s) for IOC + publisher")
    ap.add_argument("--client-cpu", default="1", help="CPU(s) for the subscriber")
    ap.add_argument("--put-window", type=int, default=0,
                    help="publisher: 0 = plain puts, W>0 = put-callback window")
    ap.add_argument("--pub-lead", type=float, default=0.5,
                    help="start the publisher this long before the subscriber [s]")
    ap.add_argument("--no-build", action="store_true", help="skip building the C programs")
    ap.add_argument("--json", metavar="FILE", help="also dump all raw results here")
    args = ap.parse_args()

    subjects = [s for s in SUBJECTS if s.name in args.subjects.split(",")]
    subscribers = [n for n in SUBSCRIBERS if n in args.subscribers.split(",")]

    if not args.no_build:
        subprocess.run([sys.executable, os.path.join(C_DIR, "build.py"), BUILD_DIR],
                       check=True, stdout=subprocess.DEVNULL)

    for name in subscribers:
        prepare = getattr(SUBSCRIBERS[name], "prepare", None)
        if prepare is not None:
            prepare()

    port = free_port_block()
    env = make_env(port)
    ioc_env = make_env(port, server=True)
    print("CA server port %d (repeater %d), window %gs, warm-up %gs, %d repeats"
          % (port, port + 1, args.window, args.warmup, args.repeats), flush=True)

    results = {}
    t_start = time.monotonic()
    with tempfile.NamedTemporaryFile("w+b", prefix="bench-ioc-", suffix=".log") as log:
        ioc = Ioc(ioc_env, args.server_cpu, log)
        try:
            ioc.wait_ready()
            for rep in range(args.repeats):
                for s in subjects:
                    for name in subscribers:
                        argv = SUBSCRIBERS[name](s, args.window, args.warmup)
                        r = run_one(s, argv, env, args)
                        results.setdefault((s.name, name), []).append(r)
                        print("  [%d/%d] %-7s %-8s %10.3f us/update %9.0f updates/s"
                              " %8.1f MB/s  pub %8.0f puts/s" % (
                                  rep + 1, args.repeats, s.name, name,
                                  r["cpu_us_per_update"] or float("nan"),
                                  r["updates_per_s"], r["mb_per_s"],
                                  r["pub"]["puts_per_s"]), flush=True)
        finally:
            ioc.stop()
    print("total %.0f s\n" % (time.monotonic() - t_start))
    print_table(results, subjects, subscribers)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"subject": k[0], "subscriber": k[1], "runs": v}
                       for k, v in results.items()], f, indent=1)


if __name__ == "__main__":
    main()
