"""Enumerations of API.md section 4, checked against tables copied from the spec.

No IOC needed.
"""

import ast
import enum
import os
import re

import pytest
from epicscorelibs.path import include_path

import caffi
import caffi._dbr
import caffi.macros
import caffi.ca
import caffi.constants
import caffi.dbr
from caffi.constants import (CA_K, CA_OP, CA_PRIORITY, DBE, ECA, AlarmCondition,
                             AlarmSeverity, ChannelState)
from caffi.dbr import DBF, DBR

# ---------------------------------------------------------------------------
# Spec tables (API.md 4.1 - 4.3). Each entry: (name, value) in definition
# order; aliases are listed where the spec defines them.

# 4.1: (name, value, CA_K name), ascending value = definition order, no aliases.
ECA_TABLE = [
    ('NORMAL', 1, 'SUCCESS'),
    ('MAXIOC', 10, 'ERROR'),
    ('UKNHOST', 18, 'ERROR'),
    ('UKNSERV', 26, 'ERROR'),
    ('SOCK', 34, 'ERROR'),
    ('CONN', 40, 'WARNING'),
    ('ALLOCMEM', 48, 'WARNING'),
    ('UKNCHAN', 56, 'WARNING'),
    ('UKNFIELD', 64, 'WARNING'),
    ('TOLARGE', 72, 'WARNING'),
    ('TIMEOUT', 80, 'WARNING'),
    ('NOSUPPORT', 88, 'WARNING'),
    ('STRTOBIG', 96, 'WARNING'),
    ('DISCONNCHID', 106, 'ERROR'),
    ('BADTYPE', 114, 'ERROR'),
    ('CHIDNOTFOUND', 123, 'INFO'),
    ('CHIDRETRY', 131, 'INFO'),
    ('INTERNAL', 142, 'FATAL'),
    ('DBLCLFAIL', 144, 'WARNING'),
    ('GETFAIL', 152, 'WARNING'),
    ('PUTFAIL', 160, 'WARNING'),
    ('ADDFAIL', 168, 'WARNING'),
    ('BADCOUNT', 176, 'WARNING'),
    ('BADSTR', 186, 'ERROR'),
    ('DISCONN', 192, 'WARNING'),
    ('DBLCHNL', 200, 'WARNING'),
    ('EVDISALLOW', 210, 'ERROR'),
    ('BUILDGET', 216, 'WARNING'),
    ('NEEDSFP', 224, 'WARNING'),
    ('OVEVFAIL', 232, 'WARNING'),
    ('BADMONID', 242, 'ERROR'),
    ('NEWADDR', 248, 'WARNING'),
    ('NEWCONN', 259, 'INFO'),
    ('NOCACTX', 264, 'WARNING'),
    ('DEFUNCT', 278, 'FATAL'),
    ('EMPTYSTR', 280, 'WARNING'),
    ('NOREPEATER', 288, 'WARNING'),
    ('NOCHANMSG', 296, 'WARNING'),
    ('DLCKREST', 304, 'WARNING'),
    ('SERVBEHIND', 312, 'WARNING'),
    ('NOCAST', 320, 'WARNING'),
    ('BADMASK', 330, 'ERROR'),
    ('IODONE', 339, 'INFO'),
    ('IOINPROGRESS', 347, 'INFO'),
    ('BADSYNCGRP', 354, 'ERROR'),
    ('PUTCBINPROG', 362, 'ERROR'),
    ('NORDACCESS', 368, 'WARNING'),
    ('NOWTACCESS', 376, 'WARNING'),
    ('ANACHRONISM', 386, 'ERROR'),
    ('NOSEARCHADDR', 392, 'WARNING'),
    ('NOCONVERT', 400, 'WARNING'),
    ('BADCHID', 410, 'ERROR'),
    ('BADFUNCPTR', 418, 'ERROR'),
    ('ISATTACHED', 424, 'WARNING'),
    ('UNAVAILINSERV', 432, 'WARNING'),
    ('CHANDESTROY', 440, 'WARNING'),
    ('BADPRIORITY', 450, 'ERROR'),
    ('NOTTHREADED', 458, 'ERROR'),
    ('ARRAY16KCLIENT', 464, 'WARNING'),
    ('CONNSEQTMO', 472, 'WARNING'),
    ('UNRESPTMO', 480, 'WARNING'),
]

# 4.2 and 4.3: every name in definition order, (name, value, canonical name or None).
ENUM_TABLES = {
    'ChannelState': [
        ('NEVER_CONN', 0, None), ('PREV_CONN', 1, None), ('CONN', 2, None),
        ('CLOSED', 3, None), ('NEVER_SEARCH', 4, None),
    ],
    'CA_OP': [
        ('GET', 0, None), ('PUT', 1, None), ('CREATE_CHANNEL', 2, None), ('ADD_EVENT', 3, None),
        ('CLEAR_EVENT', 4, None), ('OTHER', 5, None), ('CONN_UP', 6, None), ('CONN_DOWN', 7, None),
    ],
    'CA_PRIORITY': [
        ('MAX', 99, None), ('MIN', 0, None), ('DEFAULT', 0, 'MIN'), ('DB_LINKS', 80, None),
        ('ARCHIVE', 20, None), ('OPI', 0, 'MIN'),
    ],
    'CA_K': [
        ('INFO', 3, None), ('ERROR', 2, None), ('SUCCESS', 1, None), ('WARNING', 0, None),
        ('SEVERE', 4, None), ('FATAL', 6, None),
    ],
    'DBE': [
        ('VALUE', 1, None), ('ARCHIVE', 2, None), ('ALARM', 4, None), ('PROPERTY', 8, None),
    ],
    'AlarmSeverity': [
        ('No', 0, None), ('Minor', 1, None), ('Major', 2, None), ('Invalid', 3, None),
    ],
    'AlarmCondition': [
        ('No', 0, None), ('Read', 1, None), ('Write', 2, None), ('HiHi', 3, None),
        ('High', 4, None), ('LoLo', 5, None), ('Low', 6, None), ('State', 7, None),
        ('Cos', 8, None), ('Comm', 9, None), ('Timeout', 10, None), ('HwLimit', 11, None),
        ('Calc', 12, None), ('Scan', 13, None), ('Link', 14, None), ('Soft', 15, None),
        ('BadSub', 16, None), ('UDF', 17, None), ('Disable', 18, None), ('Simm', 19, None),
        ('ReadAccess', 20, None), ('WriteAccess', 21, None),
    ],
    'ECA': [(name, value, None) for name, value, _ in ECA_TABLE],
    'DBF': [
        ('INVALID', -1, None), ('STRING', 0, None), ('SHORT', 1, None), ('INT', 1, 'SHORT'),
        ('FLOAT', 2, None), ('ENUM', 3, None), ('CHAR', 4, None), ('LONG', 5, None),
        ('DOUBLE', 6, None),
    ],
    'DBR': [
        ('INVALID', -1, None), ('STRING', 0, None), ('INT', 1, None), ('SHORT', 1, 'INT'),
        ('FLOAT', 2, None), ('ENUM', 3, None), ('CHAR', 4, None), ('LONG', 5, None),
        ('DOUBLE', 6, None),
        ('STS_STRING', 7, None), ('STS_SHORT', 8, None), ('STS_INT', 8, 'STS_SHORT'),
        ('STS_FLOAT', 9, None), ('STS_ENUM', 10, None), ('STS_CHAR', 11, None),
        ('STS_LONG', 12, None), ('STS_DOUBLE', 13, None),
        ('TIME_STRING', 14, None), ('TIME_INT', 15, None), ('TIME_SHORT', 15, 'TIME_INT'),
        ('TIME_FLOAT', 16, None), ('TIME_ENUM', 17, None), ('TIME_CHAR', 18, None),
        ('TIME_LONG', 19, None), ('TIME_DOUBLE', 20, None),
        ('GR_STRING', 21, None), ('GR_SHORT', 22, None), ('GR_INT', 22, 'GR_SHORT'),
        ('GR_FLOAT', 23, None), ('GR_ENUM', 24, None), ('GR_CHAR', 25, None),
        ('GR_LONG', 26, None), ('GR_DOUBLE', 27, None),
        ('CTRL_STRING', 28, None), ('CTRL_SHORT', 29, None), ('CTRL_INT', 29, 'CTRL_SHORT'),
        ('CTRL_FLOAT', 30, None), ('CTRL_ENUM', 31, None), ('CTRL_CHAR', 32, None),
        ('CTRL_LONG', 33, None), ('CTRL_DOUBLE', 34, None),
        ('PUT_ACKT', 35, None), ('PUT_ACKS', 36, None), ('STSACK_STRING', 37, None),
        ('CLASS_NAME', 38, None),
    ],
}

ENUM_CLASSES = {
    'ChannelState': ChannelState, 'CA_OP': CA_OP, 'CA_PRIORITY': CA_PRIORITY, 'CA_K': CA_K,
    'ECA': ECA, 'DBE': DBE, 'AlarmSeverity': AlarmSeverity, 'AlarmCondition': AlarmCondition,
    'DBF': DBF, 'DBR': DBR,
}

# 4.3 DBR methods: value -> (request class, base type). Class None = none of
# Plain/STS/TIME/GR/CTRL; base None = no isXXX() true. 35..38 keep the
# "value % 7" quirk of the C macros.
DBR_CLASSIFICATION = {
    -1: (None, None),
    0: ('Plain', 'STRING'), 1: ('Plain', 'SHORT'), 2: ('Plain', 'FLOAT'), 3: ('Plain', 'ENUM'),
    4: ('Plain', 'CHAR'), 5: ('Plain', 'LONG'), 6: ('Plain', 'DOUBLE'),
    7: ('STS', 'STRING'), 8: ('STS', 'SHORT'), 9: ('STS', 'FLOAT'), 10: ('STS', 'ENUM'),
    11: ('STS', 'CHAR'), 12: ('STS', 'LONG'), 13: ('STS', 'DOUBLE'),
    14: ('TIME', 'STRING'), 15: ('TIME', 'SHORT'), 16: ('TIME', 'FLOAT'), 17: ('TIME', 'ENUM'),
    18: ('TIME', 'CHAR'), 19: ('TIME', 'LONG'), 20: ('TIME', 'DOUBLE'),
    21: ('GR', 'STRING'), 22: ('GR', 'SHORT'), 23: ('GR', 'FLOAT'), 24: ('GR', 'ENUM'),
    25: ('GR', 'CHAR'), 26: ('GR', 'LONG'), 27: ('GR', 'DOUBLE'),
    28: ('CTRL', 'STRING'), 29: ('CTRL', 'SHORT'), 30: ('CTRL', 'FLOAT'), 31: ('CTRL', 'ENUM'),
    32: ('CTRL', 'CHAR'), 33: ('CTRL', 'LONG'), 34: ('CTRL', 'DOUBLE'),
    35: (None, 'STRING'),   # PUT_ACKT
    36: (None, 'SHORT'),    # PUT_ACKS
    37: (None, 'FLOAT'),    # STSACK_STRING
    38: (None, 'ENUM'),     # CLASS_NAME
}
DBR_CLASS_METHODS = ('isPlain', 'isSTS', 'isTIME', 'isGR', 'isCTRL')
DBR_BASE_METHODS = ('isSTRING', 'isSHORT', 'isFLOAT', 'isENUM', 'isCHAR', 'isLONG', 'isDOUBLE')

# 4.3 DBF.toXXX(): DBF name -> (toSTS, toTIME, toGR, toCTRL) DBR names.
DBF_CONVERSIONS = {
    'INVALID': ('INVALID', 'INVALID', 'INVALID', 'INVALID'),
    'STRING': ('STS_STRING', 'TIME_STRING', 'GR_STRING', 'CTRL_STRING'),
    'SHORT': ('STS_SHORT', 'TIME_SHORT', 'GR_SHORT', 'CTRL_SHORT'),
    'INT': ('STS_SHORT', 'TIME_SHORT', 'GR_SHORT', 'CTRL_SHORT'),
    'FLOAT': ('STS_FLOAT', 'TIME_FLOAT', 'GR_FLOAT', 'CTRL_FLOAT'),
    'ENUM': ('STS_ENUM', 'TIME_ENUM', 'GR_ENUM', 'CTRL_ENUM'),
    'CHAR': ('STS_CHAR', 'TIME_CHAR', 'GR_CHAR', 'CTRL_CHAR'),
    'LONG': ('STS_LONG', 'TIME_LONG', 'GR_LONG', 'CTRL_LONG'),
    'DOUBLE': ('STS_DOUBLE', 'TIME_DOUBLE', 'GR_DOUBLE', 'CTRL_DOUBLE'),
}
DBF_CONVERSION_METHODS = ('toSTS', 'toTIME', 'toGR', 'toCTRL')


def _all_names():
    for cls_name, rows in ENUM_TABLES.items():
        for name, value, canonical in rows:
            yield cls_name, name, value, canonical


# ---------------------------------------------------------------------------
# Class-level structure

@pytest.mark.parametrize('cls_name', sorted(ENUM_TABLES))
def test_is_intenum(cls_name):
    cls = ENUM_CLASSES[cls_name]
    assert isinstance(cls, enum.EnumMeta)
    assert issubclass(cls, enum.IntEnum)
    assert cls.__name__ == cls_name


@pytest.mark.parametrize('cls_name', sorted(ENUM_TABLES))
def test_canonical_member_order(cls_name):
    cls = ENUM_CLASSES[cls_name]
    expected = [(name, value) for name, value, canonical in ENUM_TABLES[cls_name]
                if canonical is None]
    assert [(m.name, m.value) for m in cls] == expected
    assert len(cls) == len(expected)


@pytest.mark.parametrize('cls_name', sorted(ENUM_TABLES))
def test_members_mapping_order(cls_name):
    cls = ENUM_CLASSES[cls_name]
    expected = [(name, value) for name, value, _ in ENUM_TABLES[cls_name]]
    assert [(name, m.value) for name, m in cls.__members__.items()] == expected


def test_member_counts():
    assert len(ECA) == 61
    assert len(DBR) == 40
    assert len(DBR.__members__) == 45
    assert len(DBF) == 8
    assert len(DBF.__members__) == 9


@pytest.mark.parametrize('cls_name,name,value,canonical', list(_all_names()))
def test_member(cls_name, name, value, canonical):
    cls = ENUM_CLASSES[cls_name]
    member = getattr(cls, name)
    assert cls[name] is member
    assert isinstance(member, cls)
    assert isinstance(member, int)
    assert member == value
    assert int(member) == value
    assert member.value == value
    assert type(member.value) is int
    canonical = canonical or name
    assert member.name == canonical
    assert cls(value) is cls[canonical]
    assert repr(member) == '<%s.%s: %d>' % (cls_name, canonical, value)
    # str()/format() are the stdlib IntEnum ones (C6, 13.20)
    assert str(member) == enum.IntEnum.__str__(member)
    assert format(member) == enum.IntEnum.__format__(member, '')
    assert hash(member) == hash(value)


def test_alias_reprs():
    assert repr(CA_PRIORITY.DEFAULT) == '<CA_PRIORITY.MIN: 0>'
    assert repr(CA_PRIORITY.OPI) == '<CA_PRIORITY.MIN: 0>'
    assert CA_PRIORITY.DEFAULT is CA_PRIORITY.MIN is CA_PRIORITY.OPI
    assert repr(DBF.INT) == '<DBF.SHORT: 1>'
    assert DBF(1) is DBF.SHORT
    assert repr(DBR.SHORT) == '<DBR.INT: 1>'
    assert DBR(1) is DBR.INT
    assert repr(DBR.STS_INT) == '<DBR.STS_SHORT: 8>'
    assert DBR(8) is DBR.STS_SHORT
    assert repr(DBR.TIME_SHORT) == '<DBR.TIME_INT: 15>'
    assert DBR(15) is DBR.TIME_INT
    assert repr(DBR.GR_INT) == '<DBR.GR_SHORT: 22>'
    assert DBR(22) is DBR.GR_SHORT
    assert repr(DBR.CTRL_INT) == '<DBR.CTRL_SHORT: 29>'
    assert DBR(29) is DBR.CTRL_SHORT


def test_absent_members():
    assert 'LOG' not in DBE.__members__
    assert not hasattr(DBE, 'LOG')
    with pytest.raises(ValueError):
        DBF(7)
    with pytest.raises(ValueError):
        DBR(39)
    with pytest.raises(ValueError):
        ECA(0)
    assert 'CHIDNOTFND' not in ECA.__members__
    assert '16KARRAYCLIENT' not in ECA.__members__


def test_int_comparisons():
    assert ECA.NORMAL == 1
    assert DBR.CTRL_DOUBLE > DBR.GR_DOUBLE
    assert DBE.VALUE | DBE.ALARM == 5
    assert {ECA.TIMEOUT: 'x'}[80] == 'x'


# ---------------------------------------------------------------------------
# ECA methods

def test_eca_table_self_consistent():
    # guards against typos in the table above: severity = value & 7
    for name, value, k_name in ECA_TABLE:
        assert value & 7 == {'SUCCESS': 1, 'WARNING': 0, 'ERROR': 2, 'INFO': 3,
                             'SEVERE': 4, 'FATAL': 6}[k_name], name
    assert len(ECA_TABLE) == 61
    assert [v for _, v, _ in ECA_TABLE] == sorted(v for _, v, _ in ECA_TABLE)


@pytest.mark.parametrize('name,value,k_name', ECA_TABLE)
def test_eca_severity(name, value, k_name):
    assert ECA[name].severity() is CA_K[k_name]


@pytest.mark.parametrize('name,value,k_name', ECA_TABLE)
def test_eca_message(name, value, k_name):
    member = ECA[name]
    text = member.message()
    assert type(text) is str
    assert text
    assert text == caffi.ca.message(value)
    assert text == caffi.ca.message(member)


def test_eca_message_examples():
    assert ECA.NORMAL.message() == 'Normal successful completion'
    assert ECA.TIMEOUT.message() != ECA.NORMAL.message()


# ---------------------------------------------------------------------------
# DBR and DBF methods

@pytest.mark.parametrize('name', list(DBR.__members__))
def test_dbr_methods(name):
    member = DBR[name]
    req_class, base = DBR_CLASSIFICATION[member.value]
    for method in DBR_CLASS_METHODS:
        result = getattr(member, method)()
        assert type(result) is bool, method
        assert result == (method == 'is' + str(req_class)), (name, method)
    for method in DBR_BASE_METHODS:
        result = getattr(member, method)()
        assert type(result) is bool, method
        assert result == (method == 'is' + str(base)), (name, method)


def test_dbr_classification_covers_all():
    assert sorted(DBR_CLASSIFICATION) == sorted(m.value for m in DBR)


def test_dbr_method_quirks():
    assert DBR.PUT_ACKT.isSTRING()
    assert DBR.PUT_ACKS.isSHORT()
    assert DBR.STSACK_STRING.isFLOAT()
    assert not DBR.STSACK_STRING.isSTRING()
    assert DBR.CLASS_NAME.isENUM()
    assert not DBR.CLASS_NAME.isSTRING()
    assert not any(getattr(DBR.INVALID, m)() for m in DBR_BASE_METHODS + DBR_CLASS_METHODS)
    assert not any(getattr(m, 'is' + c)() for m in (DBR.PUT_ACKT, DBR.PUT_ACKS,
                                                    DBR.STSACK_STRING, DBR.CLASS_NAME)
                   for c in ('Plain', 'STS', 'TIME', 'GR', 'CTRL'))


@pytest.mark.parametrize('name', list(DBF.__members__))
def test_dbf_conversions(name):
    member = DBF[name]
    for method, expected in zip(DBF_CONVERSION_METHODS, DBF_CONVERSIONS[name]):
        result = getattr(member, method)()
        assert result is DBR[expected], (name, method, result)


def test_dbf_to_ctrl_is_ctrl():
    # caffi 1.0.4 returned the GR type here; the spec fixes it (section 12)
    assert DBF.DOUBLE.toCTRL() is DBR.CTRL_DOUBLE
    assert DBF.INVALID.toCTRL() is DBR.INVALID


# ---------------------------------------------------------------------------
# Where the enums live (section 2)

CONSTANTS_ALL = ['ChannelState', 'CA_OP', 'CA_PRIORITY', 'CA_K', 'ECA', 'DBE',
                 'AlarmSeverity', 'AlarmCondition']


def test_constants_all():
    assert caffi.constants.__all__ == CONSTANTS_ALL
    for name in CONSTANTS_ALL:
        assert getattr(caffi.constants, name) is ENUM_CLASSES[name]


def test_dbr_all():
    assert caffi.dbr.__all__ == ['DBF', 'DBR', 'DBRValue', 'format_dbr']
    assert caffi.dbr.DBF is DBF
    assert caffi.dbr.DBR is DBR


def test_constants_star_import():
    namespace = {}
    exec('from caffi.constants import *', namespace)
    assert sorted(k for k in namespace if k != '__builtins__') == sorted(CONSTANTS_ALL)


@pytest.mark.parametrize('name', CONSTANTS_ALL + ['DBF', 'DBR'])
def test_enum_singletons_in_ca(name):
    assert getattr(caffi.ca, name) is ENUM_CLASSES[name]
    assert name not in caffi.ca.__all__


@pytest.mark.parametrize('name', ['DBF', 'DBR', 'ECA', 'CA_OP', 'AlarmCondition', 'AlarmSeverity'])
def test_enum_singletons_in_package(name):
    assert getattr(caffi, name) is ENUM_CLASSES[name]


def test_eca_identity_chain():
    assert caffi.ca.ECA is caffi.constants.ECA is caffi.ECA
    assert caffi.ca.DBR is caffi.dbr.DBR is caffi.DBR


# ---------------------------------------------------------------------------
# The same numbers, read from the C headers shipped in epicscorelibs (not through caffi's
# declarations): the #define lines and the enum bodies of the headers libca is built from.

HEADERS = ('caerr.h', 'cadef.h', 'db_access.h', 'alarm.h', 'caeventmask.h', 'epicsTime.h')


def _header_expressions(text):
    """name -> C expression of the object-like #defines and the enum constants of a header."""
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'//[^\n]*', '', text)
    expressions = {}
    for name, expression in re.findall(r'^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+(.+)$', text, re.M):
        expressions[name] = expression.strip()
    for body in re.findall(r'\benum\b[^{};]*\{([^{}]*)\}', text):
        previous = None
        for item in body.split(','):
            name, _, expression = item.partition('=')
            name = name.strip()
            if not re.fullmatch(r'\w+', name):
                continue
            expressions[name] = (expression.strip() if expression.strip()
                                 else '0' if previous is None else f'({previous}) + 1')
            previous = name
    return expressions


def _header_values():
    expressions = {}
    for header in HEADERS:
        with open(os.path.join(include_path, header)) as f:
            expressions.update(_header_expressions(f.read()))
    values = {}

    def defmsg(severity, number):           # caerr.h: DEFMSG(SEVERITY, NUMBER)
        return (((number << values['CA_V_MSG_NO']) & values['CA_M_MSG_NO'])
                | ((severity << values['CA_V_SEVERITY']) & values['CA_M_SEVERITY']))

    # Resolve until nothing more can be: an expression is evaluated once the names it uses are.
    progress = True
    while progress:
        progress = False
        for name, expression in expressions.items():
            if name in values:
                continue
            expression = re.sub(r'\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b', r'\1', expression)
            try:
                value = eval(expression, {'__builtins__': {}, 'DEFMSG': defmsg}, dict(values))
            except Exception:
                continue
            if isinstance(value, int):
                values[name] = value
                progress = True
    return values


@pytest.fixture(scope='module')
def header():
    return _header_values()


def test_header_parsed(header):
    assert len([n for n in header if n.startswith('ECA_')]) == len(ECA_TABLE)
    assert len([n for n in header if n.startswith('DBR_')]) == 44


# enum class -> function of a member name giving its C name (None: no C constant)
HEADER_NAMES = {
    'ChannelState': lambda n: None if n == 'NEVER_SEARCH' else 'cs_' + n.lower(),
    'CA_OP': lambda n: 'CA_OP_' + n,
    'CA_PRIORITY': lambda n: 'CA_PRIORITY_' + n,
    'CA_K': lambda n: 'CA_K_' + n,
    'ECA': lambda n: {'CHIDNOTFOUND': 'ECA_CHIDNOTFND',
                      'ARRAY16KCLIENT': 'ECA_16KARRAYCLIENT'}.get(n, 'ECA_' + n),
    'DBE': lambda n: 'DBE_' + n,
    'AlarmSeverity': lambda n: 'epicsSev' + ('None' if n == 'No' else n),
    'AlarmCondition': lambda n: 'epicsAlarm' + ('None' if n == 'No' else n),
    'DBF': lambda n: 'TYPENOTCONN' if n == 'INVALID' else 'DBF_' + n,
    'DBR': lambda n: 'TYPENOTCONN' if n == 'INVALID' else 'DBR_' + n,
}


@pytest.mark.parametrize('cls_name', sorted(HEADER_NAMES))
def test_enum_values_are_the_headers(header, cls_name):
    cls = ENUM_CLASSES[cls_name]
    for name, member in cls.__members__.items():
        c_name = HEADER_NAMES[cls_name](name)
        if c_name is None:
            continue
        assert member.value == header[c_name], (cls_name, name, c_name)


def test_never_search_is_caffis_own(header):
    assert 'cs_never_search' not in header
    assert ChannelState.NEVER_SEARCH == header['cs_closed'] + 1


# caffi.macros names spelled differently from the header, and the one the header lacks
MACRO_SPELLING = {'ECA_CHIDNOTFOUND': 'ECA_CHIDNOTFND'}
MACROS_NOT_IN_HEADERS = {'cs_never_search'}


def test_macros_are_the_headers(header):
    constants = {name: value for name, value in vars(caffi.macros).items()
                 if not name.startswith('_') and type(value) is int}
    assert len(constants) >= 180          # every §5.1 constant
    missing = set()
    for name, value in constants.items():
        c_name = MACRO_SPELLING.get(name, name)
        if c_name not in header:
            missing.add(name)
            continue
        assert value == header[c_name], name
    assert missing == MACROS_NOT_IN_HEADERS


def test_epoch_is_the_headers(header):
    assert caffi._dbr.POSIX_TIME_AT_EPICS_EPOCH == header['POSIX_TIME_AT_EPICS_EPOCH']
    assert caffi.macros.POSIX_TIME_AT_EPICS_EPOCH is caffi._dbr.POSIX_TIME_AT_EPICS_EPOCH


def test_put_rules():
    # the writable request types and the element kind each stores (API.md §8)
    assert dict(caffi._dbr.WRITE_KINDS) == {
        **{DBR(int(kind)): kind for kind in DBF if kind != DBF.INVALID},
        DBR.PUT_ACKT: DBF.ENUM, DBR.PUT_ACKS: DBF.ENUM}
    assert caffi._dbr.WRITABLE_TYPES == tuple(caffi._dbr.WRITE_KINDS)
    assert dict(caffi._dbr.INTEGER_RANGES) == {
        DBF.SHORT: (-2 ** 15, 2 ** 15 - 1), DBF.LONG: (-2 ** 31, 2 ** 31 - 1),
        DBF.ENUM: (0, 2 ** 16 - 1), DBF.CHAR: (0, 2 ** 8 - 1)}


# stubtest checks the Final values of caffi/macros.pyi but not enum member values: the members
# written in caffi/_dbr.pyi are compared with the runtime here (names, order and values).

def _stub_enum_members():
    path = os.path.join(os.path.dirname(caffi._dbr.__file__), '_dbr.pyi')
    with open(path) as f:
        tree = ast.parse(f.read())
    members = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in ENUM_CLASSES:
            members[node.name] = [(item.targets[0].id, ast.literal_eval(item.value))
                                  for item in node.body if isinstance(item, ast.Assign)]
    return members


def test_stub_enum_members_are_the_runtime():
    stub = _stub_enum_members()
    assert set(stub) == set(ENUM_CLASSES)
    for cls_name, members in stub.items():
        runtime = [(name, member.value)
                   for name, member in ENUM_CLASSES[cls_name].__members__.items()]
        assert members == runtime, cls_name
