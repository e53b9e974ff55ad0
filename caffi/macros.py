"""Plain-int constants and helper functions mirroring the libca C macros.

Everything public here is exported by ``from caffi.macros import *`` and is
also available as an attribute of :mod:`caffi.ca`. Names starting with ``_``
are private.
"""

from ._dbr import dbr_size_n

# ---------------------------------------------------------------------------
# Channel states (cadef.h: enum channel_state)
cs_never_conn = 0
cs_prev_conn = 1
cs_conn = 2
cs_closed = 3
cs_never_search = 4

# ---------------------------------------------------------------------------
# Exception handler operations (cadef.h)
CA_OP_GET = 0
CA_OP_PUT = 1
CA_OP_CREATE_CHANNEL = 2
CA_OP_ADD_EVENT = 3
CA_OP_CLEAR_EVENT = 4
CA_OP_OTHER = 5
CA_OP_CONN_UP = 6
CA_OP_CONN_DOWN = 7

# ---------------------------------------------------------------------------
# Channel priorities (cadef.h)
CA_PRIORITY_MAX = 99
CA_PRIORITY_MIN = 0
CA_PRIORITY_DEFAULT = CA_PRIORITY_MIN
CA_PRIORITY_DB_LINKS = 80
CA_PRIORITY_ARCHIVE = 20
CA_PRIORITY_OPI = 0

# ---------------------------------------------------------------------------
# Subscription event masks (caeventmask.h)
DBE_VALUE = 1
DBE_ARCHIVE = 2
DBE_LOG = DBE_ARCHIVE
DBE_ALARM = 4
DBE_PROPERTY = 8

# ---------------------------------------------------------------------------
# Native field types (db_access.h)
TYPENOTCONN = -1
DBF_STRING = 0
DBF_INT = 1
DBF_SHORT = 1
DBF_FLOAT = 2
DBF_ENUM = 3
DBF_CHAR = 4
DBF_LONG = 5
DBF_DOUBLE = 6
DBF_NO_ACCESS = 7
LAST_TYPE = DBF_DOUBLE

# ---------------------------------------------------------------------------
# Request types (db_access.h)
DBR_STRING = 0
DBR_INT = 1
DBR_SHORT = 1
DBR_FLOAT = 2
DBR_ENUM = 3
DBR_CHAR = 4
DBR_LONG = 5
DBR_DOUBLE = 6
DBR_STS_STRING = 7
DBR_STS_SHORT = 8
DBR_STS_INT = 8
DBR_STS_FLOAT = 9
DBR_STS_ENUM = 10
DBR_STS_CHAR = 11
DBR_STS_LONG = 12
DBR_STS_DOUBLE = 13
DBR_TIME_STRING = 14
DBR_TIME_INT = 15
DBR_TIME_SHORT = 15
DBR_TIME_FLOAT = 16
DBR_TIME_ENUM = 17
DBR_TIME_CHAR = 18
DBR_TIME_LONG = 19
DBR_TIME_DOUBLE = 20
DBR_GR_STRING = 21
DBR_GR_SHORT = 22
DBR_GR_INT = 22
DBR_GR_FLOAT = 23
DBR_GR_ENUM = 24
DBR_GR_CHAR = 25
DBR_GR_LONG = 26
DBR_GR_DOUBLE = 27
DBR_CTRL_STRING = 28
DBR_CTRL_SHORT = 29
DBR_CTRL_INT = 29
DBR_CTRL_FLOAT = 30
DBR_CTRL_ENUM = 31
DBR_CTRL_CHAR = 32
DBR_CTRL_LONG = 33
DBR_CTRL_DOUBLE = 34
DBR_PUT_ACKT = 35
DBR_PUT_ACKS = 36
DBR_STSACK_STRING = 37
DBR_CLASS_NAME = 38
LAST_BUFFER_TYPE = DBR_CLASS_NAME

# ---------------------------------------------------------------------------
# Status code severities and masks (caerr.h)
CA_K_INFO = 3
CA_K_ERROR = 2
CA_K_SUCCESS = 1
CA_K_WARNING = 0
CA_K_SEVERE = 4
CA_K_FATAL = CA_K_ERROR | CA_K_SEVERE

CA_M_MSG_NO = 0x0000FFF8
CA_M_SEVERITY = 0x00000007
CA_M_LEVEL = 0x00000003
CA_M_SUCCESS = 0x00000001
CA_M_ERROR = 0x00000002
CA_M_SEVERE = 0x00000004

CA_V_MSG_NO = 0x03
CA_V_SEVERITY = 0x00
CA_V_SUCCESS = 0x00

# ---------------------------------------------------------------------------
# Status codes (caerr.h): (message number << 3) | severity
ECA_NORMAL = 1
ECA_MAXIOC = 10
ECA_UKNHOST = 18
ECA_UKNSERV = 26
ECA_SOCK = 34
ECA_CONN = 40
ECA_ALLOCMEM = 48
ECA_UKNCHAN = 56
ECA_UKNFIELD = 64
ECA_TOLARGE = 72
ECA_TIMEOUT = 80
ECA_NOSUPPORT = 88
ECA_STRTOBIG = 96
ECA_DISCONNCHID = 106
ECA_BADTYPE = 114
ECA_CHIDNOTFOUND = 123
ECA_CHIDRETRY = 131
ECA_INTERNAL = 142
ECA_DBLCLFAIL = 144
ECA_GETFAIL = 152
ECA_PUTFAIL = 160
ECA_ADDFAIL = 168
ECA_BADCOUNT = 176
ECA_BADSTR = 186
ECA_DISCONN = 192
ECA_DBLCHNL = 200
ECA_EVDISALLOW = 210
ECA_BUILDGET = 216
ECA_NEEDSFP = 224
ECA_OVEVFAIL = 232
ECA_BADMONID = 242
ECA_NEWADDR = 248
ECA_NEWCONN = 259
ECA_NOCACTX = 264
ECA_DEFUNCT = 278
ECA_EMPTYSTR = 280
ECA_NOREPEATER = 288
ECA_NOCHANMSG = 296
ECA_DLCKREST = 304
ECA_SERVBEHIND = 312
ECA_NOCAST = 320
ECA_BADMASK = 330
ECA_IODONE = 339
ECA_IOINPROGRESS = 347
ECA_BADSYNCGRP = 354
ECA_PUTCBINPROG = 362
ECA_NORDACCESS = 368
ECA_NOWTACCESS = 376
ECA_ANACHRONISM = 386
ECA_NOSEARCHADDR = 392
ECA_NOCONVERT = 400
ECA_BADCHID = 410
ECA_BADFUNCPTR = 418
ECA_ISATTACHED = 424
ECA_UNAVAILINSERV = 432
ECA_CHANDESTROY = 440
ECA_BADPRIORITY = 450
ECA_NOTTHREADED = 458
ECA_16KARRAYCLIENT = 464
ECA_CONNSEQTMO = 472
ECA_UNRESPTMO = 480

# ---------------------------------------------------------------------------
# Time stamps (epicsTime.h)
POSIX_TIME_AT_EPICS_EPOCH = 631152000

# ---------------------------------------------------------------------------
# Alarm severities and conditions (alarm.h)
NO_ALARM = 0
MINOR_ALARM = 1
MAJOR_ALARM = 2
INVALID_ALARM = 3

READ_ALARM = 1
WRITE_ALARM = 2
HIHI_ALARM = 3
HIGH_ALARM = 4
LOLO_ALARM = 5
LOW_ALARM = 6
STATE_ALARM = 7
COS_ALARM = 8
COMM_ALARM = 9
TIMEOUT_ALARM = 10
HW_LIMIT_ALARM = 11
CALC_ALARM = 12
SCAN_ALARM = 13
LINK_ALARM = 14
SOFT_ALARM = 15
BAD_SUB_ALARM = 16
UDF_ALARM = 17
DISABLE_ALARM = 18
SIMM_ALARM = 19
READ_ACCESS_ALARM = 20
WRITE_ACCESS_ALARM = 21

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
