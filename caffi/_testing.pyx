# cython: language_level=3
"""Hooks into caffi's C layers for tests and micro-benchmarks; no production code imports this.

Each one drives a piece of the binding's own code with data made here instead of a server's:
the dict the subscription trampoline builds, the write encoder, the printf trampoline.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize

cimport cadef
cimport caerr
cimport db_access as dba
from caffi._ca cimport ChannelRecord, event_dict, on_printf
from caffi._dbr cimport PutPayload, eca_member, prepare_put


def update_dict(dbrtype, count, buffer, use_numpy=False, status=caerr.ECA_NORMAL):
    """The §10.3 dict a subscription callback receives, built by the trampolines' own code from
    a DBR buffer (chid None)."""
    cdef const unsigned char[::1] raw = buffer
    cdef cadef.event_handler_args args
    cdef ChannelRecord nobody = ChannelRecord()
    args.usr = NULL
    args.chid = NULL
    args.type = dbrtype
    args.count = count
    args.dbr = &raw[0] if raw.shape[0] else NULL
    args.status = status
    result = event_dict(nobody, &args, use_numpy)
    result['chid'] = None
    return result


def prepare_put_bytes(value, dbrtype, count=None, native_count=1):
    """What put() would hand libca for `value`: (request type, count, the bytes written), or
    the ECA code put() would answer with itself."""
    cdef PutPayload payload = PutPayload()
    cdef int status = prepare_put(payload, value, dbrtype, count, native_count)
    if status != caerr.ECA_NORMAL:
        return eca_member(status)
    cdef Py_ssize_t nbytes = payload.count * <Py_ssize_t>dba.dbr_value_size[payload.dbrtype]
    return payload.dbrtype, payload.count, PyBytes_FromStringAndSize(<const char *>payload.data, nbytes)


cdef extern from *:
    """
    /* A variadic caller, so that tests can drive the printf trampoline with a real va_list. */
    static int caffi_printf_through(int (*handler)(const char *, va_list), const char *format, ...)
    {
        va_list args;
        int length;
        va_start(args, format);
        length = handler(format, args);
        va_end(args);
        return length;
    }
    """
    int caffi_printf_through(cadef.caPrintfFunc *handler, const char *format, ...) nogil


def print_through_handler(text):
    """Send `text` (str or bytes) through the printf trampoline as libca would, in the calling
    thread's context; returns the length the handler reports."""
    cdef bytes encoded = text.encode('utf-8') if isinstance(text, str) else bytes(text)
    cdef const char *c_text = encoded
    cdef int length
    with nogil:
        length = caffi_printf_through(on_printf, "%s", c_text)
    return length
