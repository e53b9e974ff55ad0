# The parts of the CPython C API that the callback trampolines need beyond what Cython's
# `with gil` provides, plus libCom's thread-exit hook. Declarations only.

cdef extern from "Python.h":
    ctypedef struct PyThreadState:
        pass
    ctypedef int PyGILState_STATE
    PyGILState_STATE PyGILState_Ensure() nogil
    PyThreadState *PyGILState_GetThisThreadState() nogil
    PyThreadState *PyEval_SaveThread() nogil
    # these three need the GIL held, which Cython cannot see after a raw PyGILState_Ensure
    PyThreadState *PyThreadState_Get() nogil
    void PyThreadState_Clear(PyThreadState *tstate) nogil
    void PyThreadState_DeleteCurrent() nogil
    int Py_IsInitialized() nogil
    unsigned long PyThread_get_thread_ident() nogil     # threading's ident of the calling thread
    # new reference, or NULL with an exception set; takes no reference of its arguments
    PyObject *PyObject_CallOneArg(object callable, object arg)
    void PyErr_WriteUnraisable(object where)
    ctypedef struct PyObject

cdef extern from *:
    """
    #if PY_VERSION_HEX >= 0x030D0000
    #define caffi_interpreter_finalizing() Py_IsFinalizing()
    #else
    #define caffi_interpreter_finalizing() _Py_IsFinalizing()
    #endif
    """
    int caffi_interpreter_finalizing() nogil

cdef extern from "epicsExit.h" nogil:
    ctypedef void (*epicsExitFunc)(void *arg) noexcept nogil
    # runs func(arg) when the calling EPICS thread exits
    int epicsAtThreadExit(epicsExitFunc func, void *arg)
