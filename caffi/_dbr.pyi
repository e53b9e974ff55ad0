# Type stubs for the compiled module caffi._dbr: the enumerations (API.md §4), DBRValue (§6.4),
# format_dbr (§9.5), message and dbr_size_n. caffi.constants and caffi.dbr re-export from here.
import enum
from typing import Any, Mapping, Optional, SupportsIndex, Tuple, Union

from typing_extensions import Buffer, TypeAlias

# A formatted DBR value (API.md §9): a scalar (int, float, str, or bytes for text that is not
# UTF-8), a list of them, a numpy.ndarray (use_numpy), a dict for the STS/TIME/GR/CTRL/STSACK
# types, or None. The form depends on the request type and count known only at run time.
_DBRData: TypeAlias = Any


class ChannelState(enum.IntEnum):
    NEVER_CONN = 0
    PREV_CONN = 1
    CONN = 2
    CLOSED = 3
    NEVER_SEARCH = 4


class CA_OP(enum.IntEnum):
    GET = 0
    PUT = 1
    CREATE_CHANNEL = 2
    ADD_EVENT = 3
    CLEAR_EVENT = 4
    OTHER = 5
    CONN_UP = 6
    CONN_DOWN = 7


class CA_PRIORITY(enum.IntEnum):
    MAX = 99
    MIN = 0
    DEFAULT = 0
    DB_LINKS = 80
    ARCHIVE = 20
    OPI = 0


class CA_K(enum.IntEnum):
    INFO = 3
    ERROR = 2
    SUCCESS = 1
    WARNING = 0
    SEVERE = 4
    FATAL = 6


class ECA(enum.IntEnum):
    NORMAL = 1
    MAXIOC = 10
    UKNHOST = 18
    UKNSERV = 26
    SOCK = 34
    CONN = 40
    ALLOCMEM = 48
    UKNCHAN = 56
    UKNFIELD = 64
    TOLARGE = 72
    TIMEOUT = 80
    NOSUPPORT = 88
    STRTOBIG = 96
    DISCONNCHID = 106
    BADTYPE = 114
    CHIDNOTFOUND = 123
    CHIDRETRY = 131
    INTERNAL = 142
    DBLCLFAIL = 144
    GETFAIL = 152
    PUTFAIL = 160
    ADDFAIL = 168
    BADCOUNT = 176
    BADSTR = 186
    DISCONN = 192
    DBLCHNL = 200
    EVDISALLOW = 210
    BUILDGET = 216
    NEEDSFP = 224
    OVEVFAIL = 232
    BADMONID = 242
    NEWADDR = 248
    NEWCONN = 259
    NOCACTX = 264
    DEFUNCT = 278
    EMPTYSTR = 280
    NOREPEATER = 288
    NOCHANMSG = 296
    DLCKREST = 304
    SERVBEHIND = 312
    NOCAST = 320
    BADMASK = 330
    IODONE = 339
    IOINPROGRESS = 347
    BADSYNCGRP = 354
    PUTCBINPROG = 362
    NORDACCESS = 368
    NOWTACCESS = 376
    ANACHRONISM = 386
    NOSEARCHADDR = 392
    NOCONVERT = 400
    BADCHID = 410
    BADFUNCPTR = 418
    ISATTACHED = 424
    UNAVAILINSERV = 432
    CHANDESTROY = 440
    BADPRIORITY = 450
    NOTTHREADED = 458
    ARRAY16KCLIENT = 464
    CONNSEQTMO = 472
    UNRESPTMO = 480

    def severity(self) -> CA_K: ...
    def message(self) -> str: ...


class DBE(enum.IntEnum):
    VALUE = 1
    ARCHIVE = 2
    ALARM = 4
    PROPERTY = 8


class AlarmSeverity(enum.IntEnum):
    No = 0
    Minor = 1
    Major = 2
    Invalid = 3


class AlarmCondition(enum.IntEnum):
    No = 0
    Read = 1
    Write = 2
    HiHi = 3
    High = 4
    LoLo = 5
    Low = 6
    State = 7
    Cos = 8
    Comm = 9
    Timeout = 10
    HwLimit = 11
    Calc = 12
    Scan = 13
    Link = 14
    Soft = 15
    BadSub = 16
    UDF = 17
    Disable = 18
    Simm = 19
    ReadAccess = 20
    WriteAccess = 21


class DBF(enum.IntEnum):
    INVALID = -1
    STRING = 0
    SHORT = 1
    INT = 1
    FLOAT = 2
    ENUM = 3
    CHAR = 4
    LONG = 5
    DOUBLE = 6

    def toSTS(self) -> DBR: ...
    def toTIME(self) -> DBR: ...
    def toGR(self) -> DBR: ...
    def toCTRL(self) -> DBR: ...


class DBR(enum.IntEnum):
    INVALID = -1
    STRING = 0
    INT = 1
    SHORT = 1
    FLOAT = 2
    ENUM = 3
    CHAR = 4
    LONG = 5
    DOUBLE = 6
    STS_STRING = 7
    STS_SHORT = 8
    STS_INT = 8
    STS_FLOAT = 9
    STS_ENUM = 10
    STS_CHAR = 11
    STS_LONG = 12
    STS_DOUBLE = 13
    TIME_STRING = 14
    TIME_INT = 15
    TIME_SHORT = 15
    TIME_FLOAT = 16
    TIME_ENUM = 17
    TIME_CHAR = 18
    TIME_LONG = 19
    TIME_DOUBLE = 20
    GR_STRING = 21
    GR_SHORT = 22
    GR_INT = 22
    GR_FLOAT = 23
    GR_ENUM = 24
    GR_CHAR = 25
    GR_LONG = 26
    GR_DOUBLE = 27
    CTRL_STRING = 28
    CTRL_SHORT = 29
    CTRL_INT = 29
    CTRL_FLOAT = 30
    CTRL_ENUM = 31
    CTRL_CHAR = 32
    CTRL_LONG = 33
    CTRL_DOUBLE = 34
    PUT_ACKT = 35
    PUT_ACKS = 36
    STSACK_STRING = 37
    CLASS_NAME = 38

    def isSTRING(self) -> bool: ...
    def isSHORT(self) -> bool: ...
    def isFLOAT(self) -> bool: ...
    def isENUM(self) -> bool: ...
    def isCHAR(self) -> bool: ...
    def isLONG(self) -> bool: ...
    def isDOUBLE(self) -> bool: ...
    def isPlain(self) -> bool: ...
    def isSTS(self) -> bool: ...
    def isTIME(self) -> bool: ...
    def isGR(self) -> bool: ...
    def isCTRL(self) -> bool: ...


# Header constants that no enum carries (re-exported by caffi.macros).
TYPENOTCONN: int
DBF_NO_ACCESS: int
CA_M_MSG_NO: int
CA_M_SEVERITY: int
CA_M_LEVEL: int
CA_M_SUCCESS: int
CA_M_ERROR: int
CA_M_SEVERE: int
CA_V_MSG_NO: int
CA_V_SEVERITY: int
CA_V_SUCCESS: int
POSIX_TIME_AT_EPICS_EPOCH: int

# The put rules (API.md §8): writable request type -> element kind, and the integer ranges.
WRITE_KINDS: Mapping[DBR, DBF]
WRITABLE_TYPES: Tuple[DBR, ...]
INTEGER_RANGES: Mapping[DBF, Tuple[int, int]]


def message(status: int) -> str: ...

def dbr_size_n(TYPE: SupportsIndex, COUNT: SupportsIndex) -> int: ...

def format_dbr(dbrType: SupportsIndex, count: SupportsIndex, dbrValue: Optional[Buffer],
               use_numpy: bool = False) -> _DBRData: ...


class DBRBuffer:
    """Zero-filled memory a read reply is written into (supports the buffer protocol)."""
    def __len__(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __release_buffer__(self, buffer: memoryview, /) -> None: ...


class DBRValue:
    # request type (a DBR member, or a plain int for a number outside DBR); compare with ==
    dbrtype: int
    count: int
    cvalue: Optional[Buffer]
    use_numpy: bool

    def __init__(self, dbrtype: int = ..., count: int = 0, cvalue: Optional[Buffer] = None,
                 use_numpy: bool = False) -> None: ...
    def get(self) -> _DBRData: ...


class PutPayload: ...


