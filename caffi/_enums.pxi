# The IntEnum classes of API.md §4. Included by _dbr.pyx, because the conversion layer hands
# these members out (DBR types, ECA statuses, alarm fields) and ECA.message() needs libca.
# Member order is normative: it decides iteration order and which alias name is canonical.
# Every value is the C header's constant, through the cimported include/*.pxd declarations
# (cadef, caerr, db_access as dba, alarm); no number is written here except caffi's own
# NEVER_SEARCH state.
import enum

cdef enum:
    # caffi's own channel state (caffi 1.0 / pyepics): no C header defines it.
    CS_NEVER_SEARCH = 4


class ChannelState(enum.IntEnum):
    NEVER_CONN = cadef.cs_never_conn
    PREV_CONN = cadef.cs_prev_conn
    CONN = cadef.cs_conn
    CLOSED = cadef.cs_closed
    NEVER_SEARCH = CS_NEVER_SEARCH


class CA_OP(enum.IntEnum):
    GET = cadef.CA_OP_GET
    PUT = cadef.CA_OP_PUT
    CREATE_CHANNEL = cadef.CA_OP_CREATE_CHANNEL
    ADD_EVENT = cadef.CA_OP_ADD_EVENT
    CLEAR_EVENT = cadef.CA_OP_CLEAR_EVENT
    OTHER = cadef.CA_OP_OTHER
    CONN_UP = cadef.CA_OP_CONN_UP
    CONN_DOWN = cadef.CA_OP_CONN_DOWN


class CA_PRIORITY(enum.IntEnum):
    MAX = cadef.CA_PRIORITY_MAX
    MIN = cadef.CA_PRIORITY_MIN
    DEFAULT = cadef.CA_PRIORITY_DEFAULT
    DB_LINKS = cadef.CA_PRIORITY_DB_LINKS
    ARCHIVE = cadef.CA_PRIORITY_ARCHIVE
    OPI = cadef.CA_PRIORITY_OPI


class CA_K(enum.IntEnum):
    INFO = caerr.CA_K_INFO
    ERROR = caerr.CA_K_ERROR
    SUCCESS = caerr.CA_K_SUCCESS
    WARNING = caerr.CA_K_WARNING
    SEVERE = caerr.CA_K_SEVERE
    FATAL = caerr.CA_K_FATAL


class ECA(enum.IntEnum):
    NORMAL = caerr.ECA_NORMAL
    MAXIOC = caerr.ECA_MAXIOC
    UKNHOST = caerr.ECA_UKNHOST
    UKNSERV = caerr.ECA_UKNSERV
    SOCK = caerr.ECA_SOCK
    CONN = caerr.ECA_CONN
    ALLOCMEM = caerr.ECA_ALLOCMEM
    UKNCHAN = caerr.ECA_UKNCHAN
    UKNFIELD = caerr.ECA_UKNFIELD
    TOLARGE = caerr.ECA_TOLARGE
    TIMEOUT = caerr.ECA_TIMEOUT
    NOSUPPORT = caerr.ECA_NOSUPPORT
    STRTOBIG = caerr.ECA_STRTOBIG
    DISCONNCHID = caerr.ECA_DISCONNCHID
    BADTYPE = caerr.ECA_BADTYPE
    CHIDNOTFOUND = caerr.ECA_CHIDNOTFND
    CHIDRETRY = caerr.ECA_CHIDRETRY
    INTERNAL = caerr.ECA_INTERNAL
    DBLCLFAIL = caerr.ECA_DBLCLFAIL
    GETFAIL = caerr.ECA_GETFAIL
    PUTFAIL = caerr.ECA_PUTFAIL
    ADDFAIL = caerr.ECA_ADDFAIL
    BADCOUNT = caerr.ECA_BADCOUNT
    BADSTR = caerr.ECA_BADSTR
    DISCONN = caerr.ECA_DISCONN
    DBLCHNL = caerr.ECA_DBLCHNL
    EVDISALLOW = caerr.ECA_EVDISALLOW
    BUILDGET = caerr.ECA_BUILDGET
    NEEDSFP = caerr.ECA_NEEDSFP
    OVEVFAIL = caerr.ECA_OVEVFAIL
    BADMONID = caerr.ECA_BADMONID
    NEWADDR = caerr.ECA_NEWADDR
    NEWCONN = caerr.ECA_NEWCONN
    NOCACTX = caerr.ECA_NOCACTX
    DEFUNCT = caerr.ECA_DEFUNCT
    EMPTYSTR = caerr.ECA_EMPTYSTR
    NOREPEATER = caerr.ECA_NOREPEATER
    NOCHANMSG = caerr.ECA_NOCHANMSG
    DLCKREST = caerr.ECA_DLCKREST
    SERVBEHIND = caerr.ECA_SERVBEHIND
    NOCAST = caerr.ECA_NOCAST
    BADMASK = caerr.ECA_BADMASK
    IODONE = caerr.ECA_IODONE
    IOINPROGRESS = caerr.ECA_IOINPROGRESS
    BADSYNCGRP = caerr.ECA_BADSYNCGRP
    PUTCBINPROG = caerr.ECA_PUTCBINPROG
    NORDACCESS = caerr.ECA_NORDACCESS
    NOWTACCESS = caerr.ECA_NOWTACCESS
    ANACHRONISM = caerr.ECA_ANACHRONISM
    NOSEARCHADDR = caerr.ECA_NOSEARCHADDR
    NOCONVERT = caerr.ECA_NOCONVERT
    BADCHID = caerr.ECA_BADCHID
    BADFUNCPTR = caerr.ECA_BADFUNCPTR
    ISATTACHED = caerr.ECA_ISATTACHED
    UNAVAILINSERV = caerr.ECA_UNAVAILINSERV
    CHANDESTROY = caerr.ECA_CHANDESTROY
    BADPRIORITY = caerr.ECA_BADPRIORITY
    NOTTHREADED = caerr.ECA_NOTTHREADED
    ARRAY16KCLIENT = caerr.ECA_16KARRAYCLIENT
    CONNSEQTMO = caerr.ECA_CONNSEQTMO
    UNRESPTMO = caerr.ECA_UNRESPTMO

    def severity(self):
        """The CA_K severity encoded in the low three bits of the code."""
        return CA_K((self.value & caerr.CA_M_SEVERITY) >> caerr.CA_V_SEVERITY)

    def message(self):
        """libca's text for this status (the same as caffi.ca.message(self))."""
        return message(self.value)


class DBE(enum.IntEnum):
    VALUE = cadef.DBE_VALUE
    ARCHIVE = cadef.DBE_ARCHIVE
    ALARM = cadef.DBE_ALARM
    PROPERTY = cadef.DBE_PROPERTY


class AlarmSeverity(enum.IntEnum):
    No = alarm.epicsSevNone
    Minor = alarm.epicsSevMinor
    Major = alarm.epicsSevMajor
    Invalid = alarm.epicsSevInvalid


class AlarmCondition(enum.IntEnum):
    No = alarm.epicsAlarmNone
    Read = alarm.epicsAlarmRead
    Write = alarm.epicsAlarmWrite
    HiHi = alarm.epicsAlarmHiHi
    High = alarm.epicsAlarmHigh
    LoLo = alarm.epicsAlarmLoLo
    Low = alarm.epicsAlarmLow
    State = alarm.epicsAlarmState
    Cos = alarm.epicsAlarmCos
    Comm = alarm.epicsAlarmComm
    Timeout = alarm.epicsAlarmTimeout
    HwLimit = alarm.epicsAlarmHwLimit
    Calc = alarm.epicsAlarmCalc
    Scan = alarm.epicsAlarmScan
    Link = alarm.epicsAlarmLink
    Soft = alarm.epicsAlarmSoft
    BadSub = alarm.epicsAlarmBadSub
    UDF = alarm.epicsAlarmUDF
    Disable = alarm.epicsAlarmDisable
    Simm = alarm.epicsAlarmSimm
    ReadAccess = alarm.epicsAlarmReadAccess
    WriteAccess = alarm.epicsAlarmWriteAccess


class DBF(enum.IntEnum):
    INVALID = dba.TYPENOTCONN
    STRING = dba.DBF_STRING
    SHORT = dba.DBF_SHORT
    INT = dba.DBF_INT
    FLOAT = dba.DBF_FLOAT
    ENUM = dba.DBF_ENUM
    CHAR = dba.DBF_CHAR
    LONG = dba.DBF_LONG
    DOUBLE = dba.DBF_DOUBLE

    def _request_type(self, offset):
        return DBR.INVALID if self.value < 0 else DBR(self.value + offset)

    def toSTS(self):
        return self._request_type(dba.DBR_STS_STRING)

    def toTIME(self):
        return self._request_type(dba.DBR_TIME_STRING)

    def toGR(self):
        return self._request_type(dba.DBR_GR_STRING)

    def toCTRL(self):
        return self._request_type(dba.DBR_CTRL_STRING)


class DBR(enum.IntEnum):
    INVALID = dba.TYPENOTCONN
    STRING = dba.DBR_STRING
    INT = dba.DBR_INT
    SHORT = dba.DBR_SHORT
    FLOAT = dba.DBR_FLOAT
    ENUM = dba.DBR_ENUM
    CHAR = dba.DBR_CHAR
    LONG = dba.DBR_LONG
    DOUBLE = dba.DBR_DOUBLE
    STS_STRING = dba.DBR_STS_STRING
    STS_SHORT = dba.DBR_STS_SHORT
    STS_INT = dba.DBR_STS_INT
    STS_FLOAT = dba.DBR_STS_FLOAT
    STS_ENUM = dba.DBR_STS_ENUM
    STS_CHAR = dba.DBR_STS_CHAR
    STS_LONG = dba.DBR_STS_LONG
    STS_DOUBLE = dba.DBR_STS_DOUBLE
    TIME_STRING = dba.DBR_TIME_STRING
    TIME_INT = dba.DBR_TIME_INT
    TIME_SHORT = dba.DBR_TIME_SHORT
    TIME_FLOAT = dba.DBR_TIME_FLOAT
    TIME_ENUM = dba.DBR_TIME_ENUM
    TIME_CHAR = dba.DBR_TIME_CHAR
    TIME_LONG = dba.DBR_TIME_LONG
    TIME_DOUBLE = dba.DBR_TIME_DOUBLE
    GR_STRING = dba.DBR_GR_STRING
    GR_SHORT = dba.DBR_GR_SHORT
    GR_INT = dba.DBR_GR_INT
    GR_FLOAT = dba.DBR_GR_FLOAT
    GR_ENUM = dba.DBR_GR_ENUM
    GR_CHAR = dba.DBR_GR_CHAR
    GR_LONG = dba.DBR_GR_LONG
    GR_DOUBLE = dba.DBR_GR_DOUBLE
    CTRL_STRING = dba.DBR_CTRL_STRING
    CTRL_SHORT = dba.DBR_CTRL_SHORT
    CTRL_INT = dba.DBR_CTRL_INT
    CTRL_FLOAT = dba.DBR_CTRL_FLOAT
    CTRL_ENUM = dba.DBR_CTRL_ENUM
    CTRL_CHAR = dba.DBR_CTRL_CHAR
    CTRL_LONG = dba.DBR_CTRL_LONG
    CTRL_DOUBLE = dba.DBR_CTRL_DOUBLE
    PUT_ACKT = dba.DBR_PUT_ACKT
    PUT_ACKS = dba.DBR_PUT_ACKS
    STSACK_STRING = dba.DBR_STSACK_STRING
    CLASS_NAME = dba.DBR_CLASS_NAME

    # Base-type predicates: value % BASE_TYPE_COUNT over every valid request type, so
    # PUT_ACKT..CLASS_NAME count as STRING..ENUM, as the C macros of db_access.h do.
    def _has_base(self, base):
        return 0 <= self.value <= dba.LAST_BUFFER_TYPE and self.value % BASE_TYPE_COUNT == base

    def _in_class(self, first):
        return first <= self.value < first + BASE_TYPE_COUNT

    def isSTRING(self):
        return self._has_base(dba.DBF_STRING)

    def isSHORT(self):
        return self._has_base(dba.DBF_SHORT)

    def isFLOAT(self):
        return self._has_base(dba.DBF_FLOAT)

    def isENUM(self):
        return self._has_base(dba.DBF_ENUM)

    def isCHAR(self):
        return self._has_base(dba.DBF_CHAR)

    def isLONG(self):
        return self._has_base(dba.DBF_LONG)

    def isDOUBLE(self):
        return self._has_base(dba.DBF_DOUBLE)

    def isPlain(self):
        return self._in_class(dba.DBR_STRING)

    def isSTS(self):
        return self._in_class(dba.DBR_STS_STRING)

    def isTIME(self):
        return self._in_class(dba.DBR_TIME_STRING)

    def isGR(self):
        return self._in_class(dba.DBR_GR_STRING)

    def isCTRL(self):
        return self._in_class(dba.DBR_CTRL_STRING)
