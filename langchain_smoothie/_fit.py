"""Calibration: every candidate on every unlabeled prompt, then Smoothie is fitted.

The grid runs through :func:`smoothie_core.orchestration.call_grid` /
:func:`~smoothie_core.orchestration.acall_grid` with the front door's call policy. Each
prompt becomes a :class:`~langchain_smoothie._adapters.Request` (the front door's
``_fit_request``: messages for ``SmoothieRouter``, the candidates' input for
``SmoothieRunnable``), optionally after a ``prompt`` template; this module is shared by
both front doors. With ``scorer="peer_review"`` the judges grade every prompt's answers
too (``_judges``), under the ``fit`` config.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import Runnable, RunnableConfig

from langchain_smoothie import _judges
from langchain_smoothie._adapters import Request
from smoothie_core.orchestration import GridResults, acall_grid, call_grid, to_thread

if TYPE_CHECKING:
    from langchain_smoothie._base import SmoothieBase

__all__ = ["afit", "fit"]

DESC = "Smoothie calibration"


def _values(prompts: Any) -> list[Any]:
    if isinstance(prompts, str | Mapping) or not isinstance(prompts, Sequence):
        raise TypeError(
            "`prompts` must be a list of prompts (what `invoke` accepts, or the inputs of "
            f"`prompt=`); got a single {type(prompts).__name__}: wrap it in a list."
        )
    values = list(prompts)
    if not values:
        raise ValueError(
            "No prompts: `prompts` is empty. fit needs unlabeled prompts like the traffic "
            "the router will see (a few dozen or more) to run every candidate on."
        )
    return values


def _check_prompt(prompt: Any) -> None:
    if prompt is not None and not isinstance(prompt, Runnable):
        raise TypeError(
            "`prompt` must be a prompt template (any Runnable producing the router's "
            f"input); got {type(prompt).__name__}."
        )


def _requests(
    owner: SmoothieBase, values: Sequence[Any], templated: bool, config: RunnableConfig | None
) -> list[Request]:
    return [
        owner._fit_request(value, i, templated=templated, config=config)
        for i, value in enumerate(values)
    ]


def _answer(name: str, request: Request) -> str:
    return request.answer_text(request.call(name))


async def _aanswer(name: str, request: Request) -> str:
    return request.answer_text(await request.acall(name))


def _finish(
    owner: SmoothieBase,
    requests: Sequence[Request],
    grid: GridResults[str],
    judging: _judges.Judging | None,
) -> None:
    context = None if judging is None else judging.context  # scorer="peer_review"
    owner._core_calibrate([r.text for r in requests], grid.answers, grid.errors, context)


def fit(
    owner: SmoothieBase,
    prompts: Any,
    *,
    prompt: Runnable[Any, Any] | None,
    config: RunnableConfig | None,
    show_progress: bool,
) -> None:
    """Run the calibration grid and fit ``owner`` (``SmoothieRouter.fit``,
    ``SmoothieRunnable.fit``)."""
    values = _values(prompts)
    _check_prompt(prompt)
    if prompt is not None:
        values = prompt.batch(values, config)
    requests = _requests(owner, values, prompt is not None, config)
    grid = call_grid(
        requests,
        owner.candidate_names,
        _answer,
        owner.call_policy,
        progress=show_progress,
        desc=DESC,
    )
    _finish(owner, requests, grid, _judges.for_fit(owner, config))


async def afit(
    owner: SmoothieBase,
    prompts: Any,
    *,
    prompt: Runnable[Any, Any] | None,
    config: RunnableConfig | None,
    show_progress: bool,
) -> None:
    """Async :func:`fit` (embedding and fitting run in a worker thread)."""
    values = _values(prompts)
    _check_prompt(prompt)
    if prompt is not None:
        values = await prompt.abatch(values, config)
    requests = _requests(owner, values, prompt is not None, config)
    grid = await acall_grid(
        requests,
        owner.candidate_names,
        _aanswer,
        owner.call_policy,
        progress=show_progress,
        desc=DESC,
    )
    judging = _judges.for_fit(owner, config, asyncio.get_running_loop())
    await to_thread(_finish, owner, requests, grid, judging)
