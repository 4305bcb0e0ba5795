"""Exceptions raised by smoothie_core."""

from __future__ import annotations

__all__ = ["NotFittedError", "StateFileError"]


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
