"""``python -m caffi``: the caffi command line (see caffi.cli)."""
import sys

from .cli import main

if __name__ == '__main__':
    sys.exit(main())
