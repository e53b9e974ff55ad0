"""Run a benchmark script against a *peer* library installed with ``pip install --target
PEER_DIR`` (caffi 1.0.4, pyepics, CaChannel; see peers.py) instead of whatever the venv has.

    python -I peer_launcher.py PEER_DIR MODULE SCRIPT [ARGS...]

Start it with ``python -I`` (isolated: PYTHONPATH, user site-packages and the script/current
directory are ignored).  The venv's site-packages (numpy) stay importable; PEER_DIR is put in
front of them, and the setuptools editable finder of this repository's caffi is dropped from
sys.meta_path, so ``import caffi`` can only find a peer (or a non-editable install behind it).
The peer's environment variables (EPICS_BASE / EPICS_HOST_ARCH for caffi 1.0.4, PYEPICS_LIBCA
for pyepics) come from the caller's environment.

Imports MODULE, exits non-zero if it did not come from PEER_DIR, prints to stderr once which
file it came from and which libca/libCom files are mapped, then runs SCRIPT as ``__main__``.
"""
import importlib
import os
import runpy
import sys


def main():
    peer_dir, module, script = sys.argv[1:4]
    peer_dir = os.path.realpath(peer_dir)
    sys.path.insert(0, peer_dir)
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not getattr(f, "__module__", "").startswith("__editable___caffi")]

    mod = importlib.import_module(module)
    where = os.path.realpath(mod.__file__)
    if not where.startswith(peer_dir + os.sep):
        sys.exit("peer_launcher: imported the wrong %s: %s" % (module, where))
    if module == "caffi":
        import caffi.ca  # noqa: F401  (loads libca)
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
    print("peer_launcher: %s %s from %s; libca mapped: %s" % (
        module, getattr(mod, "__version__", "?"), mod.__file__,
        "; ".join(sorted(libs)) or "none yet (loaded later, or linked statically)"),
        file=sys.stderr, flush=True)

    sys.argv = [script] + sys.argv[4:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
