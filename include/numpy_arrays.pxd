# numpy's C API for arrays on memory numpy does not own: a drained batch's columns are arrays on
# the ring's store, made by one C call each rather than numpy.frombuffer's Python-level call,
# argument parsing and buffer-protocol round trip (a drain makes five to seven of them, and on a
# consumer that wakes once per batch that code runs cold every time).
#
# numpy's own numpy/__init__.pxd leaves these out (commented) because they steal references:
# declared here with C pointers for the stolen arguments, so that each caller takes the
# reference it hands over explicitly. Declarations only; the module that cimports this calls
# numpy's import_array() once at import.

from cpython.object cimport PyObject, PyTypeObject
from numpy cimport npy_intp

cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyArray_Descr        # a dtype
    ctypedef struct PyArrayObject        # an ndarray

    # an array of `descr` (stolen) on `data`, which the caller keeps alive (the base object)
    object PyArray_NewFromDescr(PyTypeObject *subtype, PyArray_Descr *descr, int nd, npy_intp *dims,
                                npy_intp *strides, void *data, int flags, PyObject *obj)
    # a new, uninitialised array of `descr` (stolen)
    object PyArray_Empty(int nd, npy_intp *dims, PyArray_Descr *descr, int fortran)
    # `base` (stolen) is what keeps the array's memory alive
    int PyArray_SetBaseObject(PyArrayObject *array, PyObject *base) except -1
    PyTypeObject PyArray_Type
    enum:
        NPY_ARRAY_CARRAY            # C contiguous, aligned, writeable
