"""Labels and column names made safe to print on a terminal.

A label can hold anything: ANSI escape codes that recolour or clear the
terminal, newlines that break a table, or megabytes of text. :func:`shown`
escapes what is not printable (as ``repr`` would) and cuts what is long, so
the command line and the doctor's messages print a bounded, inert line.
"""

from __future__ import annotations

__all__ = ["LABEL_WIDTH", "shown"]

#: The most characters of one label or column name that are printed.
LABEL_WIDTH = 40


def shown(value, limit=LABEL_WIDTH):
    """``str(value)`` with control characters escaped, cut to ``limit`` characters.

    Parameters
    ----------
    value : object
        A label or column name.
    limit : int, default=40
        The most characters kept; a longer text ends in ``...``.

    Returns
    -------
    text : str
        At most ``limit`` characters, every one of them printable.

    Examples
    --------
    >>> shown("\\x1b[31mred\\x1b[0m")
    '\\\\x1b[31mred\\\\x1b[0m'
    >>> shown("tab\\there")
    'tab\\\\there'
    >>> shown("x" * 100, limit=10)
    'xxxxxxx...'
    >>> shown("Ελληνικά")
    'Ελληνικά'
    """
    text = str(value)
    # Only the part that can be shown is escaped: a 30 MB label costs 40 characters.
    head = text[: limit + 1]
    escaped = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in head)
    if len(text) > limit or len(escaped) > limit:
        return escaped[: max(limit - 3, 0)] + "..."
    return escaped
