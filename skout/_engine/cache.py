"""A bounded, thread-safe cache of compiled training programs.

Tracing a program costs a few hundred milliseconds, so programs are kept and
reused; the cache is bounded so that memory stays flat over many
architectures. Programs are stateless (weights go in and come out as
arguments), so threads share one program safely, and an evicted program is
garbage as soon as no fit still runs it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

#: Compiled programs kept per process, least recently used evicted first.
#: On TensorFlow, dense networks of one depth share a program whatever their
#: widths; on JAX and PyTorch a program is kept per network (XLA compiles per
#: shape); each body architecture has its own. Change with
#: :func:`set_training_cache_size`.
DEFAULT_SIZE = 16

_size = DEFAULT_SIZE
_caches = []
_lock = threading.Lock()


class ProgramCache:
    """Programs made by ``factory(key)``, kept for the last keys used."""

    def __init__(self, factory):
        self.factory = factory
        # key -> [program]: a list, so readers can count programs per key.
        self.entries = OrderedDict()
        _caches.append(self)

    def get(self, key):
        """The program for ``key``, built (outside the lock) on first use."""
        with _lock:
            found = self.entries.get(key)
            if found:
                self.entries.move_to_end(key)
                return found[0]
        program = self.factory(key)
        with _lock:
            found = self.entries.setdefault(key, [program])
            self.entries.move_to_end(key)
            _evict(self.entries, _size)
            return found[0]


def clear_cache():
    """Drop every cached compiled program, of every backend's loop (frees them)."""
    with _lock:
        for cache in _caches:
            cache.entries.clear()


def _evict(entries, size):
    while len(entries) > size:
        entries.popitem(last=False)


def set_training_cache_size(n):
    """Keep at most ``n`` compiled training programs per process.

    Each program costs its trace (a few hundred milliseconds) again when it is
    needed after being evicted, and holds a few MiB while kept. On
    TensorFlow, dense networks of one depth, activation and output head share
    one program whatever their widths (on JAX and PyTorch, each width has its
    own); each body architecture (``body=``) has its own.

    Parameters
    ----------
    n : int
        The bound, >= 0 (0 keeps none: every compiled call, each chunk of a
        fit included, builds its program again). The default is
        :data:`DEFAULT_SIZE` (16).

    Returns
    -------
    int
        The previous bound.
    """
    import numbers

    global _size
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
        raise ValueError(
            f"set_training_cache_size(n) takes an integer >= 0, got {n!r}; "
            f"the default is {DEFAULT_SIZE}."
        )
    with _lock:
        previous, _size = _size, int(n)
        for cache in _caches:
            _evict(cache.entries, _size)
    return previous


def training_cache_size():
    """The current bound (see :func:`set_training_cache_size`)."""
    return _size
