"""Calibration shared by the selector and the LLM: run the grid, then fit a router.

Candidates are called only through :mod:`smoothie_core.orchestration`
(:func:`~smoothie_core.orchestration.call_grid`, per-call timeout, retries, bounded
concurrency, progress bar); empty answers count as failures; the router is fitted with
:meth:`smoothie_core.Router.calibrate`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar

from llamaindex_smoothie._common import (
    Answers,
    Errors,
    Options,
    drop_empty,
    grid_answers,
    require_text,
)
from smoothie_core.embedders import Embedder
from smoothie_core.exceptions import NotFittedError
from smoothie_core.orchestration import acall_grid, call_grid, to_thread
from smoothie_core.router import CalibrationReport, Router
from smoothie_core.scorers import ScoringContext

#: The progress bar's label.
DESC = "Smoothie calibration"


def check_prompts(prompts: Any) -> list[Any]:
    """A list of calibration prompts (a single str is a mistake, not 1 prompt per char)."""
    if isinstance(prompts, str):
        raise TypeError(
            "calibration prompts must be a list of prompts, not a single str; wrap it in a list."
        )
    out = list(prompts)
    if not out:
        raise ValueError(
            "no calibration prompts: fit needs a non-empty list of unlabeled prompts "
            "(a few dozen typical inputs)."
        )
    return out


def collect(
    names: Sequence[str],
    call: Callable[[str, Any], str],
    prompts: Sequence[Any],
    options: Options,
    show_progress: bool,
) -> tuple[Answers, Errors]:
    """Every candidate on every prompt (``call(name, prompt) -> text``; an empty text is
    a failed attempt, retried like any failure)."""

    def checked(name: str, prompt: Any) -> str:
        return require_text(call(name, prompt))

    grid = call_grid(prompts, names, checked, options.policy, progress=show_progress, desc=DESC)
    return grid_answers(grid)


async def acollect(
    names: Sequence[str],
    call: Callable[[str, Any], Awaitable[str]],
    prompts: Sequence[Any],
    options: Options,
    show_progress: bool,
) -> tuple[Answers, Errors]:
    """Async :func:`collect`."""

    async def checked(name: str, prompt: Any) -> str:
        return require_text(await call(name, prompt))

    grid = await acall_grid(
        prompts, names, checked, options.policy, progress=show_progress, desc=DESC
    )
    return grid_answers(grid)


def fit_router(
    options: Options,
    embedder: Embedder | None,
    inputs: Sequence[str],
    answers: Sequence[Mapping[str, str | None]],
    errors: Sequence[Mapping[str, str]] | None = None,
    context: ScoringContext | None = None,
) -> tuple[Router, CalibrationReport, Errors]:
    """A router calibrated on ``answers[s][name]`` for ``inputs[s]``.

    Missing or None answers are failures; empty or whitespace-only ones too (recorded in
    the returned errors, as the core Router counts them). ``context`` carries the
    judges of ``scorer="peer_review"`` (:mod:`llamaindex_smoothie._judges`).
    """
    rows: Answers = [dict(row) for row in answers]
    errs: Errors = [{} for _ in rows] if errors is None else [dict(e) for e in errors]
    if len(errs) != len(rows):
        raise ValueError(
            f"`calibration_errors` must have one dict per calibration prompt ({len(rows)}); "
            f"got {len(errs)}."
        )
    rows, errs = drop_empty(rows, errs)
    router = options.new_router(embedder)
    report = router.calibrate(list(inputs), rows, context=context)
    return router, report, errs


async def afit_router(
    options: Options,
    embedder: Embedder | None,
    inputs: Sequence[str],
    answers: Sequence[Mapping[str, str | None]],
    errors: Sequence[Mapping[str, str]] | None = None,
    context: ScoringContext | None = None,
) -> tuple[Router, CalibrationReport, Errors]:
    """:func:`fit_router` in a worker thread (embedding is CPU work)."""
    return await to_thread(fit_router, options, embedder, inputs, answers, errors, context)


class Calibrated:
    """The fitted state a front door keeps after :meth:`fit`: ``calibration_report_`` and
    ``calibration_errors_`` (``NotFittedError`` before any fit), set by :meth:`_set_fitted`.

    The class defines ``_router``, ``_report`` (None before a fit) and ``_errors``.
    """

    #: How the ``NotFittedError`` tells the user to fit, e.g. ``"fit(prompts)"``.
    _fit_hint: ClassVar[str] = "fit(prompts)"
    #: Why a router can have no report (it was loaded, or given ready-made).
    _no_report_because: ClassVar[str] = "a loaded router keeps no report"
    _router: Router
    _report: CalibrationReport | None
    _errors: Errors | None

    def _set_fitted(self, router: Router, report: CalibrationReport, errors: Errors) -> None:
        self._router, self._report, self._errors = router, report, errors

    @property
    def calibration_report_(self) -> CalibrationReport:
        """What the last :meth:`fit` used and dropped (``NotFittedError`` before any fit)."""
        if self._report is None:
            raise NotFittedError(
                f"This {type(self).__name__} holds no calibration report: call "
                f"{self._fit_hint} first ({self._no_report_because})."
            )
        return self._report

    @property
    def calibration_errors_(self) -> Errors:
        """``[s][name]`` -> why candidate ``name`` failed on calibration prompt ``s`` (last
        :meth:`fit`)."""
        self.calibration_report_  # noqa: B018  (raises before any fit)
        return [dict(e) for e in self._errors or []]
