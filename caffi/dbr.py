"""Field and request types, and the formatting of raw DBR buffers (API.md §4.3, §6.4, §9)."""
from ._dbr import DBF, DBR, DBRValue, format_dbr

__all__ = ['DBF', 'DBR', 'DBRValue', 'format_dbr']
