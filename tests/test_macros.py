"""caffi.macros (API.md section 5), buffer sizes (9.6) and package layout (section 2).

Expected values are copied from the spec tables. No IOC needed.
"""

import os
import subprocess
import sys
import types

import pytest

import caffi
import caffi.ca
import caffi.compat
import caffi.constants
import caffi.dbr
import caffi.macros as macros
from caffi.dbr import DBF, DBR

# ---------------------------------------------------------------------------
# 5.1 constants

CONSTANTS = {
    # channel state
    'cs_never_conn': 0, 'cs_prev_conn': 1, 'cs_conn': 2, 'cs_closed': 3, 'cs_never_search': 4,
    # operations
    'CA_OP_GET': 0, 'CA_OP_PUT': 1, 'CA_OP_CREATE_CHANNEL': 2, 'CA_OP_ADD_EVENT': 3,
    'CA_OP_CLEAR_EVENT': 4, 'CA_OP_OTHER': 5, 'CA_OP_CONN_UP': 6, 'CA_OP_CONN_DOWN': 7,
    # priority
    'CA_PRIORITY_MAX': 99, 'CA_PRIORITY_MIN': 0, 'CA_PRIORITY_DEFAULT': 0,
    'CA_PRIORITY_DB_LINKS': 80, 'CA_PRIORITY_ARCHIVE': 20, 'CA_PRIORITY_OPI': 0,
    # event mask
    'DBE_VALUE': 1, 'DBE_ARCHIVE': 2, 'DBE_LOG': 2, 'DBE_ALARM': 4, 'DBE_PROPERTY': 8,
    # field types
    'TYPENOTCONN': -1, 'DBF_STRING': 0, 'DBF_INT': 1, 'DBF_SHORT': 1, 'DBF_FLOAT': 2,
    'DBF_ENUM': 3, 'DBF_CHAR': 4, 'DBF_LONG': 5, 'DBF_DOUBLE': 6, 'DBF_NO_ACCESS': 7,
    'LAST_TYPE': 6,
    # request types
    'DBR_STRING': 0, 'DBR_INT': 1, 'DBR_SHORT': 1, 'DBR_FLOAT': 2, 'DBR_ENUM': 3,
    'DBR_CHAR': 4, 'DBR_LONG': 5, 'DBR_DOUBLE': 6,
    'DBR_STS_STRING': 7, 'DBR_STS_SHORT': 8, 'DBR_STS_INT': 8, 'DBR_STS_FLOAT': 9,
    'DBR_STS_ENUM': 10, 'DBR_STS_CHAR': 11, 'DBR_STS_LONG': 12, 'DBR_STS_DOUBLE': 13,
    'DBR_TIME_STRING': 14, 'DBR_TIME_INT': 15, 'DBR_TIME_SHORT': 15, 'DBR_TIME_FLOAT': 16,
    'DBR_TIME_ENUM': 17, 'DBR_TIME_CHAR': 18, 'DBR_TIME_LONG': 19, 'DBR_TIME_DOUBLE': 20,
    'DBR_GR_STRING': 21, 'DBR_GR_SHORT': 22, 'DBR_GR_INT': 22, 'DBR_GR_FLOAT': 23,
    'DBR_GR_ENUM': 24, 'DBR_GR_CHAR': 25, 'DBR_GR_LONG': 26, 'DBR_GR_DOUBLE': 27,
    'DBR_CTRL_STRING': 28, 'DBR_CTRL_SHORT': 29, 'DBR_CTRL_INT': 29, 'DBR_CTRL_FLOAT': 30,
    'DBR_CTRL_ENUM': 31, 'DBR_CTRL_CHAR': 32, 'DBR_CTRL_LONG': 33, 'DBR_CTRL_DOUBLE': 34,
    'DBR_PUT_ACKT': 35, 'DBR_PUT_ACKS': 36, 'DBR_STSACK_STRING': 37, 'DBR_CLASS_NAME': 38,
    'LAST_BUFFER_TYPE': 38,
    # status severity
    'CA_K_INFO': 3, 'CA_K_ERROR': 2, 'CA_K_SUCCESS': 1, 'CA_K_WARNING': 0, 'CA_K_SEVERE': 4,
    'CA_K_FATAL': 6,
    # status masks
    'CA_M_MSG_NO': 0xFFF8, 'CA_M_SEVERITY': 7, 'CA_M_LEVEL': 3, 'CA_M_SUCCESS': 1,
    'CA_M_ERROR': 2, 'CA_M_SEVERE': 4, 'CA_V_MSG_NO': 3, 'CA_V_SEVERITY': 0, 'CA_V_SUCCESS': 0,
    # status codes (C spelling)
    'ECA_NORMAL': 1, 'ECA_MAXIOC': 10, 'ECA_UKNHOST': 18, 'ECA_UKNSERV': 26, 'ECA_SOCK': 34,
    'ECA_CONN': 40, 'ECA_ALLOCMEM': 48, 'ECA_UKNCHAN': 56, 'ECA_UKNFIELD': 64,
    'ECA_TOLARGE': 72, 'ECA_TIMEOUT': 80, 'ECA_NOSUPPORT': 88, 'ECA_STRTOBIG': 96,
    'ECA_DISCONNCHID': 106, 'ECA_BADTYPE': 114, 'ECA_CHIDNOTFOUND': 123, 'ECA_CHIDRETRY': 131,
    'ECA_INTERNAL': 142, 'ECA_DBLCLFAIL': 144, 'ECA_GETFAIL': 152, 'ECA_PUTFAIL': 160,
    'ECA_ADDFAIL': 168, 'ECA_BADCOUNT': 176, 'ECA_BADSTR': 186, 'ECA_DISCONN': 192,
    'ECA_DBLCHNL': 200, 'ECA_EVDISALLOW': 210, 'ECA_BUILDGET': 216, 'ECA_NEEDSFP': 224,
    'ECA_OVEVFAIL': 232, 'ECA_BADMONID': 242, 'ECA_NEWADDR': 248, 'ECA_NEWCONN': 259,
    'ECA_NOCACTX': 264, 'ECA_DEFUNCT': 278, 'ECA_EMPTYSTR': 280, 'ECA_NOREPEATER': 288,
    'ECA_NOCHANMSG': 296, 'ECA_DLCKREST': 304, 'ECA_SERVBEHIND': 312, 'ECA_NOCAST': 320,
    'ECA_BADMASK': 330, 'ECA_IODONE': 339, 'ECA_IOINPROGRESS': 347, 'ECA_BADSYNCGRP': 354,
    'ECA_PUTCBINPROG': 362, 'ECA_NORDACCESS': 368, 'ECA_NOWTACCESS': 376,
    'ECA_ANACHRONISM': 386, 'ECA_NOSEARCHADDR': 392, 'ECA_NOCONVERT': 400,
    'ECA_BADCHID': 410, 'ECA_BADFUNCPTR': 418, 'ECA_ISATTACHED': 424,
    'ECA_UNAVAILINSERV': 432, 'ECA_CHANDESTROY': 440, 'ECA_BADPRIORITY': 450,
    'ECA_NOTTHREADED': 458, 'ECA_16KARRAYCLIENT': 464, 'ECA_CONNSEQTMO': 472,
    'ECA_UNRESPTMO': 480,
    # time
    'POSIX_TIME_AT_EPICS_EPOCH': 631152000,
    # alarm severity
    'NO_ALARM': 0, 'MINOR_ALARM': 1, 'MAJOR_ALARM': 2, 'INVALID_ALARM': 3,
    # alarm condition
    'READ_ALARM': 1, 'WRITE_ALARM': 2, 'HIHI_ALARM': 3, 'HIGH_ALARM': 4, 'LOLO_ALARM': 5,
    'LOW_ALARM': 6, 'STATE_ALARM': 7, 'COS_ALARM': 8, 'COMM_ALARM': 9, 'TIMEOUT_ALARM': 10,
    'HW_LIMIT_ALARM': 11, 'CALC_ALARM': 12, 'SCAN_ALARM': 13, 'LINK_ALARM': 14,
    'SOFT_ALARM': 15, 'BAD_SUB_ALARM': 16, 'UDF_ALARM': 17, 'DISABLE_ALARM': 18,
    'SIMM_ALARM': 19, 'READ_ACCESS_ALARM': 20, 'WRITE_ACCESS_ALARM': 21,
}

# 5.2 functions; aliases map to the function they must be.
FUNCTIONS = [
    'dbf_type_is_valid', 'dbr_type_is_valid',
    'dbr_type_is_plain', 'dbr_type_is_STS', 'dbr_type_is_TIME', 'dbr_type_is_GR',
    'dbr_type_is_CTRL',
    'dbr_type_is_STRING', 'dbr_type_is_SHORT', 'dbr_type_is_FLOAT', 'dbr_type_is_ENUM',
    'dbr_type_is_CHAR', 'dbr_type_is_LONG', 'dbr_type_is_DOUBLE',
    'dbr_size_n',
    'dbf_type_to_DBR', 'dbf_type_to_DBR_STS', 'dbf_type_to_DBR_TIME', 'dbf_type_to_DBR_GR',
    'dbf_type_to_DBR_CTRL',
    'dbf_type_to_text', 'dbf_text_to_type', 'dbr_type_to_text', 'dbr_text_to_type',
    'CA_EXTRACT_MSG_NO', 'CA_EXTRACT_MSG_SEVERITY',
    'epicsAlarmSeverityStrings', 'epicsAlarmConditionStrings',
]
ALIASES = {
    'dbf_text': 'dbf_type_to_text',
    'dbr_text': 'dbr_type_to_text',
    'alarmSeverityString': 'epicsAlarmSeverityStrings',
    'alarmStatusString': 'epicsAlarmConditionStrings',
}
PUBLIC_NAMES = set(CONSTANTS) | set(FUNCTIONS) | set(ALIASES)

# dbf_type_to_text for -1..7
DBF_TEXT = ['TYPENOTCONN', 'DBF_STRING', 'DBF_SHORT', 'DBF_FLOAT', 'DBF_ENUM', 'DBF_CHAR',
            'DBF_LONG', 'DBF_DOUBLE', 'DBF_NO_ACCESS']

# dbr_type_to_text for 0..38
DBR_TEXT = [
    'DBR_STRING', 'DBR_SHORT', 'DBR_FLOAT', 'DBR_ENUM', 'DBR_CHAR', 'DBR_LONG', 'DBR_DOUBLE',
    'DBR_STS_STRING', 'DBR_STS_SHORT', 'DBR_STS_FLOAT', 'DBR_STS_ENUM', 'DBR_STS_CHAR',
    'DBR_STS_LONG', 'DBR_STS_DOUBLE',
    'DBR_TIME_STRING', 'DBR_TIME_SHORT', 'DBR_TIME_FLOAT', 'DBR_TIME_ENUM', 'DBR_TIME_CHAR',
    'DBR_TIME_LONG', 'DBR_TIME_DOUBLE',
    'DBR_GR_STRING', 'DBR_GR_SHORT', 'DBR_GR_FLOAT', 'DBR_GR_ENUM', 'DBR_GR_CHAR',
    'DBR_GR_LONG', 'DBR_GR_DOUBLE',
    'DBR_CTRL_STRING', 'DBR_CTRL_SHORT', 'DBR_CTRL_FLOAT', 'DBR_CTRL_ENUM', 'DBR_CTRL_CHAR',
    'DBR_CTRL_LONG', 'DBR_CTRL_DOUBLE',
    'DBR_PUT_ACKT', 'DBR_PUT_ACKS', 'DBR_STSACK_STRING', 'DBR_CLASS_NAME',
]

ALARM_SEVERITY_STRINGS = ['NO_ALARM', 'MINOR', 'MAJOR', 'INVALID']
ALARM_CONDITION_STRINGS = ['NO_ALARM', 'READ', 'WRITE', 'HIHI', 'HIGH', 'LOLO', 'LOW', 'STATE',
                           'COS', 'COMM', 'TIMEOUT', 'HWLIMIT', 'CALC', 'SCAN', 'LINK', 'SOFT',
                           'BAD_SUB', 'UDF', 'DISABLE', 'SIMM', 'READ_ACCESS', 'WRITE_ACCESS']

# 9.6: size[t] and value_size[t] for t = 0..38
DBR_SIZE = [
    40, 2, 4, 2, 1, 4, 8,           # plain
    44, 6, 8, 6, 6, 8, 16,          # STS
    52, 16, 16, 16, 16, 16, 24,     # TIME
    44, 26, 44, 424, 20, 40, 72,    # GR
    44, 30, 52, 424, 22, 48, 88,    # CTRL
    2, 2, 48, 40,                   # PUT_ACKT, PUT_ACKS, STSACK_STRING, CLASS_NAME
]
DBR_VALUE_SIZE = [40, 2, 4, 2, 1, 4, 8] * 5 + [2, 2, 40, 40]

# Inputs for the range-based functions.
TYPE_INPUTS = list(range(-10, 50)) + [-1000, 1000, 2 ** 40, -2 ** 40]

# 6 / 2: caffi.ca.__all__
CA_ALL = [
    'create_context', 'current_context', 'attach_context', 'detach_context', 'destroy_context',
    'show_context', 'add_exception_event', 'replace_access_rights_event',
    'change_connection_event', 'create_channel', 'clear_channel', 'get', 'put',
    'create_subscription', 'clear_subscription', 'field_type', 'element_count', 'name',
    'state', 'host_name', 'read_access', 'write_access', 'pend_event', 'pend_io', 'poll',
    'pend', 'flush_io', 'test_io', 'message', 'sg_create', 'sg_delete', 'sg_get', 'sg_put',
    'sg_reset', 'sg_block', 'sg_test', 'version',
]


# ---------------------------------------------------------------------------
# Tables are complete

def test_table_sizes():
    assert len([n for n in CONSTANTS if n.startswith('DBR_')]) == 44
    assert len([n for n in CONSTANTS if n.startswith('ECA_')]) == 61
    assert len(DBR_SIZE) == len(DBR_VALUE_SIZE) == len(DBR_TEXT) == 39


# ---------------------------------------------------------------------------
# 5.1 constants

@pytest.mark.parametrize('name,value', sorted(CONSTANTS.items()))
def test_constant(name, value):
    obj = getattr(macros, name)
    assert type(obj) is int
    assert obj == value


@pytest.mark.parametrize('name', sorted(n for n in CONSTANTS if n.startswith('DBR_')))
def test_dbr_constants_match_enum(name):
    assert getattr(macros, name) == DBR[name[len('DBR_'):]].value


def test_eca_constants_match_enum():
    from caffi.constants import ECA
    spelled = {'CHIDNOTFOUND': 'ECA_CHIDNOTFOUND', 'ARRAY16KCLIENT': 'ECA_16KARRAYCLIENT'}
    names = set()
    for member in ECA:
        name = spelled.get(member.name, 'ECA_' + member.name)
        names.add(name)
        assert getattr(macros, name) == member.value
    assert names == {n for n in CONSTANTS if n.startswith('ECA_')}
    assert not hasattr(macros, 'ECA_ARRAY16KCLIENT')
    assert not hasattr(macros, 'ECA_CHIDNOTFND')


# ---------------------------------------------------------------------------
# Module namespace

def test_star_import_exports_everything():
    namespace = {}
    exec('from caffi.macros import *', namespace)
    exported = {k for k in namespace if k != '__builtins__'}
    assert exported == PUBLIC_NAMES
    for name in exported:
        assert namespace[name] is getattr(macros, name)


def test_public_names_are_exactly_the_spec():
    public = {n for n in dir(macros) if not n.startswith('_')}
    assert public == PUBLIC_NAMES
    for name in public:
        assert not isinstance(getattr(macros, name), types.ModuleType), name


def test_all_if_present():
    if hasattr(macros, '__all__'):
        assert set(macros.__all__) == PUBLIC_NAMES


@pytest.mark.parametrize('name', FUNCTIONS + sorted(ALIASES))
def test_functions_callable(name):
    assert callable(getattr(macros, name))


@pytest.mark.parametrize('alias,target', sorted(ALIASES.items()))
def test_aliases_are_same_object(alias, target):
    assert getattr(macros, alias) is getattr(macros, target)


def test_dbr_size_n_comes_from_dbr_extension():
    import caffi._dbr
    assert macros.dbr_size_n is caffi._dbr.dbr_size_n


# ---------------------------------------------------------------------------
# 5.2 predicates

def _check_predicate(func, expected_true, inputs=TYPE_INPUTS):
    for t in inputs:
        result = func(t)
        assert type(result) is bool, (func.__name__, t, result)
        assert result == (t in expected_true), (func.__name__, t)


def test_dbf_type_is_valid():
    _check_predicate(macros.dbf_type_is_valid, set(range(0, 7)))
    assert macros.dbf_type_is_valid(DBF.DOUBLE) is True
    assert macros.dbf_type_is_valid(DBF.INVALID) is False


def test_dbr_type_is_valid():
    _check_predicate(macros.dbr_type_is_valid, set(range(0, 39)))
    assert macros.dbr_type_is_valid(DBR.CLASS_NAME) is True
    assert macros.dbr_type_is_valid(DBR.INVALID) is False


@pytest.mark.parametrize('suffix,first,last', [
    ('plain', 0, 6), ('STS', 7, 13), ('TIME', 14, 20), ('GR', 21, 27), ('CTRL', 28, 34),
])
def test_dbr_type_class(suffix, first, last):
    func = getattr(macros, 'dbr_type_is_' + suffix)
    _check_predicate(func, set(range(first, last + 1)))
    for member in DBR:
        assert func(member) == (first <= member.value <= last)


# base type -> request types for which dbr_type_is_<base> is true (includes the 35..38 quirk)
BASE_TYPES = {
    'STRING': {0, 7, 14, 21, 28, 35},
    'SHORT': {1, 8, 15, 22, 29, 36},
    'FLOAT': {2, 9, 16, 23, 30, 37},
    'ENUM': {3, 10, 17, 24, 31, 38},
    'CHAR': {4, 11, 18, 25, 32},
    'LONG': {5, 12, 19, 26, 33},
    'DOUBLE': {6, 13, 20, 27, 34},
}


@pytest.mark.parametrize('base', sorted(BASE_TYPES))
def test_dbr_type_base(base):
    func = getattr(macros, 'dbr_type_is_' + base)
    _check_predicate(func, BASE_TYPES[base])
    for member in DBR:
        assert func(member) == (member.value in BASE_TYPES[base])


def test_dbr_type_base_edges():
    # out of range values with a matching remainder are not valid types
    assert macros.dbr_type_is_CHAR(39) is False
    assert macros.dbr_type_is_STRING(42) is False
    assert macros.dbr_type_is_STRING(-7) is False
    assert macros.dbr_type_is_DOUBLE(-1) is False
    assert macros.dbr_type_is_ENUM(DBR.CLASS_NAME) is True


# ---------------------------------------------------------------------------
# 5.2 converters

@pytest.mark.parametrize('func_name,offset', [
    ('dbf_type_to_DBR', 0), ('dbf_type_to_DBR_STS', 7), ('dbf_type_to_DBR_TIME', 14),
    ('dbf_type_to_DBR_GR', 21), ('dbf_type_to_DBR_CTRL', 28),
])
def test_dbf_type_to_dbr(func_name, offset):
    func = getattr(macros, func_name)
    for t in TYPE_INPUTS:
        expected = t + offset if 0 <= t <= 6 else -1
        result = func(t)
        assert result == expected, (func_name, t)
        assert isinstance(result, int)
    for member in DBF:
        expected = member.value + offset if member.value >= 0 else -1
        assert func(member) == expected
    assert func(7) == -1        # DBF_NO_ACCESS is not a valid field type


def test_dbf_type_to_dbr_examples():
    assert macros.dbf_type_to_DBR_CTRL(DBF.DOUBLE) == DBR.CTRL_DOUBLE == 34
    assert macros.dbf_type_to_DBR_TIME(DBF.SHORT) == DBR.TIME_SHORT == 15
    assert macros.dbf_type_to_DBR_GR(DBF.INVALID) == -1


# ---------------------------------------------------------------------------
# 5.2 text

def test_dbf_type_to_text():
    for t, text in enumerate(DBF_TEXT, start=-1):
        assert macros.dbf_type_to_text(t) == text
    for t in (-1000, -3, -2, 8, 9, 38, 1000):
        assert macros.dbf_type_to_text(t) == 'DBF_invalid'
    assert macros.dbf_type_to_text(DBF.INT) == 'DBF_SHORT'
    assert macros.dbf_type_to_text(DBF.INVALID) == 'TYPENOTCONN'
    assert macros.dbf_text(DBF.DOUBLE) == 'DBF_DOUBLE'


def test_dbf_text_to_type():
    for t, text in enumerate(DBF_TEXT[1:]):
        assert macros.dbf_text_to_type(text) == t
        assert macros.dbf_text_to_type(text.encode()) == t
    for text in ('TYPENOTCONN', b'TYPENOTCONN', 'DBF_INT', b'DBF_INT', 'DBF_invalid',
                 'dbf_double', ' DBF_DOUBLE', 'DBF_DOUBLE ', 'DBR_DOUBLE', '', b'',
                 'DBF_STRING\0', b'\xff\xfe'):
        assert macros.dbf_text_to_type(text) == -1, text


def test_dbr_type_to_text():
    for t, text in enumerate(DBR_TEXT):
        assert macros.dbr_type_to_text(t) == text
        assert macros.dbr_text(t) == text
    for t in (-1000, -2, -1, 39, 40, 1000):
        assert macros.dbr_type_to_text(t) == 'DBR_invalid'
    assert macros.dbr_type_to_text(DBR.INVALID) == 'DBR_invalid'
    assert macros.dbr_type_to_text(DBR.INT) == 'DBR_SHORT'
    assert macros.dbr_type_to_text(DBR.STS_INT) == 'DBR_STS_SHORT'
    assert macros.dbr_type_to_text(DBR.CTRL_DOUBLE) == 'DBR_CTRL_DOUBLE'


def test_dbr_text_to_type():
    for t, text in enumerate(DBR_TEXT):
        assert macros.dbr_text_to_type(text) == t
        assert macros.dbr_text_to_type(text.encode()) == t
    for text in ('DBR_INT', 'DBR_STS_INT', 'DBR_TIME_INT', 'DBR_GR_INT', 'DBR_CTRL_INT',
                 'DBR_invalid', 'DBR_INVALID', b'DBR_invalid', 'dbr_double', 'DBF_DOUBLE',
                 'DBR_DOUBLE ', '', b'', b'\xff'):
        assert macros.dbr_text_to_type(text) == -1, text


# ---------------------------------------------------------------------------
# 5.2 status codes

@pytest.mark.parametrize('code,msg_no,severity', [
    (1, 0, 1), (80, 10, 0), (114, 14, 2), (123, 15, 3), (278, 34, 6), (480, 60, 0),
    (0, 0, 0), (7, 0, 7), (0xFFF8, 0x1FFF, 0), (0xFFFF, 0x1FFF, 7),
    (0x10000, 0, 0), (0x1FFFF, 0x1FFF, 7), (-1, 0x1FFF, 7), (-8, 0x1FFF, 0),
])
def test_ca_extract(code, msg_no, severity):
    assert macros.CA_EXTRACT_MSG_NO(code) == msg_no
    assert macros.CA_EXTRACT_MSG_SEVERITY(code) == severity


def test_ca_extract_enum_input():
    from caffi.constants import ECA
    for member in ECA:
        assert macros.CA_EXTRACT_MSG_NO(member) == (member.value & 0xFFF8) >> 3
        assert macros.CA_EXTRACT_MSG_SEVERITY(member) == member.severity()


# ---------------------------------------------------------------------------
# 5.2 alarm strings

@pytest.mark.parametrize('func_name,table', [
    ('epicsAlarmSeverityStrings', ALARM_SEVERITY_STRINGS),
    ('alarmSeverityString', ALARM_SEVERITY_STRINGS),
    ('epicsAlarmConditionStrings', ALARM_CONDITION_STRINGS),
    ('alarmStatusString', ALARM_CONDITION_STRINGS),
])
def test_alarm_strings(func_name, table):
    func = getattr(macros, func_name)
    n = len(table)
    for i in range(-n, n):          # list semantics: negative indices wrap
        assert func(i) == table[i]
    for i in (n, n + 1, -n - 1, 1000, -1000):
        with pytest.raises(IndexError):
            func(i)


def test_alarm_strings_enum_input():
    from caffi.constants import AlarmCondition, AlarmSeverity
    assert macros.epicsAlarmSeverityStrings(AlarmSeverity.Major) == 'MAJOR'
    assert macros.epicsAlarmConditionStrings(AlarmCondition.HwLimit) == 'HWLIMIT'
    assert macros.epicsAlarmConditionStrings(AlarmCondition.WriteAccess) == 'WRITE_ACCESS'


# ---------------------------------------------------------------------------
# dbr_size_n (5.2, 9.6)

@pytest.mark.parametrize('dbrtype', range(39))
def test_dbr_size_n_table(dbrtype):
    size, value_size = DBR_SIZE[dbrtype], DBR_VALUE_SIZE[dbrtype]
    for count in (-5, -1, 0, 1):
        assert macros.dbr_size_n(dbrtype, count) == size, count
    assert macros.dbr_size_n(dbrtype, 2) == size + value_size
    assert macros.dbr_size_n(dbrtype, 5) == size + 4 * value_size
    assert type(macros.dbr_size_n(dbrtype, 5)) is int
    assert macros.dbr_size_n(DBR(dbrtype), 2) == size + value_size


def test_dbr_size_n_examples():
    assert macros.dbr_size_n(DBR.DOUBLE, 0) == 8
    assert macros.dbr_size_n(DBR.DOUBLE, 3) == 24
    assert macros.dbr_size_n(DBR.CTRL_DOUBLE, 2) == 96
    assert macros.dbr_size_n(DBR.DOUBLE, 4000000) == 32000000
    assert macros.dbr_size_n(DBR.STRING, 3) == 120


@pytest.mark.parametrize('dbrtype', [-1, 39, 40, 100, -100])
def test_dbr_size_n_out_of_range(dbrtype):
    with pytest.raises(IndexError):
        macros.dbr_size_n(dbrtype, 1)


def test_dbr_size_n_invalid_member():
    with pytest.raises(IndexError):
        macros.dbr_size_n(DBR.INVALID, 1)


# ---------------------------------------------------------------------------
# Package layout (section 2)

def test_ca_all():
    # the 37 functions of section 2, plus the one extension section 14 permits, last
    assert caffi.ca.__all__ == CA_ALL + ['replace_printf_handler']
    assert len(caffi.ca.__all__) == 38
    assert len(set(caffi.ca.__all__)) == len(caffi.ca.__all__)
    for name in caffi.ca.__all__:
        assert callable(getattr(caffi.ca, name)), name


def test_ca_star_import():
    namespace = {}
    exec('from caffi.ca import *', namespace)
    assert {k for k in namespace if k != '__builtins__'} == set(caffi.ca.__all__)


@pytest.mark.parametrize('name', sorted(PUBLIC_NAMES))
def test_macros_in_ca(name):
    assert getattr(caffi.ca, name) is getattr(macros, name)
    assert name not in caffi.ca.__all__


@pytest.mark.parametrize('name', ['DBF', 'DBR', 'DBRValue', 'format_dbr'])
def test_dbr_names_in_ca(name):
    assert getattr(caffi.ca, name) is getattr(caffi.dbr, name)
    assert name not in caffi.ca.__all__


def test_ca_has_no_cffi_objects_required():
    # not part of the API; just make sure the module does not depend on cffi names
    assert 'ffi' not in caffi.ca.__all__
    assert 'libca' not in caffi.ca.__all__


def test_version():
    assert isinstance(caffi.__version__, str)
    assert caffi.__version__
    assert isinstance(caffi.version_info, tuple)
    assert caffi.version_info


def test_ca_imported_eagerly():
    code = ('import sys, caffi; assert "caffi.ca" in sys.modules; '
            'assert caffi.ca is sys.modules["caffi.ca"]; print("ok")')
    # run outside the checkout: `python -c` puts the working directory first on sys.path, where
    # the source tree's caffi/ (without compiled modules) would shadow the installed package
    out = subprocess.run([sys.executable, '-c', code], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=60, cwd=os.path.dirname(caffi.__file__) + '/..')
    assert out.returncode == 0, out.stderr.decode(errors='replace')
    assert out.stdout.strip() == b'ok'


def test_compat():
    compat = caffi.compat
    assert compat.basestring == (str, bytes)
    assert isinstance('x', compat.basestring) and isinstance(b'x', compat.basestring)
    data = b'\xffabc'
    assert compat.to_bytes(data) == data
    assert compat.to_bytes('abc') == b'abc'
    assert compat.to_bytes('\u00e9') == b'\xc3\xa9'
    text = 'abc\u00e9'
    assert compat.to_string(text) == text
    assert compat.to_string(b'abc') == 'abc'
    assert compat.to_string(b'\xc3\xa9') == '\u00e9'
    assert type(compat.to_string(b'abc')) is str
    assert type(compat.to_bytes('abc')) is bytes
