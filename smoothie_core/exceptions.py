"""Exceptions raised by smoothie_core."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["AllCandidatesFailedError", "NotFittedError", "StateFileError"]


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


class AllCandidatesFailedError(RuntimeError):
    """No candidate answered, so there is nothing to return.

    Raised by every front door (LangChain, LlamaIndex, the core orchestration layer)
    for the same situation. ``errors`` maps each candidate's name to why it failed.

    Examples
    --------
    >>> err = AllCandidatesFailedError({"a": "TimeoutError: no answer within 5 s"})
    >>> err.errors["a"]
    'TimeoutError: no answer within 5 s'
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(f"Every candidate failed; no answer to return. Errors: {self.errors}")

    def __reduce__(self) -> tuple[type, tuple[dict[str, str]]]:  # keep errors when copied
        return (type(self), (self.errors,))
