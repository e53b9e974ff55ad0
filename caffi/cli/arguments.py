"""Command-line text -> typed values: the argparse argument types, and the values of ``put``
checked against the put rules of caffi._dbr (writable request types, integer ranges)."""
import argparse

from .._dbr import INTEGER_RANGES, WRITABLE_TYPES, WRITE_KINDS
from ..dbr import DBR
from .status import EXIT_USAGE, CliError


def dbr_type(text):
    """argparse type: a DBR request type by name, case-insensitive, with or without 'DBR_'
    ('DOUBLE', 'DBR_DOUBLE', 'time_double'), or its number."""
    name = text.strip().upper()
    if name.startswith('DBR_'):
        name = name[len('DBR_'):]
    member = None
    if name.lstrip('-').isdigit():
        try:
            member = DBR(int(name))
        except ValueError:
            member = None
    else:
        member = DBR.__members__.get(name)
    if member is None or member == DBR.INVALID:
        raise argparse.ArgumentTypeError(
            f'unknown DBR type {text!r} (expected a name such as DOUBLE, DBR_LONG, time_double, '
            f'ctrl_enum; one of: {", ".join(n for n in DBR.__members__ if n != "INVALID")})')
    return member


def _positive(convert, what):
    """argparse type: a number > 0, converted with *convert* (*what* names it in errors)."""
    def positive(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'not {what}: {text!r}')
        if not value > 0:
            raise argparse.ArgumentTypeError(f'must be > 0: {text!r}')
        return value
    positive.__name__ = f'positive_{convert.__name__}'
    return positive


positive_float = _positive(float, 'a number')
positive_int = _positive(int, 'an integer')


# ---------------------------------------------------------------------------------------------
# The values of `put`

def writable_types_text():
    """The writable request types as the error for another type lists them."""
    plain = ', '.join(WRITE_KINDS[t].name for t in WRITABLE_TYPES if t.isPlain())
    special = '/'.join(t.name for t in WRITABLE_TYPES if not t.isPlain())
    return f'plain types ({plain}) and {special}'


def write_rule(dbr):
    """(base, kind) of a writable request type: *kind* is the DBF element kind it stores, *base*
    its name (STRING, SHORT, ..., DOUBLE for the plain types; PUT_ACKT, PUT_ACKS)."""
    kind = WRITE_KINDS[dbr]
    return (kind.name if dbr.isPlain() else dbr.name), kind


def _parse_int(text):
    try:
        return int(text)
    except ValueError:
        return int(text, 0)             # 0x10, 0o17, 0b101


def convert_values(name, texts, base, kind, native_count, enum_states=()):
    """Command-line texts -> the value to put (a scalar, or a list for several values)."""
    type_label = f'DBF_{base}' if not base.startswith('PUT_') else base

    def convert(text):
        if base == 'STRING':
            return text
        if base in ('DOUBLE', 'FLOAT'):
            try:
                return float(text)
            except ValueError:
                pass
        elif base == 'ENUM':
            try:
                return _parse_int(text)
            except ValueError:
                if text in enum_states:
                    return text         # caffi writes a state name as STRING (API.md §8)
                states = ', '.join(enum_states) if enum_states else 'none defined'
                raise CliError(f'{name}: cannot convert {text!r} to {type_label}: not an integer '
                               f'nor a state name (states: {states})', EXIT_USAGE)
        else:
            try:
                return _parse_int(text)
            except ValueError:
                if base == 'CHAR' and native_count > 1 and len(texts) == 1:
                    return text         # a CHAR array takes text as its bytes, NUL-terminated
        raise CliError(f'{name}: cannot convert {text!r} to {type_label}', EXIT_USAGE)

    if len(texts) > 1 and native_count == 1:
        if base == 'STRING':
            texts = [' '.join(texts)]           # like caput: the words of one string
        else:
            raise CliError(f'{name}: a scalar channel takes one value, got {len(texts)}',
                           EXIT_USAGE)
    values = [convert(text) for text in texts]
    limits = INTEGER_RANGES.get(kind)
    if limits is not None:
        for text, value in zip(texts, values):
            if isinstance(value, int) and not limits[0] <= value <= limits[1]:
                raise CliError(f'{name}: cannot convert {text!r} to {type_label}: out of range '
                               f'{limits[0]}..{limits[1]}', EXIT_USAGE)
    return values[0] if len(values) == 1 else values
