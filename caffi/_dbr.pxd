# What _ca.pyx and _monitor.pyx use from the conversion layer, at C speed.

cimport db_access as dba

cdef enum:
    # The DBF base types STRING..DOUBLE; every request class (plain, STS, TIME, GR, CTRL) holds
    # one type per base, in DBF order, so `request type % BASE_TYPE_COUNT` is its base type.
    BASE_TYPE_COUNT = dba.LAST_TYPE + 1

cdef object dbr_member(long value)
cdef object eca_member(long value)
cdef object dbf_member(long value)
cdef object op_member(long value)
cdef object channel_state_member(long value)

cdef Py_ssize_t request_size(long dbrtype, long count) except -1
cdef object format_buffer(long dbrtype, long count, const void *data, bint use_numpy)


cdef class DBRBuffer:
    """Zero-filled C memory that libca writes a read reply into."""
    cdef char *data
    cdef Py_ssize_t size


cdef class DBRValue:
    cdef public object dbrtype
    cdef public object count
    cdef public object cvalue
    cdef public object use_numpy


cdef class PutPayload:
    """The C array handed to libca for one write, with whatever owns its memory."""
    cdef long dbrtype
    cdef unsigned long count
    cdef const void *data
    cdef char *owned
    cdef object keeper
    cdef void allocate(self, Py_ssize_t nbytes) except *


# Fills `payload` for a write (§8); returns ECA_NORMAL or the ECA code the binding answers with.
cdef int prepare_put(PutPayload payload, object value, long dbrtype, object count,
                     unsigned long native_count) except -1
