"""caffi: a Cython binding to the EPICS Channel Access client library (libca).

A drop-in replacement for the cffi-based caffi 1.0: the same modules, functions, enums and
callback dicts, with libca called directly from compiled code.
"""
import ctypes as _ctypes

import epicscorelibs.path as _epics_path

# The extensions find libca through an rpath to epicscorelibs next to caffi in site-packages.
# Loading libCom and libca by path first also serves in-place and editable builds, where that
# relative path does not exist: the extensions' dependencies then resolve by soname.
for _library in ('Com', 'ca'):
    _ctypes.CDLL(_epics_path.get_lib(_library), mode=_ctypes.RTLD_GLOBAL)
del _library

from . import ca  # noqa: E402
from ._version import __version__, version_info  # noqa: E402
from .constants import CA_OP, ECA, AlarmCondition, AlarmSeverity  # noqa: E402
from .dbr import DBF, DBR  # noqa: E402
