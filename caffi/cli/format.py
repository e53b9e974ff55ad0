"""Text for the values caffi delivers (DBRValue.get() / callback 'value', API.md §9): scalars,
arrays in full or summarized, time stamps, alarm fields and GR/CTRL metadata."""
import datetime
import enum
import sys

from ..ca import message
from ..macros import POSIX_TIME_AT_EPICS_EPOCH

FULL_ARRAY_LIMIT = 1000         # `get` prints arrays up to this length in full, longer ones summarized


def _is_array(value):
    return isinstance(value, (list, tuple)) or (hasattr(value, 'dtype') and hasattr(value, 'ndim')
                                                and value.ndim == 1)


def format_scalar(value):
    if isinstance(value, enum.Enum):
        return value.name
    if hasattr(value, 'dtype') and hasattr(value, 'item'):      # numpy scalar
        return format_scalar(value.item())
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes):            # text that is not UTF-8 (API.md §12)
        return repr(value)
    if value == '':
        return '""'
    return str(value)


def _elements(seq):
    return seq.tolist() if hasattr(seq, 'tolist') else list(seq)


def summarize_array(value, edge=3):
    """'N elements: a b c ... x y z (min m, max M)' -- count, first/last elements, min/max."""
    n = len(value)
    if n == 0:
        return '0 elements'
    if n <= 2 * edge:
        shown = ' '.join(format_scalar(x) for x in _elements(value))
    else:
        shown = (' '.join(format_scalar(x) for x in _elements(value[:edge])) + ' ... '
                 + ' '.join(format_scalar(x) for x in _elements(value[-edge:])))
    text = f'{n} elements: {shown}'
    if hasattr(value, 'dtype'):
        if value.dtype.kind in 'biuf':
            text += f' (min {format_scalar(value.min())}, max {format_scalar(value.max())})'
    elif all(isinstance(x, (int, float)) for x in value[:1]):
        try:
            text += f' (min {format_scalar(min(value))}, max {format_scalar(max(value))})'
        except TypeError:
            pass
    return text


def format_array(value):
    """The whole array as 'N e1 e2 ...' (caget's layout); numpy arrays in numpy's notation."""
    n = len(value)
    if hasattr(value, 'dtype'):
        import numpy            # only for a numpy array, so numpy is there already
        body = numpy.array2string(value, max_line_width=sys.maxsize, threshold=FULL_ARRAY_LIMIT,
                                  separator=' ')
        return f'{n} {body} ({value.dtype})'
    if n == 0:
        return '0 (empty)'
    return ' '.join([str(n)] + [format_scalar(x) for x in value])


def format_value(value, summarize):
    if value is None:
        return '<no data>'
    if _is_array(value):
        if summarize or len(value) > FULL_ARRAY_LIMIT:
            return summarize_array(value)
        return format_array(value)
    return format_scalar(value)


def format_stamp(stamp):
    if stamp['seconds'] == POSIX_TIME_AT_EPICS_EPOCH and stamp['nanoseconds'] == 0:
        return '<undefined>'
    return format_time(stamp['timestamp'])


def format_time(posix_seconds):
    return datetime.datetime.fromtimestamp(posix_seconds).strftime('%Y-%m-%d %H:%M:%S.%f')


def format_result(result, summarize, arrival=None):
    """One line for a caffi read result: [time stamp] value [STATUS SEVERITY]."""
    if not isinstance(result, dict):
        text = format_value(result, summarize)
        return text if arrival is None else f'{format_time(arrival)} {text}'
    value = result.get('value')
    text = format_value(value, summarize)
    strs = result.get('strs')
    if strs and isinstance(value, int) and 0 <= value < len(strs):
        text = f'{format_scalar(strs[value])} ({value})'
    if 'stamp' in result:
        text = f'{format_stamp(result["stamp"])} {text}'
    elif arrival is not None:
        text = f'{format_time(arrival)} {text}'
    severity = result.get('severity')
    if severity:
        text += f' {format_scalar(result.get("status"))} {format_scalar(severity)}'
    return text


METADATA_SKIP = ('status', 'severity', 'stamp', 'value')


def metadata_lines(result, indent='    '):
    """The GR/CTRL fields of a read result (units, limits, precision, enum states) as lines."""
    if not isinstance(result, dict):
        return []
    lines = []
    for key, item in result.items():
        if key in METADATA_SKIP:
            continue
        if key == 'strs':
            item = ', '.join(f'{i}={format_scalar(s)}' for i, s in enumerate(item)) or '()'
        else:
            item = format_scalar(item)
        lines.append(f'{indent}{key}: {item}')
    return lines


def no_data(status):
    """What stands for the value of a read or update that brought none."""
    return f'<no data: {message(status)}>'


def format_old_new(result):
    """The value of a read result for the Old/New lines of `put`."""
    if result['value'] is None:
        return no_data(result['status'])
    return format_result(result['value'], summarize=False)
