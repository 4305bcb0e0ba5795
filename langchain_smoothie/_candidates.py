"""Candidates: normalising ``models=``, naming them, and preparing each call.

``models=`` accepts chat models, ``"provider:model"`` strings (built with LangChain's
``init_chat_model``, optionally with keyword options) or a dict name -> either. Each
call is made on a per-call shallow copy of the candidate (:func:`for_call`) carrying
the router-level settings it accepts and, for child runs, streaming switched off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig

from langchain_smoothie._render import answer_text
from smoothie_core._validation import check_candidate_names
from smoothie_core.exceptions import EmptyAnswerError

__all__ = [
    "FORWARDED_SETTINGS",
    "EmptyAnswerError",
    "ainvoke_candidate",
    "bound_runnable",
    "check_answer",
    "direct_kwargs",
    "for_call",
    "invoke_candidate",
    "normalize_models",
]


#: Router-level settings passed on to every candidate whose class has a field of that name.
FORWARDED_SETTINGS = ("temperature", "max_tokens")


def _model_name(model: BaseChatModel) -> str | None:
    for attr in ("model_name", "model", "model_id"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


def _resolve(spec: str, options: Mapping[str, Any], where: str) -> BaseChatModel:
    """Build ``spec`` (``"provider:model"``) with ``init_chat_model(spec, **options)``."""
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:  # pragma: no cover - `langchain` is installed with the tests
        raise ImportError(
            f"{where} is the string {spec!r}; building models from 'provider:model' strings "
            "needs `langchain` (pip install langchain), or pass a chat model instance."
        ) from exc
    try:
        model = init_chat_model(spec, **dict(options))
    except ImportError as exc:
        raise ImportError(f"{where} = {spec!r} cannot be built: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{where} = {spec!r} cannot be built by init_chat_model: {exc} Use "
            "'provider:model' (e.g. 'openai:gpt-4o-mini') or pass a chat model instance."
        ) from exc
    except Exception as exc:  # the provider's own error, e.g. openai.OpenAIError (no api_key)
        raise ValueError(
            f"{where} = {spec!r} cannot be built by init_chat_model: {type(exc).__name__}: "
            f"{exc} Pass the provider's options with the string, e.g. ({spec!r}, "
            '{"api_key": ..., "base_url": ...}), or pass a chat model instance.'
        ) from exc
    if not isinstance(model, BaseChatModel):
        raise ValueError(
            f"{where} = {spec!r} built a {type(model).__name__}, not a chat model; give the "
            "model name in the string (configurable models cannot be candidates)."
        )
    return model


def _candidate(value: Any, where: str) -> tuple[BaseChatModel, str | None]:
    """``(model, name it brings)`` for one entry of ``models=``."""
    if isinstance(value, BaseChatModel):
        return value, _model_name(value)
    if isinstance(value, str):
        return _resolve(value, {}, where), value
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], Mapping)
    ):
        return _resolve(value[0], value[1], where), value[0]
    raise ValueError(
        f"{where} must be a langchain_core BaseChatModel, a 'provider:model' string or a "
        f"('provider:model', {{options}}) pair; got {type(value).__name__}."
    )


def normalize_models(models: Any, *, what: str = "models") -> dict[str, BaseChatModel]:
    """Candidates as an ordered dict name -> chat model (see ``SmoothieRouter``).

    From a list, a model instance is named by its ``model_name``/``model`` and a string
    by itself (``"openai:gpt-4o-mini"``); a dict names them by its keys. Names are
    checked once, by :mod:`smoothie_core` (unique, non-empty). ``what`` names the
    argument in errors (``"judges"`` for judge models, normalised the same way).

    Examples
    --------
    >>> from langchain_smoothie import ScriptedChatModel
    >>> list(normalize_models([ScriptedChatModel(model_name="a"), ScriptedChatModel(model_name="b")]))
    ['a', 'b']
    """
    pairs: list[tuple[Any, BaseChatModel]] = []
    if isinstance(models, Mapping):
        for key, value in models.items():
            pairs.append((key, _candidate(value, f"{what}[{key!r}]")[0]))
    elif isinstance(models, Sequence) and not isinstance(models, str):
        for i, value in enumerate(models):
            model, name = _candidate(value, f"{what}[{i}]")
            if name is None:
                raise ValueError(
                    f"{what}[{i}] ({type(model).__name__}) has no `model_name`/`model` to name "
                    "it by; pass a dict name -> model instead."
                )
            pairs.append((name, model))
    else:
        raise ValueError(
            f"`{what}` must be a list of chat models (or 'provider:model' strings) or a dict "
            f"name -> chat model; got {type(models).__name__}."
        )
    names = [name for name, _ in pairs]
    try:
        check_candidate_names(
            names, len(names), what="candidate names" if what == "models" else f"{what} names"
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{exc} Models in a list are named by their "
            "`model_name`/`model` (or their 'provider:model' string); pass a dict "
            "name -> model to name them yourself."
        ) from exc
    return dict(pairs)


def for_call(model: BaseChatModel, settings: Mapping[str, Any], *, child: bool) -> BaseChatModel:
    """The candidate as called: a shallow per-call copy when anything must change.

    ``settings`` (router-level ``temperature``/``max_tokens``; None = not set) are set on
    the copy where the candidate's class has a field of that name. ``child=True``
    (candidates invoked as child runs: select mode, calibration, route fallbacks that
    cannot be called directly) also switches streaming off: a stream handler attached
    to the router (``astream_events``, LangGraph's ``stream_mode="messages"``) would
    otherwise make every candidate stream its tokens into the router's event stream.
    A copy per call (cheap: fields are shared, not copied) keeps later changes to the
    user's candidate visible and never mutates it.
    """
    fields = type(model).model_fields
    update = {k: v for k, v in settings.items() if v is not None and k in fields}
    if child:
        if model.disable_streaming is not True:
            update["disable_streaming"] = True
        if "streaming" in fields and getattr(model, "streaming", False):
            update["streaming"] = False
    if not update:
        return model
    # LangChain serialises a model for its run's trace once (a cached property, ~1 ms);
    # filling the cache on the candidate lets every copy share it instead of redoing it
    # on each call. Traces then show the candidate as the user built it; the invocation
    # params (also traced) show the settings of this call.
    getattr(model, "_serialized", None)
    return model.model_copy(update=update)


def bound_runnable(model: BaseChatModel, kwargs: Mapping[str, Any]) -> Runnable[Any, Any]:
    """``model`` with the router's bound call kwargs: tools through its own ``bind_tools``
    (providers translate them), anything else through ``bind``."""
    rest = dict(kwargs)
    tools = rest.pop("tools", None)
    tool_choice = rest.pop("tool_choice", None)
    runnable: Runnable[Any, Any] = model
    if tools is not None:
        extra = {"tool_choice": tool_choice} if tool_choice is not None else {}
        runnable = model.bind_tools(tools, **extra)
    if rest:
        runnable = runnable.bind(**rest)
    return runnable


def direct_kwargs(model: BaseChatModel, runnable: Runnable[Any, Any]) -> dict[str, Any] | None:
    """The kwargs to call ``model._generate``/``_stream`` with so that it behaves as
    ``runnable``, or None when ``runnable`` is not a plain binding of ``model`` (a
    provider's ``bind_tools`` may wrap it; it is then invoked as a child run)."""
    if runnable is model:
        return {}
    if isinstance(runnable, RunnableBinding) and runnable.bound is model:
        return dict(runnable.kwargs)
    return None


def check_answer(name: str, out: Any) -> AIMessage:
    """``out`` if it is a usable answer: an ``AIMessage`` with text or tool calls.

    An empty or whitespace-only answer counts as a failed call (it is retried under
    ``max_retries`` and recorded in ``failed``/``errors``): it carries nothing to
    compare, and two empty answers would otherwise agree with each other and win.
    """
    if not isinstance(out, AIMessage):
        raise TypeError(f"candidate {name!r} returned {type(out).__name__}, expected an AIMessage")
    if not answer_text(out).strip():
        raise EmptyAnswerError
    return out


def invoke_candidate(
    runnable: Runnable[Any, Any],
    name: str,
    messages: list[BaseMessage],
    config: RunnableConfig,
    stop: list[str] | None,
) -> AIMessage:
    """One attempt of candidate ``name``, as a run of its own under ``config``."""
    return check_answer(name, runnable.invoke(messages, config, stop=stop))


async def ainvoke_candidate(
    runnable: Runnable[Any, Any],
    name: str,
    messages: list[BaseMessage],
    config: RunnableConfig,
    stop: list[str] | None,
) -> AIMessage:
    """Async :func:`invoke_candidate`."""
    return check_answer(name, await runnable.ainvoke(messages, config, stop=stop))
