#!/usr/bin/env python3
"""Build the C benchmark clients against the libca/libCom of ``epicscorelibs``.

    python benchmarks/c/build.py [OUTDIR]      (default: benchmarks/c/build/)

Only ``epicscorelibs`` needs to be installed in the running interpreter.  The
binaries get an rpath to epicscorelibs' lib directory, so they run without
LD_LIBRARY_PATH.  Set CC / CFLAGS to override the compiler / flags.
"""
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = ("ca_publisher", "ca_subscriber", "ca_roundtrip", "ca_many_subscriber",
            "ca_caget_many")


def epics_paths():
    import epicscorelibs.path as p
    inc = [p.include_path]
    # A classic EPICS base install keeps OS / compiler specific headers in
    # include/os/<OS_CLASS> and include/compiler/<CMPLR_CLASS>; epicscorelibs
    # flattens them into include/, but add the subdirs when they exist.
    for sub in ("os/Linux", "os/default", "compiler/gcc", "compiler/clang"):
        d = os.path.join(p.include_path, *sub.split("/"))
        if os.path.isdir(d):
            inc.append(d)
    return inc, p.lib_path


def build(outdir):
    incs, libdir = epics_paths()
    cc = shlex.split(os.environ.get("CC", "cc"))
    cflags = shlex.split(os.environ.get("CFLAGS", "-O2 -g -Wall"))
    os.makedirs(outdir, exist_ok=True)
    outs = []
    for prog in PROGRAMS:
        out = os.path.join(outdir, prog)
        cmd = (cc + cflags + ["-std=gnu99"] + ["-I" + d for d in incs]
               + [os.path.join(HERE, prog + ".c"), "-o", out,
                  "-L" + libdir, "-Wl,-rpath," + libdir,
                  "-lca", "-lCom", "-lpthread", "-lm"])
        print(" ".join(shlex.quote(c) for c in cmd), flush=True)
        subprocess.run(cmd, check=True)
        outs.append(out)
    return outs


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "build")
    build(os.path.abspath(outdir))


if __name__ == "__main__":
    main()
