"""The type names of caffi.aio's API, as aioca publishes them in ``aioca.types``.

Code typed against aioca (``from aioca.types import AugmentedValue, Dbr``) imports them from
``caffi.aio.types`` instead. They are annotations only: the values themselves are
epicscorelibs' ``ca_*`` classes (``caffi.aio``'s docstring), and nothing here is checked at
run time.
"""
from datetime import datetime
from typing import List, Literal, Protocol, Sized, Tuple, Type, Union

__all__ = ['Timeout', 'Dbe', 'Dbr', 'Datatype', 'Format', 'Count', 'AugmentedValue']

#: How long an operation may wait: None for ever, 0 not at all, a number of seconds from now,
#: or a 1-tuple holding an absolute deadline (seconds since the epoch, as time.time()).
Timeout = Union[None, Tuple[float], float]

#: camonitor's `events`: DBE_VALUE, DBE_LOG, DBE_ALARM and DBE_PROPERTY or-ed together, or
#: None for the format's default (FORMAT_RAW: VALUE; FORMAT_TIME: VALUE | ALARM; FORMAT_CTRL:
#: VALUE | ALARM | PROPERTY).
Dbe = Union[None, int]

#: A request type: the seven base DBR types (STRING 0 ... DOUBLE 6), the alarm
#: acknowledgement and record-type requests (PUT_ACKT 35, PUT_ACKS 36, STSACK_STRING 37,
#: CLASS_NAME 38) and epicscorelibs' pseudo types (ENUM_STR 996, CHAR_BYTES 997,
#: CHAR_UNICODE 998, CHAR_STR 999). A Literal must spell its numbers out;
#: tests/test_aio.py checks them against caffi.aio's DBR_* constants.
Dbr = Literal[0, 1, 2, 3, 4, 5, 6, 35, 36, 37, 38, 996, 997, 998, 999]

#: `datatype`: None (the channel's native type), a Dbr code, or a Python or numpy type that
#: stands for one (int, float, str, numpy.int16, ...).
Datatype = Union[None, Dbr, Type]  # type: ignore[type-arg]  # aioca's alias, bare Type and all

#: `format`: FORMAT_RAW 0 (the value, name and ok), FORMAT_TIME 1 (with timestamp and alarm)
#: or FORMAT_CTRL 2 (with alarm, units, limits, precision or enum strings).
Format = Literal[0, 1, 2]

#: `count`: 0 for as many elements as the server sends, -1 for the channel's whole native
#: count, or a positive most to fetch.
Count = Union[Literal[0, -1], int]


class AugmentedValue(Protocol, Sized):
    """What caget gives and camonitor's callback receives: a ca_str, ca_int, ca_float,
    ca_bytes or ca_array carrying attributes.

    Every value has `name` and `ok`; a value that is ok has `datatype` and `element_count`.
    FORMAT_TIME adds `status`, `severity`, `raw_stamp` and `timestamp` (and the `datetime`
    property); FORMAT_CTRL adds `status` and `severity` and, by type, `units`, the six
    limits, `precision` (floating point) or `enums` (ENUM). A failure (CANothing) has `ok`
    False and `errorcode`.
    """

    name: str                      # the PV name the value was read from
    ok: bool                       # True for data, False for a failure
    errorcode: int                 # the ECA code of a failure
    datatype: int                  # the channel's native Dbr type
    element_count: int             # the channel's native element count
    severity: int                  # alarm severity: 0 none, 1 minor, 2 major, 3 invalid
    status: int                    # alarm status: why the severity
    raw_stamp: Tuple[int, int]     # (seconds since the POSIX epoch, nanoseconds)
    timestamp: float               # the same stamp in seconds, to the microsecond
    datetime: datetime             # timestamp as a local datetime
    units: str
    upper_disp_limit: float
    lower_disp_limit: float
    upper_alarm_limit: float
    lower_alarm_limit: float
    upper_warning_limit: float
    lower_warning_limit: float
    upper_ctrl_limit: float
    lower_ctrl_limit: float
    precision: int                 # display precision of a floating point value
    enums: List[str]               # an ENUM's state strings
    ackt: int                      # DBR_STSACK_STRING: must transient alarms be acknowledged
    acks: int                      # DBR_STSACK_STRING: the highest severity to acknowledge
