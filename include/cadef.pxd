# Cython declarations for EPICS cadef.h, the Channel Access client API of
# libca.  Declarations only.  epicsStdCall/LIBCA_API expand to nothing or a
# visibility attribute on Linux and are omitted.

# --- stdarg.h: only needed for the caPrintfFunc signature ------------------
cdef extern from "<stdarg.h>":
    ctypedef struct va_list:
        pass

# --- epicsThread.h: only needed by the deprecated ca_channel_status() ------
cdef extern from "epicsThread.h" nogil:
    cdef struct epicsThreadOSD
    ctypedef epicsThreadOSD *epicsThreadId

# --- caerr.h (included by cadef.h): re-export ca_message -------------------
from caerr cimport ca_message

# --- caeventmask.h (included by cadef.h): subscription masks ---------------
cdef extern from "caeventmask.h" nogil:
    enum:
        DBE_VALUE                       # 1 << 0
        DBE_ARCHIVE                     # 1 << 1
        DBE_LOG                         # == DBE_ARCHIVE
        DBE_ALARM                       # 1 << 2
        DBE_PROPERTY                    # 1 << 3


cdef extern from "cadef.h" nogil:

    # --- handles and basic types -------------------------------------------
    cdef struct oldChannelNotify        # opaque
    ctypedef oldChannelNotify *chid
    ctypedef chid chanId                # used where a field is named "chid"
    ctypedef long chtype
    cdef struct oldSubscription         # opaque
    ctypedef oldSubscription *evid
    ctypedef double ca_real
    ctypedef unsigned CA_SYNC_GID
    ctypedef unsigned capri
    cdef struct ca_client_context       # opaque

    # --- constants ---------------------------------------------------------
    enum:
        TYPENOTCONN                     # (-1): ca_field_type() if disconnected

    enum:
        CA_OP_GET                       # 0
        CA_OP_PUT                       # 1
        CA_OP_CREATE_CHANNEL            # 2
        CA_OP_ADD_EVENT                 # 3
        CA_OP_CLEAR_EVENT               # 4
        CA_OP_OTHER                     # 5
        CA_OP_CONN_UP                   # 6
        CA_OP_CONN_DOWN                 # 7
        CA_OP_SEARCH                    # 2 (deprecated)

    enum:
        CA_PRIORITY_MAX                 # 99
        CA_PRIORITY_MIN                 # 0
        CA_PRIORITY_DEFAULT             # CA_PRIORITY_MIN
        CA_PRIORITY_DB_LINKS            # 80
        CA_PRIORITY_ARCHIVE             # 20
        CA_PRIORITY_OPI                 # 0

    cdef enum channel_state:
        cs_never_conn                   # IOC not found
        cs_prev_conn                    # IOC found but now unavailable
        cs_conn                         # connected
        cs_closed                       # channel deleted by user

    cdef enum ca_preemptive_callback_select:
        ca_disable_preemptive_callback
        ca_enable_preemptive_callback

    # --- callback argument structures --------------------------------------
    cdef struct connection_handler_args:
        chanId chid
        long op                         # CA_OP_CONN_UP or CA_OP_CONN_DOWN

    # C declares these as 1-bit fields; Cython has no bit fields, but plain
    # member access compiles to the same C expression.
    cdef struct ca_access_rights:
        unsigned read_access
        unsigned write_access
    ctypedef ca_access_rights caar

    cdef struct access_rights_handler_args:
        chanId chid
        caar ar

    cdef struct event_handler_args:
        void *usr                       # user argument of the request
        chanId chid
        long type                       # DBR_* type of *dbr
        long count                      # element count of *dbr
        const void *dbr                 # NULL unless status == ECA_NORMAL
        int status                      # ECA_* status from the server
    ctypedef event_handler_args evargs

    cdef struct exception_handler_args:
        void *usr                       # user argument given when installed
        chanId chid                     # may be NULL
        long type
        long count
        void *addr                      # user's address for CA_OP_GET
        long stat                       # ECA_* status
        long op                         # CA_OP_*
        const char *ctx                 # context string
        const char *pFile               # may be NULL
        unsigned lineNo                 # may be 0

    # --- callback function types -------------------------------------------
    # libca calls these from its own threads (preemptive mode) or from inside
    # ca_pend_*: implementations must be "noexcept" and acquire the GIL
    # themselves ("noexcept with gil").
    ctypedef void caCh(connection_handler_args args) noexcept nogil
    ctypedef void caArh(access_rights_handler_args args) noexcept nogil
    ctypedef void caEventCallBackFunc(event_handler_args args) noexcept nogil
    ctypedef void caExceptionHandler(exception_handler_args args) noexcept nogil
    ctypedef int caPrintfFunc(const char *pformat, va_list args) noexcept nogil
    ctypedef void CAFDHANDLER(void *parg, int fd, int opened) noexcept nogil

    # --- channel information -----------------------------------------------
    short ca_field_type(chid chan)
    unsigned long ca_element_count(chid chan)
    const char *ca_name(chid chan)
    void ca_set_puser(chid chan, void *puser)
    void *ca_puser(chid chan)
    unsigned ca_read_access(chid chan)
    unsigned ca_write_access(chid chan)
    channel_state ca_state(chid chan)
    const char *ca_host_name(chid channel)
    unsigned ca_get_host_name(chid pChan, char *pBuf, unsigned bufLength)
    unsigned ca_host_minor_protocol(chid pChan)
    int ca_v42_ok(chid chan)

    # --- context management ------------------------------------------------
    int ca_context_create(ca_preemptive_callback_select select)
    void ca_detach_context()
    void ca_context_destroy()
    ca_client_context *ca_current_context()
    int ca_attach_context(ca_client_context *context)
    int ca_preemtive_callback_is_enabled()      # sic: "preemtive"
    int ca_client_status(unsigned level)
    int ca_context_status(ca_client_context *context, unsigned level)

    # --- channels ----------------------------------------------------------
    int ca_create_channel(const char *pChanName, caCh *pConnStateCallback,
                          void *pUserPrivate, capri priority, chid *pChanID)
    int ca_change_connection_event(chid chan, caCh *pfunc)
    int ca_replace_access_rights_event(chid chan, caArh *pfunc)
    int ca_add_exception_event(caExceptionHandler *pfunc, void *pArg)
    int ca_clear_channel(chid chan)

    # --- put / get ---------------------------------------------------------
    int ca_array_put(chtype type, unsigned long count, chid chan,
                     const void *pValue)
    int ca_array_put_callback(chtype type, unsigned long count, chid chan,
                              const void *pValue,
                              caEventCallBackFunc *pFunc, void *pArg)
    int ca_array_get(chtype type, unsigned long count, chid chan,
                     void *pValue)
    int ca_array_get_callback(chtype type, unsigned long count, chid chan,
                              caEventCallBackFunc *pFunc, void *pArg)

    # --- subscriptions -----------------------------------------------------
    int ca_create_subscription(chtype type, unsigned long count, chid chan,
                               long mask, caEventCallBackFunc *pFunc,
                               void *pArg, evid *pEventID)
    int ca_clear_subscription(evid eventID)
    chid ca_evid_to_chid(evid id)

    # --- event processing and I/O ------------------------------------------
    int ca_pend_event(ca_real timeout)
    int ca_pend_io(ca_real timeout)
    int ca_pend(ca_real timeout, int early)
    int ca_test_io()
    int ca_flush_io()
    int ca_add_fd_registration(CAFDHANDLER *pHandler, void *pArg)

    # --- error reporting ---------------------------------------------------
    void ca_signal(long errorCode, const char *pCtxStr)
    void ca_signal_with_file_and_lineno(long errorCode, const char *pCtxStr,
                                        const char *pFileStr, int lineNo)
    void ca_signal_formated(long ca_status, const char *pfilenm, int lineno,
                            const char *pFormat, ...)   # sic: "formated"

    # --- synchronous groups ------------------------------------------------
    int ca_sg_create(CA_SYNC_GID *pgid)
    int ca_sg_delete(const CA_SYNC_GID gid)
    int ca_sg_block(const CA_SYNC_GID gid, ca_real timeout)
    int ca_sg_test(const CA_SYNC_GID gid)
    int ca_sg_reset(const CA_SYNC_GID gid)
    int ca_sg_array_get(const CA_SYNC_GID gid, chtype type,
                        unsigned long count, chid chan, void *pValue)
    int ca_sg_array_put(const CA_SYNC_GID gid, chtype type,
                        unsigned long count, chid chan, const void *pValue)
    int ca_sg_stat(CA_SYNC_GID gid)

    # --- miscellaneous -----------------------------------------------------
    const char *ca_version()
    int ca_replace_printf_handler(caPrintfFunc *ca_printf_func)
    void ca_dump_dbr(chtype type, unsigned count, const void *pbuffer)
    void ca_test_event(event_handler_args)      # debug subscription callback

    # --- for testing purposes only (per cadef.h) ---------------------------
    unsigned ca_get_ioc_connection_count()
    void ca_self_test()
    unsigned ca_beacon_anomaly_count()
    unsigned ca_search_attempts(chid chan)
    double ca_beacon_period(chid chan)
    double ca_receive_watchdog_delay(chid chan)

    # --- deprecated / defunct, still exported by libca ---------------------
    int ca_task_initialize()
    int ca_task_exit()
    int ca_build_and_connect(const char *pChanName, chtype, unsigned long,
                             chid *pChanID, void *, caCh *pFunc, void *pArg)
    int ca_search_and_connect(const char *pChanName, chid *pChanID,
                              caCh *pFunc, void *pArg)
    int ca_channel_status(epicsThreadId tid)
    int ca_clear_event(evid eventID)
    int ca_add_masked_array_event(chtype type, unsigned long count, chid chan,
                                  caEventCallBackFunc *pFunc, void *pArg,
                                  ca_real p_delta, ca_real n_delta,
                                  ca_real timeout, evid *pEventID, long mask)
    int ca_modify_user_name(const char *pUserName)
    int ca_modify_host_name(const char *pHostName)


# --- caRepeaterThread ------------------------------------------------------
# libca exports this (extern "C", defined in repeater.cpp) but no installed
# header declares it, so supply the prototype verbatim.  Run it in a thread
# to host an in-process CA repeater.
cdef extern from *:
    """
    #ifdef __cplusplus
    extern "C"
    #endif
    void caRepeaterThread(void *);
    """
    void caRepeaterThread(void *) nogil
