"""The status, state and alarm enumerations of Channel Access (API.md §4.1, §4.2)."""
from ._dbr import (ChannelState, CA_OP, CA_PRIORITY, CA_K, ECA, DBE, AlarmSeverity,
                   AlarmCondition)

__all__ = ['ChannelState', 'CA_OP', 'CA_PRIORITY', 'CA_K', 'ECA', 'DBE', 'AlarmSeverity',
           'AlarmCondition']
