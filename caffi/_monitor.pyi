# Type stubs for the compiled module caffi._monitor: buffered monitors (re-exported by
# caffi.monitor).
from typing import Any, Callable, Dict, Iterator, Literal, NamedTuple, Optional, SupportsIndex

import numpy as np
import numpy.typing as npt
from typing_extensions import Self

from caffi._ca import ChannelRecord, SubscriptionRecord

class Batch(NamedTuple):
    values: npt.NDArray[Any]             # (n, width), dtype of the request's base type
    timestamps: npt.NDArray[np.float64]  # POSIX seconds
    status: npt.NDArray[np.int16]
    severity: npt.NDArray[np.int16]
    counts: npt.NDArray[np.uint32]

class Update(NamedTuple):
    value: Any                           # a scalar for one-element monitors, else an ndarray
    timestamp: float
    status: int
    severity: int
    count: int                           # type: ignore[assignment]  # shadows tuple.count

class Monitor(SubscriptionRecord):
    @property
    def dtype(self) -> np.dtype[Any]: ...
    @property
    def request_type(self) -> int: ...
    def __init__(self, chid: ChannelRecord, chtype: SupportsIndex = ...,
                 count: Optional[SupportsIndex] = None, depth: int = 1024,
                 overflow: Literal['drop_oldest', 'drop_newest'] = 'drop_oldest',
                 mask: Optional[SupportsIndex] = None,
                 notify: Optional[Callable[[Batch], object]] = None,
                 notify_interval: float = 0.1) -> None: ...
    @property
    def width(self) -> int: ...
    @property
    def depth(self) -> int: ...
    @property
    def pending(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def stats(self) -> Dict[str, Any]: ...
    def wait(self, timeout: Optional[float] = None) -> bool: ...
    def drain(self, max_n: Optional[SupportsIndex] = None) -> Batch: ...
    def get(self, timeout: Optional[float] = None) -> Update: ...
    def __iter__(self) -> Iterator[Update]: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc_info: object) -> None: ...

class RingBlock:
    """The base object of a drained Batch's arrays (their memory, through the buffer protocol)."""

def _notify_batches(monitor: Monitor, notify: Callable[[Batch], object], interval: float,
                    stop: Any) -> None: ...
