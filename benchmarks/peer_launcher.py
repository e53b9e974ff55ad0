"""Run a benchmark script against a *peer* ``caffi`` (e.g. caffi 1.0.4 from PyPI)
installed with ``pip install --target PEER_DIR``, instead of this repository's caffi.

    python -I peer_launcher.py PEER_DIR EPICS_BASE EPICS_HOST_ARCH SCRIPT [ARGS...]

Start it with ``python -I`` (isolated: PYTHONPATH, user site-packages and the
script/current directory are ignored).  The venv's site-packages (numpy) stay
importable; PEER_DIR is put in front of them, and the setuptools editable
finder of our caffi is dropped from sys.meta_path, so ``import caffi`` can only
find the peer.  EPICS_BASE / EPICS_HOST_ARCH are what caffi 1.0.4 reads at
import time to locate ``$EPICS_BASE/lib/$EPICS_HOST_ARCH/libca.so``.

Prints to stderr, once, which caffi was imported and which libca/libCom files
are mapped, then runs SCRIPT as ``__main__``; exits non-zero if ``caffi`` did
not come from PEER_DIR.
"""
import os
import runpy
import sys


def main():
    peer_dir, epics_base, host_arch, script = sys.argv[1:5]
    peer_dir = os.path.realpath(peer_dir)
    sys.path.insert(0, peer_dir)
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not getattr(f, "__module__", "").startswith("__editable___caffi")]
    os.environ["EPICS_BASE"] = epics_base
    os.environ["EPICS_HOST_ARCH"] = host_arch

    import caffi
    import caffi.ca  # noqa: F401  (loads libca)
    where = os.path.realpath(caffi.__file__)
    if not where.startswith(peer_dir + os.sep):
        sys.exit("peer_launcher: imported the wrong caffi: %s" % where)
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                name = os.path.basename(path)
                if name.startswith(("libca.", "libCom.")):
                    libs.add("%s -> %s" % (path, os.path.realpath(path)))
    except OSError:
        pass
    print("peer_launcher: caffi %s from %s; mapped: %s" % (
        getattr(caffi, "__version__", "?"), caffi.__file__, "; ".join(sorted(libs))),
        file=sys.stderr, flush=True)

    sys.argv = [script] + sys.argv[5:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
