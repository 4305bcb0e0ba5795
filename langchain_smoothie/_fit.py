"""Calibration: every candidate on every unlabeled prompt, then Smoothie is fitted.

The grid runs through :func:`smoothie_core.orchestration.call_grid` /
:func:`~smoothie_core.orchestration.acall_grid` with the router's call policy; this
module turns the prompts into messages (the same inputs ``invoke`` accepts, or a
``prompt`` template's inputs) and the candidates into callables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig

from langchain_smoothie._candidates import ainvoke_candidate, for_call, invoke_candidate
from langchain_smoothie._render import answer_text, input_text
from smoothie_core.orchestration import GridResults, acall_grid, call_grid, to_thread

if TYPE_CHECKING:
    from langchain_smoothie.chat_models import SmoothieRouter

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


def _messages(
    owner: SmoothieRouter, values: Sequence[Any], prompt: Runnable[Any, Any] | None
) -> list[list[BaseMessage]]:
    out = []
    for i, value in enumerate(values):
        if prompt is None and isinstance(value, Mapping):
            raise TypeError(
                f"prompts[{i}] is a dict ({sorted(value)!r}); pass the prompt template your "
                "chain puts before the router as `prompt=` to format it, e.g. "
                "router.fit(inputs, prompt=template)."
            )
        try:
            out.append(owner._convert_input(value).to_messages())
        except ValueError as exc:
            raise TypeError(
                f"prompts[{i}] must be what the router's `invoke` accepts (str, messages, a "
                f"PromptValue){' after `prompt`' if prompt is not None else ''}; got "
                f"{type(value).__name__}: {exc}"
            ) from exc
    return out


def _check_prompt(prompt: Any) -> None:
    if prompt is not None and not isinstance(prompt, Runnable):
        raise TypeError(
            "`prompt` must be a prompt template (any Runnable producing the router's "
            f"input); got {type(prompt).__name__}."
        )


def _config(base: RunnableConfig | None, name: str) -> RunnableConfig:
    config: RunnableConfig = dict(base or {})  # type: ignore[assignment]
    config["run_name"] = name
    config["metadata"] = {**(config.get("metadata") or {}), "smoothie_candidate": name}
    return config


def _finish(owner: SmoothieRouter, inputs: list[list[BaseMessage]], grid: GridResults[str]) -> None:
    owner._core_calibrate([input_text(m) for m in inputs], grid.answers, grid.errors)


def fit(
    owner: SmoothieRouter,
    prompts: Any,
    *,
    prompt: Runnable[Any, Any] | None,
    config: RunnableConfig | None,
    show_progress: bool,
) -> None:
    """Run the calibration grid and fit ``owner`` (see ``SmoothieRouter.fit``)."""
    values = _values(prompts)
    _check_prompt(prompt)
    if prompt is not None:
        values = prompt.batch(values, config)
    inputs = _messages(owner, values, prompt)
    models = {n: for_call(m, owner.forwarded_settings, child=True) for n, m in owner.models.items()}

    def one(name: str, messages: list[BaseMessage]) -> str:
        message = invoke_candidate(models[name], name, messages, _config(config, name), owner.stop)
        return answer_text(message)

    grid = call_grid(
        inputs, owner.candidate_names, one, owner.call_policy, progress=show_progress, desc=DESC
    )
    _finish(owner, inputs, grid)


async def afit(
    owner: SmoothieRouter,
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
    inputs = _messages(owner, values, prompt)
    models = {n: for_call(m, owner.forwarded_settings, child=True) for n, m in owner.models.items()}

    async def one(name: str, messages: list[BaseMessage]) -> str:
        message = await ainvoke_candidate(
            models[name], name, messages, _config(config, name), owner.stop
        )
        return answer_text(message)

    grid = await acall_grid(
        inputs, owner.candidate_names, one, owner.call_policy, progress=show_progress, desc=DESC
    )
    await to_thread(_finish, owner, inputs, grid)
