"""Small helpers with no LangChain-specific logic."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

__all__ = ["CopyableLock"]


class CopyableLock:
    """A re-entrant lock that survives ``copy.deepcopy`` and ``pickle`` as a *new* lock.

    A lock guards one object's state; a copy has its own state, so it gets its own
    unlocked lock (``threading.RLock`` itself cannot be copied or pickled, which made
    routers and fake models uncopyable).

    Examples
    --------
    >>> import copy, pickle
    >>> lock = CopyableLock()
    >>> with lock:
    ...     other = copy.deepcopy(lock)
    >>> other is not lock, type(pickle.loads(pickle.dumps(lock))).__name__
    (True, 'CopyableLock')
    """

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def __enter__(self) -> bool:
        return self._lock.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.__exit__(exc_type, exc, tb)

    def __reduce__(self) -> tuple[type[CopyableLock], tuple[()]]:
        return (type(self), ())

    def __deepcopy__(self, memo: dict[int, Any]) -> CopyableLock:
        return type(self)()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
