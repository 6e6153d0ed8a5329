"""A least-recently-used cache bounded in bytes as well as in entries.

``functools.lru_cache(maxsize=20_000)`` bounded the compiled automata only in number: at up to
``MAX_STATES`` states times the alphabet's symbols each, 20,000 of them could hold about 13 GB.
Here each entry is charged its estimated size (``sizeof``) and the oldest entries go until the
total is under ``max_bytes``; an entry larger than the whole budget is returned, not kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class ByteBoundedCache:
    """Memoise ``function(key)``; at most ``max_entries`` entries and ``max_bytes`` bytes."""

    def __init__(
        self,
        function: Callable[[Any], Any],
        sizeof: Callable[[Any, Any], int],
        max_bytes: int,
        max_entries: int,
    ):
        self.function, self.sizeof = function, sizeof
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.__doc__ = function.__doc__
        self.__wrapped__ = function

    def __call__(self, key: Hashable) -> Any:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
        value = self.function(key)  # outside the lock: compilations run in parallel
        size = self.sizeof(key, value)
        if size > self.max_bytes:
            return value
        with self._lock:
            if key not in self._entries:
                self._entries[key] = (value, size)
                self._bytes += size
            while self._entries and (
                self._bytes > self.max_bytes or len(self._entries) > self.max_entries
            ):
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
        return value

    def cache_clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def cache_bytes(self) -> int:
        """The estimated bytes held now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
