# Type stubs for caffi._aio: caffi.aio's conversion of MonitorGroup rows and list reads to aioca
# values.
from typing import Any, Callable, Dict, List, Optional, Tuple

from caffi._ca import PendingRead, SubscriptionRecord

UPDATE: int
CONNECTED: int
DISCONNECTED: int

KIND_INT: int
KIND_FLOAT: int
KIND_STR: int
KIND_BYTES: int
KIND_ARRAY: int
KIND_STR_ARRAY: int
KIND_BYTES_ARRAY: int
KIND_CHAR_STR: int
KIND_CHAR_BYTES: int
KIND_CHAR_UNICODE: int
READ_VALUES_RENEWED: bool

def value_of(kind: int, raw: Any, dtype: Any) -> Any: ...
def report_callback_error(name: Any) -> None: ...

class Member:
    owner: Any
    name: Any
    callback: Any
    callback_index: Any
    kind: int
    dtype: Any
    all_updates: bool
    notify_disconnect: bool
    time_fields: bool
    datatype: int
    element_count: int
    dropped: int
    closed: bool
    is_async: int
    def __init__(self, owner: Any, name: Any, callback: Any, callback_index: Any, kind: int,
                 dtype: Any, all_updates: bool, notify_disconnect: bool, time_fields: bool,
                 datatype: int, element_count: int) -> None: ...
    def deliver(self, value: Any) -> None: ...

class GroupDispatch:
    group: Any
    members: List[Optional[Member]]
    def __init__(self, group: Any, view_rows: bool = ...) -> None: ...
    def set_member(self, index: int, member: Any) -> None: ...
    def on_readable(self) -> None: ...
    def dispatch(self, batch: Any) -> None: ...

class Request:
    dbrtype: int
    base: int
    kind: int
    dtype: Any
    datatype: int
    element_count: int
    format: Any
    time_fields: bool
    ctrl_fields: bool
    def count_to_read(self, count: int) -> int: ...

class ReadCompletions:
    def fileno(self) -> int: ...
    def take(self) -> None: ...

DISCONNECTED_EVENT: int
CONNECTED_EVENT: int
UPDATES_EVENT: int

class LoopEvents:
    def fileno(self) -> int: ...
    def watch(self, chid: Any) -> ChannelWatch: ...
    def take(self) -> Optional[List[Tuple[int, int]]]: ...

class ChannelWatch:
    token: int
    def __init__(self, changes: LoopEvents, chid: Any, token: int) -> None: ...
    def close(self) -> None: ...

class UpdateQueue(SubscriptionRecord):
    token: int
    received: int
    def __init__(self, events: LoopEvents, dbrtype: int, width: int, budget: int,
                 min_depth: int, max_depth: int) -> None: ...
    def subscribe(self, chid: Any, count: int, mask: int) -> int: ...
    def take(self) -> Tuple[List[Any], int]: ...

class ReadBatch(PendingRead):
    future: Any
    failures: int
    def prepare(self) -> None: ...
    def refused(self) -> Optional[Any]: ...
    def values(self, nothing: Callable[[str, Any], Any]) -> List[Any]: ...

def read_batch(completions: ReadCompletions, names: List[str], chids: List[Any],
               requests: List[Any], count: int, flush: bool = ...) -> ReadBatch: ...
def write_batch(completions: ReadCompletions, name: str, chid: Any, value: Any,
                dbrtype: Any) -> ReadBatch: ...
def cached_reads(channels: Dict[str, Any], names: List[str],
                 key: Any) -> Optional[Tuple[List[Any], List[Any]]]: ...
