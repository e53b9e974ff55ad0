# libCom's mutex and event (binary semaphore), used where a libca thread must hand data to a
# Python thread without taking the GIL. Declarations only.

cdef extern from "epicsMutex.h" nogil:
    cdef struct epicsMutexParm
    ctypedef epicsMutexParm *epicsMutexId
    ctypedef enum epicsMutexLockStatus:
        epicsMutexLockOK
        epicsMutexLockTimeout
        epicsMutexLockError
    # epicsMutexCreate() is a macro passing __FILE__/__LINE__ to this
    epicsMutexId epicsMutexOsiCreate(const char *pFileName, int lineno)
    void epicsMutexDestroy(epicsMutexId id)
    epicsMutexLockStatus epicsMutexLock(epicsMutexId id)
    void epicsMutexUnlock(epicsMutexId id)

cdef extern from "epicsEvent.h" nogil:
    cdef struct epicsEventOSD
    ctypedef epicsEventOSD *epicsEventId
    ctypedef enum epicsEventStatus:
        epicsEventOK
        epicsEventWaitTimeout
        epicsEventError
    ctypedef enum epicsEventInitialState:
        epicsEventEmpty
        epicsEventFull
    epicsEventId epicsEventCreate(epicsEventInitialState initialState)
    void epicsEventDestroy(epicsEventId id)
    epicsEventStatus epicsEventTrigger(epicsEventId id)
    epicsEventStatus epicsEventWaitWithTimeout(epicsEventId id, double timeout)
