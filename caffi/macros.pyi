# Type stubs for caffi.macros (API.md §5): plain-int constants and the C macro helpers.
# Arguments are ints or int-likes (IntEnum members are ints). Generated from the module's
# constants; keep in step with macros.py.
from typing import Final, SupportsIndex

from caffi._dbr import dbr_size_n as dbr_size_n

cs_never_conn: Final = 0
cs_prev_conn: Final = 1
cs_conn: Final = 2
cs_closed: Final = 3
cs_never_search: Final = 4
CA_OP_GET: Final = 0
CA_OP_PUT: Final = 1
CA_OP_CREATE_CHANNEL: Final = 2
CA_OP_ADD_EVENT: Final = 3
CA_OP_CLEAR_EVENT: Final = 4
CA_OP_OTHER: Final = 5
CA_OP_CONN_UP: Final = 6
CA_OP_CONN_DOWN: Final = 7
CA_PRIORITY_MAX: Final = 99
CA_PRIORITY_MIN: Final = 0
CA_PRIORITY_DEFAULT: Final = 0
CA_PRIORITY_DB_LINKS: Final = 80
CA_PRIORITY_ARCHIVE: Final = 20
CA_PRIORITY_OPI: Final = 0
DBE_VALUE: Final = 1
DBE_ARCHIVE: Final = 2
DBE_LOG: Final = 2
DBE_ALARM: Final = 4
DBE_PROPERTY: Final = 8
TYPENOTCONN: Final = -1
DBF_STRING: Final = 0
DBF_INT: Final = 1
DBF_SHORT: Final = 1
DBF_FLOAT: Final = 2
DBF_ENUM: Final = 3
DBF_CHAR: Final = 4
DBF_LONG: Final = 5
DBF_DOUBLE: Final = 6
DBF_NO_ACCESS: Final = 7
LAST_TYPE: Final = 6
DBR_STRING: Final = 0
DBR_INT: Final = 1
DBR_SHORT: Final = 1
DBR_FLOAT: Final = 2
DBR_ENUM: Final = 3
DBR_CHAR: Final = 4
DBR_LONG: Final = 5
DBR_DOUBLE: Final = 6
DBR_STS_STRING: Final = 7
DBR_STS_SHORT: Final = 8
DBR_STS_INT: Final = 8
DBR_STS_FLOAT: Final = 9
DBR_STS_ENUM: Final = 10
DBR_STS_CHAR: Final = 11
DBR_STS_LONG: Final = 12
DBR_STS_DOUBLE: Final = 13
DBR_TIME_STRING: Final = 14
DBR_TIME_INT: Final = 15
DBR_TIME_SHORT: Final = 15
DBR_TIME_FLOAT: Final = 16
DBR_TIME_ENUM: Final = 17
DBR_TIME_CHAR: Final = 18
DBR_TIME_LONG: Final = 19
DBR_TIME_DOUBLE: Final = 20
DBR_GR_STRING: Final = 21
DBR_GR_SHORT: Final = 22
DBR_GR_INT: Final = 22
DBR_GR_FLOAT: Final = 23
DBR_GR_ENUM: Final = 24
DBR_GR_CHAR: Final = 25
DBR_GR_LONG: Final = 26
DBR_GR_DOUBLE: Final = 27
DBR_CTRL_STRING: Final = 28
DBR_CTRL_SHORT: Final = 29
DBR_CTRL_INT: Final = 29
DBR_CTRL_FLOAT: Final = 30
DBR_CTRL_ENUM: Final = 31
DBR_CTRL_CHAR: Final = 32
DBR_CTRL_LONG: Final = 33
DBR_CTRL_DOUBLE: Final = 34
DBR_PUT_ACKT: Final = 35
DBR_PUT_ACKS: Final = 36
DBR_STSACK_STRING: Final = 37
DBR_CLASS_NAME: Final = 38
LAST_BUFFER_TYPE: Final = 38
CA_K_INFO: Final = 3
CA_K_ERROR: Final = 2
CA_K_SUCCESS: Final = 1
CA_K_WARNING: Final = 0
CA_K_SEVERE: Final = 4
CA_K_FATAL: Final = 6
CA_M_MSG_NO: Final = 65528
CA_M_SEVERITY: Final = 7
CA_M_LEVEL: Final = 3
CA_M_SUCCESS: Final = 1
CA_M_ERROR: Final = 2
CA_M_SEVERE: Final = 4
CA_V_MSG_NO: Final = 3
CA_V_SEVERITY: Final = 0
CA_V_SUCCESS: Final = 0
ECA_NORMAL: Final = 1
ECA_MAXIOC: Final = 10
ECA_UKNHOST: Final = 18
ECA_UKNSERV: Final = 26
ECA_SOCK: Final = 34
ECA_CONN: Final = 40
ECA_ALLOCMEM: Final = 48
ECA_UKNCHAN: Final = 56
ECA_UKNFIELD: Final = 64
ECA_TOLARGE: Final = 72
ECA_TIMEOUT: Final = 80
ECA_NOSUPPORT: Final = 88
ECA_STRTOBIG: Final = 96
ECA_DISCONNCHID: Final = 106
ECA_BADTYPE: Final = 114
ECA_CHIDNOTFOUND: Final = 123
ECA_CHIDRETRY: Final = 131
ECA_INTERNAL: Final = 142
ECA_DBLCLFAIL: Final = 144
ECA_GETFAIL: Final = 152
ECA_PUTFAIL: Final = 160
ECA_ADDFAIL: Final = 168
ECA_BADCOUNT: Final = 176
ECA_BADSTR: Final = 186
ECA_DISCONN: Final = 192
ECA_DBLCHNL: Final = 200
ECA_EVDISALLOW: Final = 210
ECA_BUILDGET: Final = 216
ECA_NEEDSFP: Final = 224
ECA_OVEVFAIL: Final = 232
ECA_BADMONID: Final = 242
ECA_NEWADDR: Final = 248
ECA_NEWCONN: Final = 259
ECA_NOCACTX: Final = 264
ECA_DEFUNCT: Final = 278
ECA_EMPTYSTR: Final = 280
ECA_NOREPEATER: Final = 288
ECA_NOCHANMSG: Final = 296
ECA_DLCKREST: Final = 304
ECA_SERVBEHIND: Final = 312
ECA_NOCAST: Final = 320
ECA_BADMASK: Final = 330
ECA_IODONE: Final = 339
ECA_IOINPROGRESS: Final = 347
ECA_BADSYNCGRP: Final = 354
ECA_PUTCBINPROG: Final = 362
ECA_NORDACCESS: Final = 368
ECA_NOWTACCESS: Final = 376
ECA_ANACHRONISM: Final = 386
ECA_NOSEARCHADDR: Final = 392
ECA_NOCONVERT: Final = 400
ECA_BADCHID: Final = 410
ECA_BADFUNCPTR: Final = 418
ECA_ISATTACHED: Final = 424
ECA_UNAVAILINSERV: Final = 432
ECA_CHANDESTROY: Final = 440
ECA_BADPRIORITY: Final = 450
ECA_NOTTHREADED: Final = 458
ECA_16KARRAYCLIENT: Final = 464
ECA_CONNSEQTMO: Final = 472
ECA_UNRESPTMO: Final = 480
POSIX_TIME_AT_EPICS_EPOCH: Final = 631152000
NO_ALARM: Final = 0
MINOR_ALARM: Final = 1
MAJOR_ALARM: Final = 2
INVALID_ALARM: Final = 3
READ_ALARM: Final = 1
WRITE_ALARM: Final = 2
HIHI_ALARM: Final = 3
HIGH_ALARM: Final = 4
LOLO_ALARM: Final = 5
LOW_ALARM: Final = 6
STATE_ALARM: Final = 7
COS_ALARM: Final = 8
COMM_ALARM: Final = 9
TIMEOUT_ALARM: Final = 10
HW_LIMIT_ALARM: Final = 11
CALC_ALARM: Final = 12
SCAN_ALARM: Final = 13
LINK_ALARM: Final = 14
SOFT_ALARM: Final = 15
BAD_SUB_ALARM: Final = 16
UDF_ALARM: Final = 17
DISABLE_ALARM: Final = 18
SIMM_ALARM: Final = 19
READ_ACCESS_ALARM: Final = 20
WRITE_ACCESS_ALARM: Final = 21

def dbf_type_is_valid(dbftype: int) -> bool: ...
def dbr_type_is_valid(dbrtype: int) -> bool: ...
def dbr_type_is_plain(dbrtype: int) -> bool: ...
def dbr_type_is_STS(dbrtype: int) -> bool: ...
def dbr_type_is_TIME(dbrtype: int) -> bool: ...
def dbr_type_is_GR(dbrtype: int) -> bool: ...
def dbr_type_is_CTRL(dbrtype: int) -> bool: ...
def dbr_type_is_STRING(dbrtype: int) -> bool: ...
def dbr_type_is_SHORT(dbrtype: int) -> bool: ...
def dbr_type_is_FLOAT(dbrtype: int) -> bool: ...
def dbr_type_is_ENUM(dbrtype: int) -> bool: ...
def dbr_type_is_CHAR(dbrtype: int) -> bool: ...
def dbr_type_is_LONG(dbrtype: int) -> bool: ...
def dbr_type_is_DOUBLE(dbrtype: int) -> bool: ...

def dbf_type_to_DBR(dbftype: int) -> int: ...
def dbf_type_to_DBR_STS(dbftype: int) -> int: ...
def dbf_type_to_DBR_TIME(dbftype: int) -> int: ...
def dbf_type_to_DBR_GR(dbftype: int) -> int: ...
def dbf_type_to_DBR_CTRL(dbftype: int) -> int: ...

def dbf_type_to_text(dbftype: int) -> str: ...
dbf_text = dbf_type_to_text
def dbf_text_to_type(text: object) -> int: ...          # str or bytes; anything else -> -1
def dbr_type_to_text(dbrtype: int) -> str: ...
dbr_text = dbr_type_to_text
def dbr_text_to_type(text: object) -> int: ...          # str or bytes; anything else -> -1

def CA_EXTRACT_MSG_NO(code: int) -> int: ...
def CA_EXTRACT_MSG_SEVERITY(code: int) -> int: ...

# list-indexing semantics: negative indices wrap, out of range raises IndexError
def epicsAlarmSeverityStrings(severity: SupportsIndex) -> str: ...
alarmSeverityString = epicsAlarmSeverityStrings
def epicsAlarmConditionStrings(status: SupportsIndex) -> str: ...
alarmStatusString = epicsAlarmConditionStrings
