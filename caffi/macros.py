"""Plain-int constants and helper functions mirroring the libca C macros.

Everything public here is exported by ``from caffi.macros import *`` and is
also available as an attribute of :mod:`caffi.ca`. Names starting with ``_``
are private.
"""

from ._dbr import (CA_K as _CA_K, CA_OP as _CA_OP, CA_PRIORITY as _CA_PRIORITY, DBE as _DBE,
                   DBF as _DBF, DBR as _DBR, ECA as _ECA, AlarmCondition as _AlarmCondition,
                   AlarmSeverity as _AlarmSeverity, ChannelState as _ChannelState)
# Header constants that no enum carries, re-exported as they are.
from ._dbr import (TYPENOTCONN, DBF_NO_ACCESS, CA_M_MSG_NO, CA_M_SEVERITY, CA_M_LEVEL,
                   CA_M_SUCCESS, CA_M_ERROR, CA_M_SEVERE, CA_V_MSG_NO, CA_V_SEVERITY,
                   CA_V_SUCCESS, POSIX_TIME_AT_EPICS_EPOCH)  # noqa: F401
from ._dbr import dbr_size_n  # noqa: F401 (re-exported)

# Every value below is the C header's (through the enums of caffi._dbr, whose members are the
# cimported header constants); none is written here.

# ---------------------------------------------------------------------------
# Channel states (cadef.h: enum channel_state)
cs_never_conn = int(_ChannelState.NEVER_CONN)
cs_prev_conn = int(_ChannelState.PREV_CONN)
cs_conn = int(_ChannelState.CONN)
cs_closed = int(_ChannelState.CLOSED)
cs_never_search = int(_ChannelState.NEVER_SEARCH)

# ---------------------------------------------------------------------------
# Exception handler operations (cadef.h)
CA_OP_GET = int(_CA_OP.GET)
CA_OP_PUT = int(_CA_OP.PUT)
CA_OP_CREATE_CHANNEL = int(_CA_OP.CREATE_CHANNEL)
CA_OP_ADD_EVENT = int(_CA_OP.ADD_EVENT)
CA_OP_CLEAR_EVENT = int(_CA_OP.CLEAR_EVENT)
CA_OP_OTHER = int(_CA_OP.OTHER)
CA_OP_CONN_UP = int(_CA_OP.CONN_UP)
CA_OP_CONN_DOWN = int(_CA_OP.CONN_DOWN)

# ---------------------------------------------------------------------------
# Channel priorities (cadef.h)
CA_PRIORITY_MAX = int(_CA_PRIORITY.MAX)
CA_PRIORITY_MIN = int(_CA_PRIORITY.MIN)
CA_PRIORITY_DEFAULT = CA_PRIORITY_MIN
CA_PRIORITY_DB_LINKS = int(_CA_PRIORITY.DB_LINKS)
CA_PRIORITY_ARCHIVE = int(_CA_PRIORITY.ARCHIVE)
CA_PRIORITY_OPI = int(_CA_PRIORITY.OPI)

# ---------------------------------------------------------------------------
# Subscription event masks (caeventmask.h)
DBE_VALUE = int(_DBE.VALUE)
DBE_ARCHIVE = int(_DBE.ARCHIVE)
DBE_LOG = DBE_ARCHIVE
DBE_ALARM = int(_DBE.ALARM)
DBE_PROPERTY = int(_DBE.PROPERTY)

# ---------------------------------------------------------------------------
# Native field types (db_access.h; TYPENOTCONN and DBF_NO_ACCESS are imported above)
DBF_STRING = int(_DBF.STRING)
DBF_INT = int(_DBF.INT)
DBF_SHORT = int(_DBF.SHORT)
DBF_FLOAT = int(_DBF.FLOAT)
DBF_ENUM = int(_DBF.ENUM)
DBF_CHAR = int(_DBF.CHAR)
DBF_LONG = int(_DBF.LONG)
DBF_DOUBLE = int(_DBF.DOUBLE)
LAST_TYPE = DBF_DOUBLE

# ---------------------------------------------------------------------------
# Request types (db_access.h)
DBR_STRING = int(_DBR.STRING)
DBR_INT = int(_DBR.INT)
DBR_SHORT = int(_DBR.SHORT)
DBR_FLOAT = int(_DBR.FLOAT)
DBR_ENUM = int(_DBR.ENUM)
DBR_CHAR = int(_DBR.CHAR)
DBR_LONG = int(_DBR.LONG)
DBR_DOUBLE = int(_DBR.DOUBLE)
DBR_STS_STRING = int(_DBR.STS_STRING)
DBR_STS_SHORT = int(_DBR.STS_SHORT)
DBR_STS_INT = int(_DBR.STS_INT)
DBR_STS_FLOAT = int(_DBR.STS_FLOAT)
DBR_STS_ENUM = int(_DBR.STS_ENUM)
DBR_STS_CHAR = int(_DBR.STS_CHAR)
DBR_STS_LONG = int(_DBR.STS_LONG)
DBR_STS_DOUBLE = int(_DBR.STS_DOUBLE)
DBR_TIME_STRING = int(_DBR.TIME_STRING)
DBR_TIME_INT = int(_DBR.TIME_INT)
DBR_TIME_SHORT = int(_DBR.TIME_SHORT)
DBR_TIME_FLOAT = int(_DBR.TIME_FLOAT)
DBR_TIME_ENUM = int(_DBR.TIME_ENUM)
DBR_TIME_CHAR = int(_DBR.TIME_CHAR)
DBR_TIME_LONG = int(_DBR.TIME_LONG)
DBR_TIME_DOUBLE = int(_DBR.TIME_DOUBLE)
DBR_GR_STRING = int(_DBR.GR_STRING)
DBR_GR_SHORT = int(_DBR.GR_SHORT)
DBR_GR_INT = int(_DBR.GR_INT)
DBR_GR_FLOAT = int(_DBR.GR_FLOAT)
DBR_GR_ENUM = int(_DBR.GR_ENUM)
DBR_GR_CHAR = int(_DBR.GR_CHAR)
DBR_GR_LONG = int(_DBR.GR_LONG)
DBR_GR_DOUBLE = int(_DBR.GR_DOUBLE)
DBR_CTRL_STRING = int(_DBR.CTRL_STRING)
DBR_CTRL_SHORT = int(_DBR.CTRL_SHORT)
DBR_CTRL_INT = int(_DBR.CTRL_INT)
DBR_CTRL_FLOAT = int(_DBR.CTRL_FLOAT)
DBR_CTRL_ENUM = int(_DBR.CTRL_ENUM)
DBR_CTRL_CHAR = int(_DBR.CTRL_CHAR)
DBR_CTRL_LONG = int(_DBR.CTRL_LONG)
DBR_CTRL_DOUBLE = int(_DBR.CTRL_DOUBLE)
DBR_PUT_ACKT = int(_DBR.PUT_ACKT)
DBR_PUT_ACKS = int(_DBR.PUT_ACKS)
DBR_STSACK_STRING = int(_DBR.STSACK_STRING)
DBR_CLASS_NAME = int(_DBR.CLASS_NAME)
LAST_BUFFER_TYPE = DBR_CLASS_NAME

# ---------------------------------------------------------------------------
# Status code severities (caerr.h; the masks and shifts CA_M_*, CA_V_* are imported above)
CA_K_INFO = int(_CA_K.INFO)
CA_K_ERROR = int(_CA_K.ERROR)
CA_K_SUCCESS = int(_CA_K.SUCCESS)
CA_K_WARNING = int(_CA_K.WARNING)
CA_K_SEVERE = int(_CA_K.SEVERE)
CA_K_FATAL = int(_CA_K.FATAL)



# ---------------------------------------------------------------------------
# Status codes (caerr.h): (message number << 3) | severity
ECA_NORMAL = int(_ECA.NORMAL)
ECA_MAXIOC = int(_ECA.MAXIOC)
ECA_UKNHOST = int(_ECA.UKNHOST)
ECA_UKNSERV = int(_ECA.UKNSERV)
ECA_SOCK = int(_ECA.SOCK)
ECA_CONN = int(_ECA.CONN)
ECA_ALLOCMEM = int(_ECA.ALLOCMEM)
ECA_UKNCHAN = int(_ECA.UKNCHAN)
ECA_UKNFIELD = int(_ECA.UKNFIELD)
ECA_TOLARGE = int(_ECA.TOLARGE)
ECA_TIMEOUT = int(_ECA.TIMEOUT)
ECA_NOSUPPORT = int(_ECA.NOSUPPORT)
ECA_STRTOBIG = int(_ECA.STRTOBIG)
ECA_DISCONNCHID = int(_ECA.DISCONNCHID)
ECA_BADTYPE = int(_ECA.BADTYPE)
ECA_CHIDNOTFOUND = int(_ECA.CHIDNOTFOUND)
ECA_CHIDRETRY = int(_ECA.CHIDRETRY)
ECA_INTERNAL = int(_ECA.INTERNAL)
ECA_DBLCLFAIL = int(_ECA.DBLCLFAIL)
ECA_GETFAIL = int(_ECA.GETFAIL)
ECA_PUTFAIL = int(_ECA.PUTFAIL)
ECA_ADDFAIL = int(_ECA.ADDFAIL)
ECA_BADCOUNT = int(_ECA.BADCOUNT)
ECA_BADSTR = int(_ECA.BADSTR)
ECA_DISCONN = int(_ECA.DISCONN)
ECA_DBLCHNL = int(_ECA.DBLCHNL)
ECA_EVDISALLOW = int(_ECA.EVDISALLOW)
ECA_BUILDGET = int(_ECA.BUILDGET)
ECA_NEEDSFP = int(_ECA.NEEDSFP)
ECA_OVEVFAIL = int(_ECA.OVEVFAIL)
ECA_BADMONID = int(_ECA.BADMONID)
ECA_NEWADDR = int(_ECA.NEWADDR)
ECA_NEWCONN = int(_ECA.NEWCONN)
ECA_NOCACTX = int(_ECA.NOCACTX)
ECA_DEFUNCT = int(_ECA.DEFUNCT)
ECA_EMPTYSTR = int(_ECA.EMPTYSTR)
ECA_NOREPEATER = int(_ECA.NOREPEATER)
ECA_NOCHANMSG = int(_ECA.NOCHANMSG)
ECA_DLCKREST = int(_ECA.DLCKREST)
ECA_SERVBEHIND = int(_ECA.SERVBEHIND)
ECA_NOCAST = int(_ECA.NOCAST)
ECA_BADMASK = int(_ECA.BADMASK)
ECA_IODONE = int(_ECA.IODONE)
ECA_IOINPROGRESS = int(_ECA.IOINPROGRESS)
ECA_BADSYNCGRP = int(_ECA.BADSYNCGRP)
ECA_PUTCBINPROG = int(_ECA.PUTCBINPROG)
ECA_NORDACCESS = int(_ECA.NORDACCESS)
ECA_NOWTACCESS = int(_ECA.NOWTACCESS)
ECA_ANACHRONISM = int(_ECA.ANACHRONISM)
ECA_NOSEARCHADDR = int(_ECA.NOSEARCHADDR)
ECA_NOCONVERT = int(_ECA.NOCONVERT)
ECA_BADCHID = int(_ECA.BADCHID)
ECA_BADFUNCPTR = int(_ECA.BADFUNCPTR)
ECA_ISATTACHED = int(_ECA.ISATTACHED)
ECA_UNAVAILINSERV = int(_ECA.UNAVAILINSERV)
ECA_CHANDESTROY = int(_ECA.CHANDESTROY)
ECA_BADPRIORITY = int(_ECA.BADPRIORITY)
ECA_NOTTHREADED = int(_ECA.NOTTHREADED)
ECA_16KARRAYCLIENT = int(_ECA.ARRAY16KCLIENT)
ECA_CONNSEQTMO = int(_ECA.CONNSEQTMO)
ECA_UNRESPTMO = int(_ECA.UNRESPTMO)

# ---------------------------------------------------------------------------
# Alarm severities and conditions (alarm.h)
NO_ALARM = int(_AlarmSeverity.No)
MINOR_ALARM = int(_AlarmSeverity.Minor)
MAJOR_ALARM = int(_AlarmSeverity.Major)
INVALID_ALARM = int(_AlarmSeverity.Invalid)

READ_ALARM = int(_AlarmCondition.Read)
WRITE_ALARM = int(_AlarmCondition.Write)
HIHI_ALARM = int(_AlarmCondition.HiHi)
HIGH_ALARM = int(_AlarmCondition.High)
LOLO_ALARM = int(_AlarmCondition.LoLo)
LOW_ALARM = int(_AlarmCondition.Low)
STATE_ALARM = int(_AlarmCondition.State)
COS_ALARM = int(_AlarmCondition.Cos)
COMM_ALARM = int(_AlarmCondition.Comm)
TIMEOUT_ALARM = int(_AlarmCondition.Timeout)
HW_LIMIT_ALARM = int(_AlarmCondition.HwLimit)
CALC_ALARM = int(_AlarmCondition.Calc)
SCAN_ALARM = int(_AlarmCondition.Scan)
LINK_ALARM = int(_AlarmCondition.Link)
SOFT_ALARM = int(_AlarmCondition.Soft)
BAD_SUB_ALARM = int(_AlarmCondition.BadSub)
UDF_ALARM = int(_AlarmCondition.UDF)
DISABLE_ALARM = int(_AlarmCondition.Disable)
SIMM_ALARM = int(_AlarmCondition.Simm)
READ_ACCESS_ALARM = int(_AlarmCondition.ReadAccess)
WRITE_ACCESS_ALARM = int(_AlarmCondition.WriteAccess)


# ---------------------------------------------------------------------------
# Name tables (the single source for the text helpers below)

# Index = DBF type + 1 (so -1, TYPENOTCONN, is item 0).
_DBF_TEXT = (
    'TYPENOTCONN', 'DBF_STRING', 'DBF_SHORT', 'DBF_FLOAT', 'DBF_ENUM',
    'DBF_CHAR', 'DBF_LONG', 'DBF_DOUBLE', 'DBF_NO_ACCESS',
)
_DBF_TEXT_INVALID = 'DBF_invalid'

# Index = DBR type (0 .. LAST_BUFFER_TYPE); SHORT is the spelling for 1, 8, 15, 22, 29.
_DBR_TEXT = tuple(
    'DBR_' + _prefix + _base
    for _prefix in ('', 'STS_', 'TIME_', 'GR_', 'CTRL_')
    for _base in ('STRING', 'SHORT', 'FLOAT', 'ENUM', 'CHAR', 'LONG', 'DOUBLE')
) + ('DBR_PUT_ACKT', 'DBR_PUT_ACKS', 'DBR_STSACK_STRING', 'DBR_CLASS_NAME')
_DBR_TEXT_INVALID = 'DBR_invalid'

# Text -> type lookups derived from the tables above ('TYPENOTCONN' is not reversible).
_DBF_TYPE_BY_TEXT = {_text: _i for _i, _text in enumerate(_DBF_TEXT[1:])}
_DBR_TYPE_BY_TEXT = {_text: _i for _i, _text in enumerate(_DBR_TEXT)}

_ALARM_SEVERITY_STRINGS = ('NO_ALARM', 'MINOR', 'MAJOR', 'INVALID')
_ALARM_CONDITION_STRINGS = (
    'NO_ALARM', 'READ', 'WRITE', 'HIHI', 'HIGH', 'LOLO', 'LOW', 'STATE',
    'COS', 'COMM', 'TIMEOUT', 'HWLIMIT', 'CALC', 'SCAN', 'LINK', 'SOFT',
    'BAD_SUB', 'UDF', 'DISABLE', 'SIMM', 'READ_ACCESS', 'WRITE_ACCESS',
)


def _as_text(text):
    """Return *text* as str (bytes are decoded), or None if it is not text."""
    if isinstance(text, (bytes, bytearray)):
        return bytes(text).decode('utf-8', 'replace')
    if isinstance(text, str):
        return text
    return None


# ---------------------------------------------------------------------------
# Type predicates

def dbf_type_is_valid(dbftype):
    """True if *dbftype* is a valid native field type (0..LAST_TYPE)."""
    return 0 <= dbftype <= LAST_TYPE


def dbr_type_is_valid(dbrtype):
    """True if *dbrtype* is a valid request type (0..LAST_BUFFER_TYPE)."""
    return 0 <= dbrtype <= LAST_BUFFER_TYPE


def dbr_type_is_plain(dbrtype):
    """True for the plain value types DBR_STRING..DBR_DOUBLE."""
    return DBR_STRING <= dbrtype <= DBR_DOUBLE


def dbr_type_is_STS(dbrtype):
    """True for the DBR_STS_* types."""
    return DBR_STS_STRING <= dbrtype <= DBR_STS_DOUBLE


def dbr_type_is_TIME(dbrtype):
    """True for the DBR_TIME_* types."""
    return DBR_TIME_STRING <= dbrtype <= DBR_TIME_DOUBLE


def dbr_type_is_GR(dbrtype):
    """True for the DBR_GR_* types."""
    return DBR_GR_STRING <= dbrtype <= DBR_GR_DOUBLE


def dbr_type_is_CTRL(dbrtype):
    """True for the DBR_CTRL_* types."""
    return DBR_CTRL_STRING <= dbrtype <= DBR_CTRL_DOUBLE


def _base_type_is(dbrtype, base):
    # Same as the C macros: valid and (type % (LAST_TYPE + 1)) == base, which
    # also classifies DBR_PUT_ACKT..DBR_CLASS_NAME (quirk kept on purpose).
    return dbr_type_is_valid(dbrtype) and dbrtype % (LAST_TYPE + 1) == base


def dbr_type_is_STRING(dbrtype):
    """True if the value part of *dbrtype* is a string."""
    return _base_type_is(dbrtype, DBR_STRING)


def dbr_type_is_SHORT(dbrtype):
    """True if the value part of *dbrtype* is a short."""
    return _base_type_is(dbrtype, DBR_SHORT)


def dbr_type_is_FLOAT(dbrtype):
    """True if the value part of *dbrtype* is a float."""
    return _base_type_is(dbrtype, DBR_FLOAT)


def dbr_type_is_ENUM(dbrtype):
    """True if the value part of *dbrtype* is an enum."""
    return _base_type_is(dbrtype, DBR_ENUM)


def dbr_type_is_CHAR(dbrtype):
    """True if the value part of *dbrtype* is a char."""
    return _base_type_is(dbrtype, DBR_CHAR)


def dbr_type_is_LONG(dbrtype):
    """True if the value part of *dbrtype* is a long."""
    return _base_type_is(dbrtype, DBR_LONG)


def dbr_type_is_DOUBLE(dbrtype):
    """True if the value part of *dbrtype* is a double."""
    return _base_type_is(dbrtype, DBR_DOUBLE)


# ---------------------------------------------------------------------------
# Type converters

def _dbf_to_dbr(dbftype, offset):
    if dbf_type_is_valid(dbftype):
        return int(dbftype) + offset
    return -1


def dbf_type_to_DBR(dbftype):
    """Plain request type for a native field type, or -1."""
    return _dbf_to_dbr(dbftype, DBR_STRING)


def dbf_type_to_DBR_STS(dbftype):
    """DBR_STS_* request type for a native field type, or -1."""
    return _dbf_to_dbr(dbftype, DBR_STS_STRING)


def dbf_type_to_DBR_TIME(dbftype):
    """DBR_TIME_* request type for a native field type, or -1."""
    return _dbf_to_dbr(dbftype, DBR_TIME_STRING)


def dbf_type_to_DBR_GR(dbftype):
    """DBR_GR_* request type for a native field type, or -1."""
    return _dbf_to_dbr(dbftype, DBR_GR_STRING)


def dbf_type_to_DBR_CTRL(dbftype):
    """DBR_CTRL_* request type for a native field type, or -1."""
    return _dbf_to_dbr(dbftype, DBR_CTRL_STRING)


# ---------------------------------------------------------------------------
# Type <-> text

def dbf_type_to_text(dbftype):
    """Name of a native field type, e.g. ``'DBF_DOUBLE'``; ``'DBF_invalid'`` if unknown."""
    if TYPENOTCONN <= dbftype <= DBF_NO_ACCESS:
        return _DBF_TEXT[dbftype + 1]
    return _DBF_TEXT_INVALID


dbf_text = dbf_type_to_text


def dbf_text_to_type(text):
    """Native field type named by *text* (str or bytes), or -1."""
    text = _as_text(text)
    if text is None:
        return -1
    return _DBF_TYPE_BY_TEXT.get(text, -1)


def dbr_type_to_text(dbrtype):
    """Name of a request type, e.g. ``'DBR_TIME_DOUBLE'``; ``'DBR_invalid'`` if unknown."""
    if dbr_type_is_valid(dbrtype):
        return _DBR_TEXT[dbrtype]
    return _DBR_TEXT_INVALID


dbr_text = dbr_type_to_text


def dbr_text_to_type(text):
    """Request type named by *text* (str or bytes), or -1."""
    text = _as_text(text)
    if text is None:
        return -1
    return _DBR_TYPE_BY_TEXT.get(text, -1)


# ---------------------------------------------------------------------------
# Status codes

def CA_EXTRACT_MSG_NO(code):
    """Message number part of a CA status code."""
    return (code & CA_M_MSG_NO) >> CA_V_MSG_NO


def CA_EXTRACT_MSG_SEVERITY(code):
    """Severity part (a CA_K_* value) of a CA status code."""
    return (code & CA_M_SEVERITY) >> CA_V_SEVERITY


# ---------------------------------------------------------------------------
# Alarm strings (list-indexing semantics: negative wraps, out of range raises IndexError)

def epicsAlarmSeverityStrings(severity):
    """Name of an alarm severity, e.g. ``'MAJOR'``."""
    return _ALARM_SEVERITY_STRINGS[severity]


alarmSeverityString = epicsAlarmSeverityStrings


def epicsAlarmConditionStrings(status):
    """Name of an alarm condition (status), e.g. ``'HIHI'``."""
    return _ALARM_CONDITION_STRINGS[status]


alarmStatusString = epicsAlarmConditionStrings
