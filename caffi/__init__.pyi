# Type stubs for the caffi package (API.md §2): what __init__.py imports eagerly. Submodules
# (caffi.stats, caffi.monitor, ...) are found by mypy next to this file as usual.
from caffi import ca as ca
from caffi._version import __version__ as __version__, version_info as version_info
from caffi.constants import (CA_OP as CA_OP, ECA as ECA, AlarmCondition as AlarmCondition,
                             AlarmSeverity as AlarmSeverity)
from caffi.dbr import DBF as DBF, DBR as DBR
