"""``SmoothieRouter``: a LangChain chat model that picks among candidate chat models, label-free.

Two modes (see ``docs/langchain.md``):

* ``mode="select"`` (test-time, the paper's strongest regime): every candidate answers
  every input, concurrently; the answers are embedded and scored with Smoothie and the
  best one is returned. Costs one call per candidate per input.
* ``mode="route"`` (train-time): :meth:`SmoothieRouter.fit` calibrates on unlabeled
  prompts; afterwards each input is embedded, its nearest calibration prompts give
  the candidates' weights, and only the winner is called (it streams natively).

This module holds the class (its candidates, chat-model settings, LangChain hooks); the
Smoothie options, the core router and persistence are shared with ``SmoothieRunnable``
(``_base``), and so is the engine: ``_select`` (select mode), ``_route`` (route mode),
``_fit`` (calibration), which reach the candidates through ``_adapters.ChatRequest``.
``_candidates`` normalises ``models=`` and prepares each call; ``_callbacks`` makes
child runs and the decision event. Candidates are called through
:mod:`smoothie_core.orchestration`; all estimator logic lives in
:class:`smoothie_core.Router`.
"""

from __future__ import annotations

import inspect
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda, ensure_config
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.utils import LC_ID_PREFIX
from pydantic import ConfigDict, Field, field_validator

from langchain_smoothie import _fit, _route, _select
from langchain_smoothie._adapters import ChatRequest
from langchain_smoothie._base import SmoothieBase
from langchain_smoothie._callbacks import as_chunk, opened_run, stream_run_manager
from langchain_smoothie._candidates import FORWARDED_SETTINGS, normalize_models
from langchain_smoothie._render import input_text
from smoothie_core import Decision
from smoothie_core.exceptions import AllCandidatesFailedError
from smoothie_core.orchestration import to_thread

__all__ = ["AllCandidatesFailedError", "SmoothieRouter"]


def _token_chunk(message: AIMessage, run_manager: Any) -> ChatGenerationChunk:
    chunk = ChatGenerationChunk(message=as_chunk(message))
    if chunk.message.id is None:
        chunk.message.id = f"{LC_ID_PREFIX}{run_manager.run_id}"
    return chunk


class SmoothieRouter(SmoothieBase, BaseChatModel):
    """A chat model that answers with the best of several candidate chat models, label-free.

    Drop-in for any chat model: ``invoke``/``ainvoke``/``batch``/``stream``, chains
    (``router | parser``), ``bind_tools``, ``with_structured_output``, agents, callbacks
    and tracing all work. Every answer is the chosen candidate's own ``AIMessage``
    (content, tool calls, ``model_name``) with the decision in
    ``response_metadata["smoothie"]``: ``selected``, ``weights`` (name -> weight, sums
    to 1), ``mode``, ``failed``, ``errors``, ``n_neighbors``, ``fallback``,
    ``reliability``; select mode adds ``usage`` (name -> that candidate's
    ``usage_metadata``), route mode adds ``scores`` when prices are set. The same dict
    is sent as the custom callback event ``"smoothie_decision"`` on the router's run.

    **select mode** calls every candidate concurrently as child runs of the router's
    run, tagged ``smoothie:candidate`` and ``nostream``, with streaming switched off:
    the candidates' tokens never reach the router's event stream (``astream_events``,
    LangGraph's ``stream_mode="messages"``); the chosen answer is the router's one
    stream chunk. A candidate that raises, times out or answers with empty/whitespace
    text (after ``max_retries`` retries) is recorded in ``failed``/``errors`` and the
    others still answer; with fewer than 3 answers the
    :meth:`smoothie_core.Router.select` fallbacks apply; with none,
    :class:`AllCandidatesFailedError`. Token usage: each candidate's child run reports
    its own usage, so the router's message carries ``usage_metadata=None`` (reporting
    the winner's again would count it twice, e.g. in ``get_usage_metadata_callback``);
    every candidate's usage is in ``response_metadata["smoothie"]["usage"]``.

    **route mode** needs :meth:`fit` (or :meth:`load`). The winner is called directly
    inside the router's run, so the router's run *is* the winner's call: its tokens
    stream through and its ``usage_metadata`` is counted once. If the winner fails, the
    next-best candidate is tried (``fallback_on_error``). The winner's answer is
    returned as it is, even if empty (there is nothing to compare it with, and a
    streamed answer is only known at its end). In ``stream``/``astream`` the decision
    event is sent when the first chunk arrives; that chunk also carries the decision
    in ``response_metadata["smoothie"]``.

    Calls (select fan-out, route chain, calibration grid) go through
    :mod:`smoothie_core.orchestration` with the same ``timeout`` (per attempt),
    ``max_retries`` and ``max_concurrency`` everywhere.

    Parameters
    ----------
    models : list or dict
        At least 3 candidates: chat models, ``"provider:model"`` strings (built with
        ``langchain.chat_models.init_chat_model``) or ``("provider:model", {options})``
        pairs, the options being ``init_chat_model``'s keyword arguments for that model
        (e.g. ``("openai:llama3", {"base_url": "http://127.0.0.1:8080/v1", "api_key":
        "not-needed"})`` for an OpenAI-compatible server; see ``docs/http.md``); or a
        dict name -> any of these. From a list, a model is named by its
        ``model_name``/``model`` and a string by itself; repeated names are an error
        (use a dict).
    mode : {"select", "route"}, default="select"
    scorer : str or smoothie_core.scorers.Scorer, default=smoothie_core.defaults.DEFAULT_SCORER
        What compares the candidates' answers (:mod:`smoothie_core.scorers`, e.g.
        ``"consensus"``, ``"coverage"``, ``"peer_review"``).
    judges : list or dict, or None
        ``scorer="peer_review"`` only: the chat models that grade the candidates'
        answers, normalised like ``models`` (instances, ``"provider:model"`` strings, or
        a dict name -> model). None: the candidates grade each other (each one the
        others' answers). Every judge call is a child run of the router's run named
        ``judge:<name>``, tagged ``smoothie:judge`` and ``nostream``, under the same
        ``timeout``/``max_retries``/``max_concurrency``; its usage is reported once, by
        that run (``response_metadata["smoothie"]["judge_usage"]`` sums it per judge).
        The grades are in ``response_metadata["smoothie"]["diagnostics"]["grades"]``.
        Route mode asks the judges during :meth:`fit` only. See ``docs/peer_review.md``.
    max_judge_calls : int or None
        ``scorer="peer_review"`` only: judge calls per input at most (None: every
        judge); the judges asked rotate from input to input.
    n_neighbors : int, "auto" or None, default=smoothie_core.defaults.DEFAULT_N_NEIGHBORS
        route mode: None is Smoothie-Global (one weight vector for all inputs), ``k``
        averages the ``k`` nearest calibration prompts (Smoothie-Local), ``"auto"`` lets
        :class:`smoothie_core.Router` choose ``k`` from the pool size. select mode:
        None/1 scores each input's answers on their own, except label-model scorers
        such as the default ``answer_coverage``, which learn every candidate's quality
        over the whole pool (Smoothie-Global) and decide this input's answers with it;
        ``k > 1`` adds the ``k - 1`` nearest pooled inputs (from :meth:`fit` or
        ``update_pool``).
    embedder : smoothie_core Embedder, LangChain Embeddings, or None
        Embeds inputs and answers. None: the offline all-MiniLM-L6-v2 (loaded lazily).
    router : smoothie_core.Router or None
        Ready Smoothie state (e.g. :meth:`smoothie_core.Router.load`); its candidates
        must be the model names, and ``scorer``/``n_neighbors``/``max_pool_size``/
        ``default``/``abstain_below`` are taken from it (giving a different value is an
        error).
        Usually left None; :meth:`load` and copies made by ``configurable_fields`` use
        it, so a fitted router stays fitted.
    max_concurrency : int, default=smoothie_core.defaults.DEFAULT_MAX_CONCURRENCY
        Candidate calls in flight at once (per input in select mode; in :meth:`fit`).
    timeout : float or None, default=smoothie_core.defaults.DEFAULT_TIMEOUT
        Seconds allowed per attempt of a candidate call; a timed-out attempt counts as a
        failure (and is retried if attempts remain). A timed-out sync call finishes in
        a background thread and its result is discarded. For a streamed route-mode
        answer it bounds the wait for the first chunk.
    max_retries : int, default=smoothie_core.defaults.DEFAULT_MAX_RETRIES
        Further attempts after a failed one (errors, timeouts, empty answers).
    default : str or None
        Candidate chosen when nothing distinguishes the candidates, and the target of
        abstention.
    abstain_below : float or None
        Fall back to ``default`` when a decision's reliability score is below this
        (see :class:`smoothie_core.Router`; each decision carries ``reliability``).
    update_pool : bool, default=smoothie_core.defaults.DEFAULT_UPDATE_POOL
        select mode: add every scored input to the pool, bounded by ``max_pool_size``
        (oldest dropped first): Smoothie-Local (``n_neighbors``) and :meth:`route` use it.
    max_pool_size : int or None, default=smoothie_core.defaults.DEFAULT_MAX_POOL_SIZE
    prices : dict of str to float or None
        Cost per call of each candidate (any unit). With ``cost_tradeoff > 0``, route
        mode picks the highest ``weight - cost_tradeoff * price / max(prices)``
        (:func:`smoothie_core.cost.cost_scores`); an abstained decision (see
        ``abstain_below``) keeps its fallback. Select mode has already paid for every
        call and ignores prices.
    cost_tradeoff : float, default=0.0
    fallback_on_error : bool, default=True
        route mode: try the next-best candidate when the chosen one fails.
    model_name : str, default="smoothie-router"
        Reported as ``ls_model_name`` in traces.
    temperature, max_tokens : optional
        Forwarded to every candidate whose class has a field of that name (e.g.
        ``ChatOpenAI``, ``ChatAnthropic``; ``ChatOllama`` takes ``temperature`` but
        calls its limit ``num_predict``), on a per-call copy; other candidates keep
        their own settings. None: each candidate's own setting.
    stop : list of str or None
        Passed to every candidate call (call-time ``stop`` overrides it).
    streaming : bool
        The standard LangChain switch (route mode streams the winner's tokens).

    Examples
    --------
    >>> from langchain_smoothie import ScriptedChatModel, SmoothieRouter
    >>> from smoothie_core import HashingEmbedder
    >>> models = [
    ...     ScriptedChatModel(model_name="a", default_answer="Paris is the capital of France."),
    ...     ScriptedChatModel(model_name="b", default_answer="The capital of France is Paris."),
    ...     ScriptedChatModel(model_name="c", default_answer="Bananas are rich in potassium."),
    ... ]
    >>> router = SmoothieRouter(models=models, embedder=HashingEmbedder())
    >>> message = router.invoke("What is the capital of France?")
    >>> message.response_metadata["smoothie"]["selected"] in {"a", "b"}
    True
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)
    _CANDIDATES: ClassVar[str] = "models"

    models: dict[str, BaseChatModel]
    model_name: str = Field(default="smoothie-router", alias="model")
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    streaming: bool = False

    # ------------------------------------------------------------ validation
    @field_validator("models", mode="before")
    @classmethod
    def _normalize_models(cls, value: Any) -> dict[str, BaseChatModel]:
        return normalize_models(value)

    # ------------------------------------------------------------ properties
    @property
    def candidate_names(self) -> list[str]:
        """Candidate names, in order."""
        return list(self.models)

    @property
    def forwarded_settings(self) -> dict[str, Any]:
        """Router-level settings set on candidates that accept them (None: not set)."""
        return {name: getattr(self, name) for name in FORWARDED_SETTINGS}

    def _candidates_as_judges(self) -> dict[str, BaseChatModel]:
        return self.models  # chat models can grade: judges=None asks them

    def _judge_settings(self) -> dict[str, Any]:
        return self.forwarded_settings  # judges get temperature/max_tokens as candidates do

    @property
    def _llm_type(self) -> str:
        return "smoothie-router"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "mode": self.mode,
            "candidates": self.candidate_names,
            "n_neighbors": self.n_neighbors,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="smoothie",
            ls_model_name=kwargs.get("model", self.model_name),
            ls_model_type="chat",
        )
        if self.temperature is not None:
            params["ls_temperature"] = kwargs.get("temperature", self.temperature)
        if self.max_tokens is not None:
            params["ls_max_tokens"] = kwargs.get("max_tokens", self.max_tokens)
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    def _fit_request(
        self, value: Any, index: int, *, templated: bool, config: RunnableConfig | None
    ) -> ChatRequest:
        if not templated and isinstance(value, Mapping):
            raise TypeError(
                f"prompts[{index}] is a dict ({sorted(value)!r}); pass the prompt template your "
                "chain puts before the router as `prompt=` to format it, e.g. "
                "router.fit(inputs, prompt=template)."
            )
        try:
            messages = self._convert_input(value).to_messages()
        except ValueError as exc:
            raise TypeError(
                f"prompts[{index}] must be what the router's `invoke` accepts (str, messages, a "
                f"PromptValue){' after `prompt`' if templated else ''}; got "
                f"{type(value).__name__}: {exc}"
            ) from exc
        return ChatRequest(self, messages, text=input_text(messages), config=config)

    # ---------------------------------------------------------- token counts
    def get_num_tokens(self, text: str) -> int:
        """The largest of the candidates' counts for ``text``.

        The router sends the same text to whichever candidate it picks (every one, in
        select mode), so the largest count is the one that must fit; each candidate
        counts with its own tokenizer.
        """
        return max(model.get_num_tokens(text) for model in self.models.values())

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """The largest of the candidates' counts for ``messages`` (see :meth:`get_num_tokens`)."""
        extra = {"tools": tools} if tools is not None else {}
        return max(
            model.get_num_tokens_from_messages(messages, **extra) for model in self.models.values()
        )

    # ----------------------------------------------------------------- tools
    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind ``tools`` on every candidate (each through its own ``bind_tools``).

        Tools are converted to the OpenAI tool format, which every LangChain provider
        accepts. ``with_structured_output`` (inherited from ``BaseChatModel``) goes
        through this method, i.e. function calling on every candidate; its ``method``
        argument is ignored. In select mode candidates are compared on a text rendering
        of their tool calls (:func:`langchain_smoothie._render.answer_text`).

        Raises
        ------
        NotImplementedError
            If a candidate's class does not implement ``bind_tools``.
        """
        unsupported = [
            n for n, m in self.models.items() if type(m).bind_tools is BaseChatModel.bind_tools
        ]
        if unsupported:
            raise NotImplementedError(
                f"bind_tools/with_structured_output need every candidate to support tool "
                f"calling; {unsupported} do not (their class does not implement bind_tools). "
                "Use candidates with tool calling, or route without tools."
            )
        if tool_choice is not None:
            no_choice = [
                n
                for n, m in self.models.items()
                if "tool_choice" not in inspect.signature(m.bind_tools).parameters
            ]
            if no_choice:
                raise NotImplementedError(
                    f"`tool_choice` was given but {no_choice} do not accept it in bind_tools."
                )
        formatted = [convert_to_openai_tool(t) for t in tools]
        extra = {"tool_choice": tool_choice} if tool_choice is not None else {}
        return self.bind(tools=formatted, **extra, **kwargs)

    # -------------------------------------------------------------- decisions
    def route(self, input: LanguageModelInput) -> Decision:
        """The candidate route mode would call for ``input``, without calling any model.

        Needs a calibration (:meth:`fit`/:meth:`load`) or a select-mode pool. The
        returned :class:`smoothie_core.Decision` has the cost-aware choice in
        ``selected`` and the quality weights in ``weights``.
        """
        return _route.decide(self, input_text(self._convert_input(input).to_messages()))[0]

    def as_decision_runnable(self) -> Runnable[LanguageModelInput, dict[str, Any]]:
        """A runnable mapping an input to its route decision (``Decision.to_dict()``)."""
        return RunnableLambda(lambda x: self.route(x).to_dict(), name="SmoothieDecision")

    # ----------------------------------------------------- BaseChatModel hooks
    def _should_stream(
        self,
        *,
        async_api: bool,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> bool:
        # Inside invoke/generate (a run manager is open), LangChain would call _stream
        # *without* that run manager, so candidates could not nest under the router's
        # run nor the decision event reach it. _generate streams itself instead, with
        # the run manager in hand (see _wants_tokens), as langchain-ollama's does.
        if run_manager is not None:
            return False
        return super()._should_stream(async_api=async_api, **kwargs)

    def _wants_tokens(
        self,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
        kwargs: Mapping[str, Any],
        *,
        async_api: bool,
    ) -> bool:
        """Whether the caller of invoke wants tokens (a stream handler is attached)."""
        return run_manager is not None and super()._should_stream(
            async_api=async_api, run_manager=run_manager, **kwargs
        )

    def _request(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: Mapping[str, Any],
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
    ) -> ChatRequest:
        """This call's input, as the shared engine reaches the candidates with it."""
        return ChatRequest(
            self, messages, text=input_text(messages), stop=stop, kwargs=kwargs,
            run_manager=run_manager,
        )  # fmt: skip

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tokens = self._wants_tokens(run_manager, kwargs, async_api=False)
        if self.mode == "select":
            message = _select.generate(self, self._request(messages, stop, kwargs, run_manager))
            if tokens and run_manager is not None:
                chunk = _token_chunk(message, run_manager)
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            return ChatResult(generations=[ChatGeneration(message=message)])
        request = self._request(messages, stop, kwargs, run_manager)
        chain = _route.Chain(self, request, _route.decide(self, request.text))
        if not tokens or run_manager is None:
            return chain.generate()
        chunks = []
        for chunk in chain.stream():
            if chunk.message.id is None:
                chunk.message.id = f"{LC_ID_PREFIX}{run_manager.run_id}"
            run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            chunks.append(chunk)
        return generate_from_stream(iter(chunks))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tokens = self._wants_tokens(run_manager, kwargs, async_api=True)
        if self.mode == "select":
            request = self._request(messages, stop, kwargs, run_manager)
            message = await _select.agenerate(self, request)
            if tokens and run_manager is not None:
                chunk = _token_chunk(message, run_manager)
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            return ChatResult(generations=[ChatGeneration(message=message)])
        request = self._request(messages, stop, kwargs, run_manager)
        chain = _route.Chain(self, request, await to_thread(_route.decide, self, request.text))
        if not tokens or run_manager is None:
            return await chain.agenerate()
        chunks = []
        async for chunk in chain.astream():
            if chunk.message.id is None:
                chunk.message.id = f"{LC_ID_PREFIX}{run_manager.run_id}"
            await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            chunks.append(chunk)
        return generate_from_stream(iter(chunks))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        manager = stream_run_manager(run_manager, async_api=False)
        assert manager is None or isinstance(manager, CallbackManagerForLLMRun)
        request = self._request(messages, stop, kwargs, manager)
        if self.mode == "select":
            message = _select.generate(self, request)
            yield ChatGenerationChunk(message=as_chunk(message))
            return
        yield from _route.Chain(self, request, _route.decide(self, request.text)).stream()

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        manager = stream_run_manager(run_manager, async_api=True)
        assert manager is None or isinstance(manager, AsyncCallbackManagerForLLMRun)
        request = self._request(messages, stop, kwargs, manager)
        if self.mode == "select":
            message = await _select.agenerate(self, request)
            yield ChatGenerationChunk(message=as_chunk(message))
            return
        decided = await to_thread(_route.decide, self, request.text)
        async for chunk in _route.Chain(self, request, decided).astream():
            yield chunk

    def _open_run(
        self, config: RunnableConfig | None, *, async_api: bool
    ) -> tuple[RunnableConfig, uuid.UUID, CallbackManager | AsyncCallbackManager]:
        """The run a ``stream`` call is about to open: its id (chosen here) and its
        callback manager, configured once and handed to ``BaseChatModel.stream`` as the
        config's callbacks, so both use the very same handlers (a tracer created by the
        configuration, e.g. LangSmith's from environment variables, then sees the
        router's run and the candidates' runs under it)."""
        config = ensure_config(config)
        run_id = config.get("run_id") or uuid.uuid4()
        cls = AsyncCallbackManager if async_api else CallbackManager
        manager = cls.configure(
            config.get("callbacks"),
            self.callbacks,
            self.verbose,
            config.get("tags"),
            self.tags,
            config.get("metadata"),
            self.metadata,
        )
        return {**config, "run_id": run_id, "callbacks": manager}, run_id, manager

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        """Stream the answer: the winner's tokens in route mode, one chunk in select mode.

        Select mode needs every answer before it can choose, so it yields the chosen
        answer as one final chunk; the candidates run as child runs of the router's run
        and never stream. In route mode the first chunk carries the decision in
        ``response_metadata["smoothie"]``. In both, the ``smoothie_decision`` event is
        sent on the router's run before the first chunk.
        """
        config, run_id, manager = self._open_run(config, async_api=False)
        chunks = super().stream(input, config, stop=stop, **kwargs)
        with opened_run(run_id, manager):  # LangChain starts _stream on the first next()
            first = next(chunks, None)
        if first is not None:
            yield first
            yield from chunks

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        """Async :meth:`stream`."""
        config, run_id, manager = self._open_run(config, async_api=True)
        chunks = super().astream(input, config, stop=stop, **kwargs)
        with opened_run(run_id, manager):
            first = await anext(chunks, None)
        if first is not None:
            yield first
            async for chunk in chunks:
                yield chunk

    # ------------------------------------------------------------ calibration
    def fit(
        self,
        prompts: Sequence[Any],
        *,
        prompt: Runnable[Any, Any] | None = None,
        config: RunnableConfig | None = None,
        show_progress: bool = True,
    ) -> Self:
        """Calibrate on unlabeled ``prompts``: run every candidate on each, then fit Smoothie.

        ``prompts`` are what ``invoke`` accepts (str, messages, a ``PromptValue``), or,
        with ``prompt=``, that template's inputs (the dicts a ``prompt | router`` chain
        is invoked with). Calls run through the router's call policy
        (``max_concurrency``, ``timeout``, ``max_retries``) with a progress bar. A
        failing call (or an empty answer) is recorded in :attr:`calibration_errors_` and its
        prompt is left out of the calibration (:attr:`calibration_report_`), never fatal
        unless no prompt has every answer. Also gives select mode a pool for
        Smoothie-Local. Returns ``self``.

        Examples
        --------
        >>> from langchain_core.prompts import ChatPromptTemplate
        >>> from langchain_smoothie import ScriptedChatModel, SmoothieRouter
        >>> from smoothie_core import HashingEmbedder
        >>> models = [ScriptedChatModel(model_name=n, default_answer=f"Answer {n}") for n in "abc"]
        >>> router = SmoothieRouter(models=models, mode="route", embedder=HashingEmbedder())
        >>> template = ChatPromptTemplate.from_messages([("human", "Capital of {country}?")])
        >>> router = router.fit([{"country": "France"}, {"country": "Peru"}], prompt=template,
        ...                     show_progress=False)
        >>> router.calibration_report_.n_used
        2
        """
        _fit.fit(self, prompts, prompt=prompt, config=config, show_progress=show_progress)
        return self

    async def afit(
        self,
        prompts: Sequence[Any],
        *,
        prompt: Runnable[Any, Any] | None = None,
        config: RunnableConfig | None = None,
        show_progress: bool = True,
    ) -> Self:
        """Async :meth:`fit`."""
        await _fit.afit(self, prompts, prompt=prompt, config=config, show_progress=show_progress)
        return self

    # ------------------------------------------------------------ persistence
    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        models: Any,
        embedder: Any = None,
        **kwargs: Any,
    ) -> SmoothieRouter:
        """A route-mode router (unless ``mode`` is given) with the calibration saved at ``path``.

        ``models`` must have the saved candidate names, in the saved order, and
        ``embedder`` the saved embedder's ``id`` (default: the offline MiniLM);
        otherwise a ``ValueError`` says what differs. The saved ``n_neighbors``,
        ``max_pool_size``, ``default`` and ``abstain_below`` are used unless given here
        (e.g. ``n_neighbors=3`` to average fewer calibration prompts).
        """
        return cls._load(path, normalize_models(models), embedder, kwargs)
