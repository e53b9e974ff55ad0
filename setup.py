"""Build caffi's extension modules against the libca shipped by epicscorelibs.

_dbr: DBR buffers <-> Python; _ca: libca calls, records, trampolines; _monitor: buffered monitors;
_aio: caffi.aio's monitor rows -> aioca values and callbacks; _testing: hooks for tests. _monitor
and _testing cimport _ca's records and helpers through caffi/_ca.pxd, as _ca cimports _dbr's
through caffi/_dbr.pxd.

setuptools_dso links the extensions to epicscorelibs' libca/libCom with a relative rpath, so an
installed caffi finds them next to it in site-packages with no environment variables set.
"""
import os

import epicscorelibs.path
import epicscorelibs.version
import numpy
from epicscorelibs.config import get_config_var
# setuptools_dso's cythonize keeps the `dsos` link information that Cython's own drops
from setuptools_dso import Extension, cythonize, setup

HERE = os.path.dirname(os.path.abspath(__file__))
# The oldest numpy caffi runs with (.ci/run reads this line and tests it on the oldest Python).
OLDEST_NUMPY = '1.21'
# numpy's C API as of that numpy: a build against numpy 2's headers then imports with any numpy
# from that one on
NUMPY_MACROS = [('NPY_NO_DEPRECATED_API', 'NPY_1_7_API_VERSION'),
                ('NPY_TARGET_VERSION', 'NPY_%s_API_VERSION' % OLDEST_NUMPY.replace('.', '_'))]


def extension(name):
    return Extension(
        name=f'caffi.{name}',
        sources=[f'caffi/{name}.pyx'],
        include_dirs=[epicscorelibs.path.include_path, numpy.get_include()],
        define_macros=get_config_var('CPPFLAGS') + NUMPY_MACROS,
        extra_compile_args=get_config_var('CFLAGS'),
        extra_link_args=get_config_var('LDFLAGS'),
        libraries=get_config_var('LDADD'),
        dsos=['epicscorelibs.lib.ca', 'epicscorelibs.lib.Com'],
    )


setup(
    ext_modules=cythonize(
        [extension(name) for name in ('_dbr', '_ca', '_monitor', '_aio', '_testing')],
        include_path=[os.path.join(HERE, 'include'), os.path.join(HERE, 'caffi')],
        compiler_directives={'language_level': 3},
    ),
    install_requires=[epicscorelibs.version.abi_requires(), 'numpy>=' + OLDEST_NUMPY],
)
