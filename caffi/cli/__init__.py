"""The ``caffi`` command: Channel Access from the shell, and a self-contained demo.

    caffi get PV... [--type DBR] [--numpy]
    caffi put PV VALUE... [--type DBR] [--wait]
    caffi monitor PV... [--type DBR] [--stats] [--seconds N] [--updates N] [--quiet]
    caffi info PV...
    caffi demo [--seconds N] [--elements N]

Every command takes ``--timeout SECONDS`` (default 5): how long to wait for channels to connect
and for replies. Exit status: 0 success, 1 a Channel Access failure (PV not found, timeout,
write rejected or denied), 2 a usage error (bad type name, value that cannot be converted),
130 interrupted. Errors are one line on stderr, never a traceback (set ``CAFFI_DEBUG=1`` to get
one for unexpected internal errors).

Also runnable as ``python -m caffi``.

One module a layer, each using only the ones above it:

* ``status``: the exit statuses, CliError, and the one table from an ECA status to an exit status;
* ``arguments``: command-line text to typed values (argparse types; put values checked against
  caffi._dbr's put rules);
* ``format``: the text of values, time stamps, alarm fields and metadata;
* ``session``: the CA context, channels and reads of a command;
* ``commands``: get, put, info, monitor, demo;
* ``parser``: the argparse parser and main().
"""
from .arguments import dbr_type
from .format import format_scalar, summarize_array
from .parser import build_parser, main

__all__ = ['main', 'build_parser', 'dbr_type', 'format_scalar', 'summarize_array']
