# Type stubs for the compiled module caffi._testing: hooks for tests and micro-benchmarks.
from typing import Any, Dict, Optional, SupportsIndex, Tuple, Union

from typing_extensions import Buffer

from caffi._dbr import ECA

def update_dict(dbrtype: SupportsIndex, count: int, buffer: Buffer, use_numpy: bool = False,
                status: int = 1) -> Dict[str, Any]: ...
def prepare_put_bytes(value: object, dbrtype: SupportsIndex, count: Optional[SupportsIndex] = None,
                      native_count: int = 1) -> Union[Tuple[int, int, bytes], ECA]: ...
def print_through_handler(text: Union[str, bytes]) -> int: ...
