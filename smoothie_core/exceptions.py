"""Exceptions raised by smoothie_core."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["AllCandidatesFailedError", "EmptyAnswerError", "NotFittedError", "StateFileError"]


class NotFittedError(ValueError, AttributeError):
    """Raised when an estimator or router is used before it was fitted.

    Subclasses both :class:`ValueError` and :class:`AttributeError`, like
    scikit-learn's ``NotFittedError``, so ``hasattr(est, "weights_")`` is ``False``
    on an unfitted estimator.

    Examples
    --------
    >>> from smoothie_core import Smoothie
    >>> try:
    ...     Smoothie().global_weights_
    ... except NotFittedError as err:
    ...     print("call fit first" in str(err))
    True
    """


class StateFileError(ValueError):
    """Raised when a saved state file is missing, truncated, tampered with or too new."""


class EmptyAnswerError(ValueError):
    """A candidate answered with empty or whitespace-only text: it counts as failed.

    Every front door records it the same way, ``"EmptyAnswerError: the answer is empty
    or whitespace only"`` (``str(EmptyAnswerError())`` after the class name).
    """

    def __init__(self, message: str = "the answer is empty or whitespace only") -> None:
        super().__init__(message)


class AllCandidatesFailedError(RuntimeError, ValueError):
    """No candidate answered, so there is nothing to return.

    Raised by every front door (LangChain, LlamaIndex, the core orchestration layer,
    :meth:`smoothie_core.Router.select`) for the same situation. ``errors`` maps each
    candidate's name to why it failed. A :class:`RuntimeError`; also a
    :class:`ValueError`, which ``Router.select`` raised for this case before.

    Examples
    --------
    >>> err = AllCandidatesFailedError({"a": "TimeoutError: no answer within 5 s"})
    >>> err.errors["a"]
    'TimeoutError: no answer within 5 s'
    """

    def __init__(self, errors: Mapping[str, str], *, message: str | None = None) -> None:
        self.errors = dict(errors)
        self.message = message or "Every candidate failed; no answer to return."
        super().__init__(f"{self.message} Errors: {self.errors}")

    def __reduce__(self) -> Any:  # keep errors and message when copied or pickled
        return (_rebuild, (type(self), self.errors, self.message))


def _rebuild(cls: type, errors: dict[str, str], message: str) -> AllCandidatesFailedError:
    out: AllCandidatesFailedError = cls(errors, message=message)
    return out
