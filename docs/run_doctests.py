#!/usr/bin/env python
"""Run the documentation's doctests against the test IOC.

    python docs/run_doctests.py [SPHINX-BUILD OPTIONS...]

Starts the soft IOC of the test-suite (tests/ioc/test.db: catest, calong, castr, cawave, ...)
with caffi's launcher on a free 127.0.0.1 port, runs ``sphinx-build -b doctest`` with the
IOC's client environment (EPICS_CA_ADDR_LIST, EPICS_CA_SERVER_PORT, ...), stops the IOC and
exits with sphinx-build's exit status. Extra arguments go to sphinx-build (e.g. ``-q``).
Run it from anywhere; paths are taken relative to this file.
"""
import os
import subprocess
import sys

from caffi import _ioc

DOCS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(DOCS)
TEST_DB = os.path.join(REPO, 'tests', 'ioc', 'test.db')
OUT = os.path.join(DOCS, '_build', 'doctest')
READY = 'iocRun: All initialization complete'


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    with _ioc.SoftIoc(db=TEST_DB, lock_port=True, ready=[_ioc.log_contains(READY)]) as ioc:
        env = _ioc.child_environ(ioc.client_env)
        print('run_doctests: test IOC on 127.0.0.1:%d' % ioc.port, flush=True)
        command = [sys.executable, '-m', 'sphinx', '-b', 'doctest'] + argv + [DOCS, OUT]
        # not from the repository root: `python -m` puts the working directory first on
        # sys.path, where the source tree's caffi/ (without its compiled modules, when caffi is
        # installed non-editable) would shadow the installed package
        return subprocess.call(command, env=env, cwd=DOCS)


if __name__ == '__main__':
    sys.exit(main())
