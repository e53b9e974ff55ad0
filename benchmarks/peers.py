"""Peer libraries measured beside caffi: installed by the benchmark itself, never into a venv.

Each peer is ``pip install --target``-ed (with ``--no-deps`` and an explicit list of its
dependencies, so numpy stays the venv's own) into ``benchmarks/.peers/<name>-<cache tag>/``,
git-ignored, on first use.  Its clients run under ``python -I benchmarks/peer_launcher.py``,
which puts that directory first on sys.path, hides an editable install of this repository's
caffi, checks that the peer's module really came from that directory and reports which libca
is mapped.

* caffi 1.0.4 (cffi) -- dlopen()s ``$EPICS_BASE/lib/$EPICS_HOST_ARCH/libca.so`` if $EPICS_BASE
  exists, else the libca bundled in its wheel.  We give it an EPICS_BASE whose
  lib/epicscorelibs/ holds symlinks to epicscorelibs' libca and libCom, so it runs on the
  same libca as caffi and the C programs.
* pyepics -- ``PYEPICS_LIBCA`` points at epicscorelibs' libca (libCom is found beside it).
* CaChannel 3.2 -- its default backend is its own C extension ``CaChannel._ca`` with libca
  (EPICS 3.14.12.8) linked in statically: it needs neither caffi nor an EPICS install, and it
  cannot be pointed at epicscorelibs' libca.  It is measured with that default backend.
* aioca 2.1 (asyncio) -- its ctypes bindings are epicscorelibs' own ``epicscorelibs.ca``
  (cadef, dbr), which load epicscorelibs' libca: the wheel's requirements are only numpy and
  epicscorelibs, both the venv's, so nothing else is installed beside it.
* matplotlib -- not a peer but the plotting tool of many_pv_bench.py, kept out of the venv
  the same way (with its pure dependencies listed; numpy is the venv's).
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS_DIR = os.path.join(HERE, ".peers")
LAUNCHER = os.path.join(HERE, "peer_launcher.py")


class Peer:
    """name: label; requirements: what pip installs (``--no-deps``); dist: the dist-info
    directory name (without .dist-info) that marks a complete install; module: the import that
    must come from the peer's directory."""

    def __init__(self, name, requirements, dist, module, backend):
        self.name = name
        self.requirements = requirements
        self.dist = dist
        self.module = module
        self.backend = backend  # py_client.py backend name
        self.dir = os.path.join(PEERS_DIR, "%s-%s" % (name, sys.implementation.cache_tag))

    def installed(self):
        return os.path.isdir(os.path.join(self.dir, self.dist + ".dist-info"))

    def install(self):
        if self.installed():
            return
        os.makedirs(PEERS_DIR, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=os.path.basename(self.dir) + ".", dir=PEERS_DIR)
        print("installing %s into %s" % (" ".join(self.requirements), self.dir), flush=True)
        try:
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                            "--disable-pip-version-check", "--no-warn-script-location",
                            "--target", tmp] + self.requirements,
                           check=True, stdout=sys.stderr)
            os.chmod(tmp, 0o755)  # mkdtemp makes it 0700
            os.rename(tmp, self.dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if not self.installed():  # else: a concurrent run won the race
                raise

    def prepare(self):
        """Install if needed; returns the environment variables the peer's clients need."""
        self.install()
        return {}

    def argv(self, script_args):
        return [sys.executable, "-I", LAUNCHER, self.dir, self.module] + script_args


class CaffiPeer(Peer):
    HOST_ARCH = "epicscorelibs"

    def __init__(self, version):
        super().__init__("caffi-%s" % version,
                         ["caffi==%s" % version, "cffi>=1.3.0", "pycparser"],
                         "caffi-%s" % version, "caffi", "caffi")
        self.epics_base = os.path.join(self.dir, "epics-base")

    def prepare(self):
        self.install()
        from epicscorelibs.path import get_lib
        lib_dir = os.path.join(self.epics_base, "lib", self.HOST_ARCH)
        os.makedirs(lib_dir, exist_ok=True)
        # libca's RPATH is $ORIGIN: libCom must sit beside it under its NEEDED name
        for link, target in (("libca.so", get_lib("ca")),
                             (os.path.basename(get_lib("Com")), get_lib("Com"))):
            path = os.path.join(lib_dir, link)
            if os.path.islink(path) and os.readlink(path) == target:
                continue
            tmp = "%s.%d" % (path, os.getpid())
            os.symlink(target, tmp)
            os.replace(tmp, path)
        return {"EPICS_BASE": self.epics_base, "EPICS_HOST_ARCH": self.HOST_ARCH}


class PyepicsPeer(Peer):
    def __init__(self, version):
        super().__init__("pyepics-%s" % version, ["pyepics==%s" % version, "pyparsing"],
                         "pyepics-%s" % version, "epics", "pyepics")

    def prepare(self):
        self.install()
        from epicscorelibs.path import get_lib
        return {"PYEPICS_LIBCA": get_lib("ca")}


class CaChannelPeer(Peer):
    def __init__(self, version):
        super().__init__("CaChannel-%s" % version, ["CaChannel==%s" % version],
                         "CaChannel-%s" % version, "CaChannel", "cachannel")

    def prepare(self):
        self.install()
        return {"CACHANNEL_BACKEND": ""}  # the default backend: CaChannel._ca


CAFFI_104 = CaffiPeer("1.0.4")
PYEPICS = PyepicsPeer("3.5.10")
CACHANNEL = CaChannelPeer("3.2.0")


class AiocaPeer(Peer):
    """aioca imports ``epicscorelibs.ca.cadef`` / ``dbr`` (ctypes over epicscorelibs' libca)
    and numpy: both come from the venv, so the wheel alone is installed."""

    def __init__(self, version):
        super().__init__("aioca-%s" % version, ["aioca==%s" % version],
                         "aioca-%s" % version, "aioca", "aioca")


class Tool(Peer):
    """A library a benchmark script runs with (not a measured client), installed the same way."""

    def __init__(self, name, version, requirements, module):
        super().__init__("%s-%s" % (name, version), ["%s==%s" % (name, version)] + requirements,
                         "%s-%s" % (name, version), module, None)


AIOCA = AiocaPeer("2.1")
MATPLOTLIB = Tool("matplotlib", "3.10.9",
                  ["contourpy", "cycler", "fonttools", "kiwisolver", "packaging", "pillow",
                   "pyparsing", "python-dateutil", "six"], "matplotlib")
