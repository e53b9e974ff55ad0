"""Text helpers kept for code written against caffi 1.0."""

basestring = (str, bytes)


def to_bytes(x):
    """bytes unchanged, str encoded as UTF-8."""
    return x.encode('utf-8') if isinstance(x, str) else x


def to_string(x):
    """str unchanged, bytes decoded as UTF-8."""
    return x.decode('utf-8') if isinstance(x, bytes) else x
