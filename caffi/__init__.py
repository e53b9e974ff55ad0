"""caffi: a Cython binding to the EPICS Channel Access client library (libca).

A drop-in replacement for the cffi-based caffi 1.0: the same modules, functions, enums and
callback dicts, with libca called directly from compiled code.
"""
import os as _os
import sys as _sys


def _epics_lib_dir():
    """The `lib` directory of the importable epicscorelibs, found without importing it.

    (epicscorelibs.path would do, but it imports setuptools_dso.runtime and with it setuptools
    and pkg_resources: most of the cost of `import caffi.ca`.)
    """
    from importlib.machinery import PathFinder
    spec = PathFinder.find_spec('epicscorelibs')
    for location in (spec.submodule_search_locations or ()) if spec is not None else ():
        candidate = _os.path.join(location, 'lib')
        if _os.path.isdir(candidate):
            return candidate
    raise ImportError('caffi needs the epicscorelibs package (libca and libCom), '
                      'which cannot be found on sys.path')


def _library_file(lib_dir, name):
    """The file of lib<name> in lib_dir: its versioned name (the soname on Linux) if present."""
    versioned, plain = [], []
    for entry in _os.listdir(lib_dir):
        if entry.startswith(f'lib{name}.so.') or (entry.startswith(f'lib{name}.')
                                                  and entry.endswith('.dylib')
                                                  and entry != f'lib{name}.dylib'):
            versioned.append(entry)
        elif entry in (f'lib{name}.so', f'lib{name}.dylib'):
            plain.append(entry)
    found = sorted(versioned) or plain
    if not found:
        raise ImportError(f'caffi: no lib{name} shared library in {lib_dir}')
    return _os.path.join(lib_dir, found[-1])


def _prepare_epics_libraries():
    """Make libCom and libca loadable for the extension modules, as cheaply as the layout allows.

    An installed caffi needs nothing: setuptools_dso linked the extensions with the relative
    rpath $ORIGIN/../epicscorelibs/lib, which exists when caffi and epicscorelibs share one
    site-packages. Otherwise (in-place and editable builds, or the two packages in different
    directories) libCom and libca are loaded by path first, globally, and the extensions'
    dependencies then resolve by soname to the libraries already loaded.
    """
    if _sys.platform == 'win32':
        # no rpath on Windows: the DLL directory is added to the search path, as
        # setuptools_dso.runtime.dylink_prepare_dso does
        _os.add_dll_directory(_epics_lib_dir())
        return
    here = _os.path.dirname(_os.path.abspath(__file__))
    if _os.path.isdir(_os.path.join(here, _os.pardir, 'epicscorelibs', 'lib')):
        return
    import ctypes
    lib_dir = _epics_lib_dir()
    for name in ('Com', 'ca'):  # libca depends on libCom
        ctypes.CDLL(_library_file(lib_dir, name), mode=ctypes.RTLD_GLOBAL)


_prepare_epics_libraries()

from . import ca  # noqa: E402
from ._version import __version__, version_info  # noqa: E402
from .constants import CA_OP, ECA, AlarmCondition, AlarmSeverity  # noqa: E402
from .dbr import DBF, DBR  # noqa: E402
