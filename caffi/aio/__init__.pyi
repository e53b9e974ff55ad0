# Type stubs for caffi.aio: aioca 2.x's API (caget, caput, camonitor, ...) on caffi.
import asyncio
from typing import (Any, Awaitable, Callable, Coroutine, List, Optional, Sequence, Tuple,
                    TypeVar, Union, overload)

# epicscorelibs ships no type information: its constants and value classes are Any here
from epicscorelibs.ca.cadef import (  # type: ignore[import-untyped]
                                    DBE_ALARM as DBE_ALARM, DBE_LOG as DBE_LOG,
                                    DBE_PROPERTY as DBE_PROPERTY, DBE_VALUE as DBE_VALUE)
from epicscorelibs.ca.dbr import (  # type: ignore[import-untyped]
                                  DBR_CHAR as DBR_CHAR, DBR_CHAR_BYTES as DBR_CHAR_BYTES,
                                  DBR_CHAR_STR as DBR_CHAR_STR,
                                  DBR_CHAR_UNICODE as DBR_CHAR_UNICODE,
                                  DBR_CLASS_NAME as DBR_CLASS_NAME, DBR_DOUBLE as DBR_DOUBLE,
                                  DBR_ENUM as DBR_ENUM, DBR_ENUM_STR as DBR_ENUM_STR,
                                  DBR_FLOAT as DBR_FLOAT, DBR_LONG as DBR_LONG,
                                  DBR_PUT_ACKS as DBR_PUT_ACKS, DBR_PUT_ACKT as DBR_PUT_ACKT,
                                  DBR_SHORT as DBR_SHORT, DBR_STRING as DBR_STRING,
                                  DBR_STSACK_STRING as DBR_STSACK_STRING,
                                  FORMAT_CTRL as FORMAT_CTRL, FORMAT_RAW as FORMAT_RAW,
                                  FORMAT_TIME as FORMAT_TIME, ca_extra_fields as ca_extra_fields)

__version__: str

_T = TypeVar('_T')
# None: never; a number: seconds from now; (deadline,): POSIX time
_Timeout = Union[None, float, Tuple[float]]
_PVs = Union[List[str], Tuple[str, ...]]
# a DBR_ code, a Python or numpy type, or None for the channel's native type
_Datatype = Any
# ca_str, ca_int, ca_float, ca_bytes or ca_array with .name, .ok and the fields of the format
_AugmentedValue = Any

class CANothing(Exception):
    name: str
    ok: bool
    errorcode: int
    def __init__(self, name: str, errorcode: int = ...) -> None: ...
    def __bool__(self) -> bool: ...

class CAInfo:
    state_strings: List[str]
    datatype_strings: List[str]
    ok: bool
    name: str
    state: int
    host: str
    read: bool
    write: bool
    count: int
    datatype: int
    def __init__(self, pv: str, channel: Any) -> None: ...

class ChannelInfo:
    name: str
    connected: bool
    subscriber_count: int
    def __init__(self, name: str, connected: bool, subscriber_count: int) -> None: ...

class Subscription:
    OPENING: int
    OPEN: int
    CLOSED: int
    name: str
    callback: Callable[..., Union[None, Awaitable[Any]]]
    all_updates: bool
    notify_disconnect: bool
    state: int
    loop: asyncio.AbstractEventLoop
    channel: Any
    def __init__(self, name: str, callback: Callable[..., Union[None, Awaitable[Any]]],
                 events: Optional[int] = None, datatype: _Datatype = None, format: int = 0,
                 count: int = 0, all_updates: bool = False, notify_disconnect: bool = False,
                 connect_timeout: _Timeout = None, _index: Optional[int] = None) -> None: ...
    @property
    def dropped_callbacks(self) -> int: ...
    def close(self) -> None: ...

@overload
async def caget(pvs: str, datatype: _Datatype = None, format: int = 0, count: int = 0,
                timeout: _Timeout = 5.0, throw: bool = True) -> _AugmentedValue: ...
@overload
async def caget(pvs: _PVs, datatype: _Datatype = None, format: int = 0, count: int = 0,
                timeout: _Timeout = 5.0, throw: bool = True) -> List[_AugmentedValue]: ...
@overload
async def caput(pvs: str, values: Any, repeat_value: bool = False, datatype: _Datatype = None,
                wait: bool = False, timeout: _Timeout = 5.0, throw: bool = True) -> CANothing: ...
@overload
async def caput(pvs: _PVs, values: Any, repeat_value: bool = False, datatype: _Datatype = None,
                wait: bool = False, timeout: _Timeout = 5.0,
                throw: bool = True) -> List[CANothing]: ...
@overload
async def connect(pvs: str, wait: bool = True, timeout: _Timeout = 5.0,
                  throw: bool = True) -> CANothing: ...
@overload
async def connect(pvs: _PVs, wait: bool = True, timeout: _Timeout = 5.0,
                  throw: bool = True) -> List[CANothing]: ...
@overload
async def cainfo(pvs: str, wait: bool = True, timeout: _Timeout = 5.0,
                 throw: bool = True) -> CAInfo: ...
@overload
async def cainfo(pvs: _PVs, wait: bool = True, timeout: _Timeout = 5.0,
                 throw: bool = True) -> List[CAInfo]: ...
@overload
def camonitor(pvs: str, callback: Callable[[Any], Union[None, Awaitable[Any]]],
              events: Optional[int] = None, datatype: _Datatype = None, format: int = 0,
              count: int = 0, all_updates: bool = False, notify_disconnect: bool = False,
              connect_timeout: _Timeout = None) -> Subscription: ...
@overload
def camonitor(pvs: _PVs, callback: Callable[[Any, int], Union[None, Awaitable[Any]]],
              events: Optional[int] = None, datatype: _Datatype = None, format: int = 0,
              count: int = 0, all_updates: bool = False, notify_disconnect: bool = False,
              connect_timeout: _Timeout = None) -> List[Subscription]: ...
def get_channel_infos() -> List[ChannelInfo]: ...
def purge_channel_caches() -> None: ...
def run(coro: Coroutine[Any, Any, _T], forever: bool = False) -> _T: ...

__all__ = [
    'Subscription', 'caput', 'caget', 'camonitor', 'connect', 'cainfo', 'CAInfo', 'CANothing',
    'ChannelInfo', 'get_channel_infos', 'purge_channel_caches', 'run', '__version__',
    'DBE_VALUE', 'DBE_LOG', 'DBE_ALARM', 'DBE_PROPERTY',
    'DBR_STRING', 'DBR_SHORT', 'DBR_FLOAT', 'DBR_ENUM', 'DBR_CHAR', 'DBR_LONG', 'DBR_DOUBLE',
    'DBR_CHAR_STR', 'DBR_CHAR_UNICODE', 'DBR_ENUM_STR', 'DBR_CHAR_BYTES', 'DBR_PUT_ACKT',
    'DBR_PUT_ACKS', 'DBR_STSACK_STRING', 'DBR_CLASS_NAME',
    'FORMAT_RAW', 'FORMAT_TIME', 'FORMAT_CTRL', 'ca_extra_fields',
]
