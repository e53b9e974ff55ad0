"""The libca C API as Python functions (API.md §6).

The functions come from the compiled module caffi._ca; this module also carries every macro,
the enumerations and the DBR helpers as attributes, as caffi 1.0 did, so that
`from caffi.ca import *` plus attribute access both work.
"""
from ._ca import (create_context, current_context, attach_context, detach_context,
                  destroy_context, show_context, add_exception_event,
                  replace_access_rights_event, change_connection_event, create_channel,
                  clear_channel, get, put, create_subscription, clear_subscription, field_type,
                  element_count, name, state, host_name, read_access, write_access, pend_event,
                  pend_io, poll, pend, flush_io, test_io, message, sg_create, sg_delete, sg_get,
                  sg_put, sg_reset, sg_block, sg_test, version, replace_printf_handler)
from .constants import *  # noqa: F401,F403  (attributes, not in __all__)
from .dbr import DBF, DBR, DBRValue, format_dbr  # noqa: F401
from .macros import *  # noqa: F401,F403

__all__ = ['create_context', 'current_context', 'attach_context', 'detach_context',
           'destroy_context', 'show_context', 'add_exception_event',
           'replace_access_rights_event', 'change_connection_event', 'create_channel',
           'clear_channel', 'get', 'put', 'create_subscription', 'clear_subscription',
           'field_type', 'element_count', 'name', 'state', 'host_name', 'read_access',
           'write_access', 'pend_event', 'pend_io', 'poll', 'pend', 'flush_io', 'test_io',
           'message', 'sg_create', 'sg_delete', 'sg_get', 'sg_put', 'sg_reset', 'sg_block',
           'sg_test', 'version',
           # the one permitted extension of __all__ (API.md §14); CaChannel calls it when present
           'replace_printf_handler']
