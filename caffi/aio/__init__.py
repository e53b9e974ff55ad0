"""asyncio Channel Access with aioca's API, on caffi.

``import caffi.aio as aioca`` runs code written for aioca 2.x: caget, caput, camonitor,
connect, cainfo, run, ... with the same arguments and the same values (epicscorelibs'
ca_str, ca_int, ca_float, ca_array with .name, .ok, .timestamp, .severity, ...). Monitors
travel through caffi.monitor.MonitorGroup rings: libca stores updates without Python, and the
event loop takes them a batch per wake-up.
"""
from epicscorelibs.ca.cadef import DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE
from epicscorelibs.ca.dbr import (DBR_CHAR, DBR_CHAR_BYTES, DBR_CHAR_STR, DBR_CHAR_UNICODE,
                                  DBR_CLASS_NAME, DBR_DOUBLE, DBR_ENUM, DBR_ENUM_STR, DBR_FLOAT,
                                  DBR_LONG, DBR_PUT_ACKS, DBR_PUT_ACKT, DBR_SHORT, DBR_STRING,
                                  DBR_STSACK_STRING, FORMAT_CTRL, FORMAT_RAW, FORMAT_TIME,
                                  ca_extra_fields)

from .._version import __version__
from ._core import (CAInfo, CANothing, ChannelInfo, Subscription, caget, cainfo, camonitor,
                    caput, connect, get_channel_infos, purge_channel_caches, run)

__all__ = [
    'Subscription', 'caput', 'caget', 'camonitor', 'connect', 'cainfo', 'CAInfo', 'CANothing',
    'ChannelInfo', 'get_channel_infos', 'purge_channel_caches', 'run', '__version__',
    'DBE_VALUE', 'DBE_LOG', 'DBE_ALARM', 'DBE_PROPERTY',
    'DBR_STRING', 'DBR_SHORT', 'DBR_FLOAT', 'DBR_ENUM', 'DBR_CHAR', 'DBR_LONG', 'DBR_DOUBLE',
    'DBR_CHAR_STR', 'DBR_CHAR_UNICODE', 'DBR_ENUM_STR', 'DBR_CHAR_BYTES', 'DBR_PUT_ACKT',
    'DBR_PUT_ACKS', 'DBR_STSACK_STRING', 'DBR_CLASS_NAME',
    'FORMAT_RAW', 'FORMAT_TIME', 'FORMAT_CTRL', 'ca_extra_fields',
]
