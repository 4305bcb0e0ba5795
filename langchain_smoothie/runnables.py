"""``SmoothieRunnable``: route across any runnables, label-free (e.g. one model, several prompts).

``SmoothieRouter``'s candidates are chat models; here they are any runnables whose
output is a message or a str (``prompt | llm``, ``prompt | llm | parser``, a RAG chain,
an agent's final answer), all taking the same input. The paper's multi-prompt setting
(one model under several prompt templates, the best prompt chosen per input without
labels) is :meth:`SmoothieRunnable.from_prompts`.

The Smoothie options, the core router, calibration and persistence are shared with
``SmoothieRouter`` (``_base``), and so is the engine (``_select``, ``_route``, ``_fit``,
calling candidates through :mod:`smoothie_core.orchestration`); the candidates are
reached through ``_adapters.RunnableRequest``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self

from langchain_core.callbacks import (
    AsyncCallbackManagerForChainRun,
    CallbackManagerForChainRun,
)
from langchain_core.prompts import BasePromptTemplate, ChatPromptTemplate
from langchain_core.runnables import (
    Runnable,
    RunnableConfig,
    RunnableLambda,
    RunnableSerializable,
)
from langchain_core.utils.pydantic import TypeBaseModel
from pydantic import Field, field_validator

from langchain_smoothie import _fit, _route, _select
from langchain_smoothie._adapters import RunnableRequest, as_output_chunk
from langchain_smoothie._base import SmoothieBase
from langchain_smoothie._render import runnable_input_text
from smoothie_core import Decision
from smoothie_core._validation import check_candidate_names
from smoothie_core.orchestration import to_thread

__all__ = ["SmoothieRunnable"]

#: What ``input_text=`` may be: a function of the input, or a runnable (e.g. a prompt
#: template) whose output (a str, a message, messages or a prompt value) is rendered.
InputText = Callable[[Any], str] | Runnable[Any, Any]


def normalize_candidates(value: Any) -> dict[str, Runnable[Any, Any]]:
    """Candidates as an ordered dict name -> runnable (a plain function becomes a
    ``RunnableLambda``); names checked by :mod:`smoothie_core` (unique, non-empty, >= 3)."""
    if not isinstance(value, Mapping):
        raise ValueError(
            "`candidates` must be a dict name -> runnable (e.g. {'terse': prompt_a | llm, "
            f"'stepwise': prompt_b | llm, 'rag': rag_chain}}); got {type(value).__name__}."
        )
    out: dict[str, Runnable[Any, Any]] = {}
    for name, runnable in value.items():
        if isinstance(runnable, Runnable):
            out[name] = runnable
        elif callable(runnable):
            out[name] = RunnableLambda(runnable)
        else:
            raise ValueError(
                f"candidates[{name!r}] must be a Runnable (or a function); got "
                f"{type(runnable).__name__}."
            )
    check_candidate_names(list(out), len(out), what="candidate names")
    return out


async def _one(value: Any) -> AsyncIterator[Any]:
    yield value


def _only(inputs: Iterator[Any]) -> Any:
    """The input of a stream call (``stream`` hands one; ``transform`` adds chunks up)."""
    final: Any = None
    for i, chunk in enumerate(inputs):
        final = chunk if i == 0 else final + chunk
    return final


class SmoothieRunnable(SmoothieBase, RunnableSerializable[Any, Any]):
    """A runnable that answers with the best of several candidate runnables, label-free.

    The candidates take the same input (whatever it is: a dict for prompt templates, a
    str, messages) and return a message or a str. The options, modes, failure handling,
    callbacks and persistence are ``SmoothieRouter``'s (the same code runs both):

    **select mode** invokes every candidate concurrently as child runs of this run,
    tagged ``smoothie:candidate`` and ``nostream`` (the tags are inherited by the runs
    inside a candidate, so LangGraph's ``stream_mode="messages"`` skips a candidate's
    model and ``astream_events(..., exclude_tags=["smoothie:candidate"])`` hides its
    events), embeds the answers and returns the best one. A candidate that raises,
    times out, returns something other than a message or a str, or answers with empty
    text (after ``max_retries`` retries) is recorded in ``failed``/``errors``; with no
    answer at all, :class:`~smoothie_core.exceptions.AllCandidatesFailedError`.

    **route mode** needs :meth:`fit` (or :meth:`load`): the input's nearest
    calibration inputs give the candidates' weights and only the winner is called, as a
    child run tagged ``smoothie:candidate`` (it streams: ``stream`` yields its chunks).
    If it fails before answering (before its first chunk, when streaming), the next-best
    candidate is tried (``fallback_on_error``).

    **Where the decision goes.** The output is the chosen candidate's own output. A
    message (``AIMessage`` for ``prompt | chat_model``) carries the decision in
    ``response_metadata["smoothie"]`` (in a stream, on the first chunk), as
    ``SmoothieRouter``'s answers do; its ``usage_metadata`` is the candidate's own (the
    candidate's model run reported it; this run is a chain run, which usage callbacks do
    not count). A str cannot carry it: the decision is always sent as the custom
    callback event ``"smoothie_decision"`` on this run (``astream_events``, callback
    handlers), and ``include_decision=True`` makes the output
    ``{"output": <the answer>, "smoothie": <the decision>}`` for any output type.
    :meth:`route` returns the route decision without calling anything.

    **The text Smoothie routes on** (neighbours in route mode and Smoothie-Local, the
    input given to the scorer) comes from ``input_text``: by default a str as it is,
    messages or a prompt value as ``SmoothieRouter`` renders them (the latest human
    message), a dict as its values joined by newlines (a message value by its text,
    other values as JSON). Pass ``input_text=`` a function of the input returning a
    str, or a runnable such as a prompt template (its output is rendered the same way,
    e.g. ``input_text=PromptTemplate.from_template("{question}")``).

    Parameters
    ----------
    candidates : dict of str to Runnable
        At least 3 runnables by name (plain functions become ``RunnableLambda``).
    mode : {"select", "route"}, default="select"
    input_text : callable or Runnable or None
        See above.
    include_decision : bool, default=False
        Return ``{"output": answer, "smoothie": decision}`` (stream: the first chunk
        carries ``"smoothie"``, every chunk ``"output"``).
    judges : list or dict, or None
        ``scorer="peer_review"`` only: the chat models that grade the candidates'
        answers (as ``SmoothieRouter``'s ``judges``; each call a child run of this run
        named ``judge:<name>``, tagged ``smoothie:judge`` and ``nostream``). Required
        with ``scorer="peer_review"``: runnable candidates cannot grade each other (a
        prompt or chain would wrap the grading prompt), so ``judges=None`` is an error.
    max_judge_calls : int or None
        ``scorer="peer_review"`` only: judge calls per input at most (None: every judge).
    scorer, n_neighbors, embedder, router, max_concurrency, timeout, max_retries, \
default, abstain_below, update_pool, max_pool_size, prices, cost_tradeoff, \
fallback_on_error
        As for :class:`~langchain_smoothie.SmoothieRouter`, with the same defaults
        (:mod:`smoothie_core.defaults`). A candidate's own settings (temperature, stop
        sequences, max tokens) are set on it: nothing is forwarded.

    Examples
    --------
    >>> from langchain_core.runnables import RunnableLambda
    >>> from langchain_smoothie import SmoothieRunnable
    >>> from smoothie_core import HashingEmbedder
    >>> runnable = SmoothieRunnable(
    ...     candidates={
    ...         "a": RunnableLambda(lambda q: "Paris is the capital of France."),
    ...         "b": RunnableLambda(lambda q: "The capital of France is Paris."),
    ...         "c": RunnableLambda(lambda q: "Bananas are rich in potassium."),
    ...     },
    ...     embedder=HashingEmbedder(),
    ...     include_decision=True,
    ... )
    >>> out = runnable.invoke("What is the capital of France?")
    >>> out["output"], out["smoothie"]["selected"] in {"a", "b"}
    ('Paris is the capital of France.', True)
    """

    _CANDIDATES: ClassVar[str] = "candidates"
    _VARIABLE: ClassVar[str] = "runnable"

    candidates: dict[str, Runnable[Any, Any]]
    input_text: InputText | None = Field(default=None, exclude=True)
    include_decision: bool = False

    @field_validator("candidates", mode="before")
    @classmethod
    def _normalize_candidates(cls, value: Any) -> dict[str, Runnable[Any, Any]]:
        return normalize_candidates(value)

    @field_validator("input_text", mode="before")
    @classmethod
    def _check_input_text(cls, value: Any) -> Any:
        if value is not None and not callable(value) and not isinstance(value, Runnable):
            raise ValueError(
                "`input_text` must be None, a function input -> str or a Runnable (e.g. a "
                f"prompt template); got {type(value).__name__}."
            )
        return value

    @classmethod
    def from_prompts(
        cls,
        llm: Runnable[Any, Any],
        prompts: Mapping[str, str | BasePromptTemplate],
        **kwargs: Any,
    ) -> SmoothieRunnable:
        """One model under several prompt templates: a candidate ``template | llm`` each.

        The paper's multi-prompt setting: Smoothie picks, per input and without labels,
        the prompt whose answer to expect to be best. The runnable is invoked with the
        templates' input (a dict); a str template becomes
        ``ChatPromptTemplate.from_template`` (one human message). In route mode, after
        :meth:`fit` on unlabeled inputs, each call formats the chosen template and calls
        ``llm`` once; the output is ``llm``'s (an ``AIMessage`` for a chat model, with
        the decision in ``response_metadata["smoothie"]``).

        Parameters
        ----------
        llm : Runnable
            The model (a chat model, or any runnable taking the templates' output).
        prompts : dict of str to str or prompt template
            At least 3 templates by name, taking the same input variables.
        **kwargs
            Any other :class:`SmoothieRunnable` parameter (``mode``, ``embedder``, ...).

        Examples
        --------
        >>> from langchain_smoothie import ScriptedChatModel, SmoothieRunnable
        >>> from smoothie_core import HashingEmbedder
        >>> llm = ScriptedChatModel(answers={"briefly": "Paris.", "steps": "It is Paris.",
        ...                                  "explain": "Paris, the largest city."})
        >>> runnable = SmoothieRunnable.from_prompts(
        ...     llm,
        ...     {"terse": "Answer briefly: {question}",
        ...      "stepwise": "Think in steps, then answer: {question}",
        ...      "explained": "Answer, then explain: {question}"},
        ...     mode="route", embedder=HashingEmbedder())
        >>> runnable = runnable.fit([{"question": "Capital of France?"},
        ...                          {"question": "Capital of Peru?"}], show_progress=False)
        >>> calls = llm.call_count
        >>> message = runnable.invoke({"question": "Capital of Italy?"})
        >>> llm.call_count - calls, message.response_metadata["smoothie"]["mode"]
        (1, 'route')
        """
        if not isinstance(llm, Runnable):
            raise TypeError(
                f"`llm` must be a Runnable (a chat model or a chain); got {type(llm).__name__}."
            )
        if not isinstance(prompts, Mapping):
            raise TypeError(
                "`prompts` must be a dict name -> prompt template (or template str); got "
                f"{type(prompts).__name__}."
            )
        candidates: dict[str, Runnable[Any, Any]] = {}
        for name, template in prompts.items():
            if isinstance(template, str):
                template = ChatPromptTemplate.from_template(template)
            elif not isinstance(template, BasePromptTemplate):
                raise TypeError(
                    f"prompts[{name!r}] must be a prompt template or a str; got "
                    f"{type(template).__name__}."
                )
            candidates[name] = template | llm
        return cls(candidates=candidates, **kwargs)

    # ------------------------------------------------------------ properties
    @property
    def candidate_names(self) -> list[str]:
        """Candidate names, in order."""
        return list(self.candidates)

    @property
    def InputType(self) -> Any:
        return next(iter(self.candidates.values())).InputType

    def get_input_schema(self, config: RunnableConfig | None = None) -> TypeBaseModel:
        """The first candidate's input schema (every candidate takes the same input)."""
        return next(iter(self.candidates.values())).get_input_schema(config)

    def get_output_schema(self, config: RunnableConfig | None = None) -> TypeBaseModel:
        """The first candidate's output schema."""
        return next(iter(self.candidates.values())).get_output_schema(config)

    # --------------------------------------------------------------- texts
    def text_of(self, input: Any) -> str:
        """The text Smoothie routes on for ``input`` (see ``input_text`` above).

        Examples
        --------
        >>> from langchain_smoothie import SmoothieRunnable
        >>> runnable = SmoothieRunnable(candidates={n: (lambda x: x) for n in "abc"})
        >>> runnable.text_of({"question": "Capital of France?", "style": "brief"})
        'Capital of France?\\nbrief'
        """
        how = self.input_text
        if how is None:
            return runnable_input_text(input)
        out = how.invoke(input) if isinstance(how, Runnable) else how(input)
        if isinstance(how, Runnable) and not isinstance(out, str):
            return runnable_input_text(out)  # a prompt value, messages, ...
        if not isinstance(out, str):
            raise TypeError(f"`input_text` must return a str; got {type(out).__name__}.")
        return out

    def _request(
        self,
        input: Any,
        run_manager: CallbackManagerForChainRun | AsyncCallbackManagerForChainRun | None,
        config: RunnableConfig | None,
        kwargs: Mapping[str, Any],
    ) -> RunnableRequest:
        return RunnableRequest(
            self, input, text=self.text_of(input), kwargs=kwargs, run_manager=run_manager,
            config=config,
        )  # fmt: skip

    def _fit_request(
        self, value: Any, index: int, *, templated: bool, config: RunnableConfig | None
    ) -> RunnableRequest:
        try:
            text = self.text_of(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"inputs[{index}]: {exc}") from exc
        return RunnableRequest(self, value, text=text, config=config)

    # ------------------------------------------------------------- decisions
    def route(self, input: Any) -> Decision:
        """The candidate route mode would call for ``input``, without calling any.

        Needs a calibration (:meth:`fit`/:meth:`load`) or a select-mode pool.
        """
        return _route.decide(self, self.text_of(input))[0]

    def as_decision_runnable(self) -> Runnable[Any, dict[str, Any]]:
        """A runnable mapping an input to its route decision (``Decision.to_dict()``)."""
        return RunnableLambda(lambda x: self.route(x).to_dict(), name="SmoothieDecision")

    # --------------------------------------------------------------- running
    def _invoke(
        self,
        input: Any,
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> Any:
        request = self._request(input, run_manager, config, kwargs)
        if self.mode == "select":
            return _select.generate(self, request)
        return _route.Chain(self, request, _route.decide(self, request.text)).generate()

    async def _ainvoke(
        self,
        input: Any,
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> Any:
        request = self._request(input, run_manager, config, kwargs)
        if self.mode == "select":
            return await _select.agenerate(self, request)
        decided = await to_thread(_route.decide, self, request.text)
        return await _route.Chain(self, request, decided).agenerate()

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """The best candidate's output (select mode) or the chosen candidate's (route)."""
        return self._call_with_config(self._invoke, input, config, **kwargs)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Async :meth:`invoke`."""
        return await self._acall_with_config(self._ainvoke, input, config, **kwargs)

    def _transform(
        self,
        inputs: Iterator[Any],
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> Iterator[Any]:
        request = self._request(_only(inputs), run_manager, config, kwargs)
        if self.mode == "select":
            yield as_output_chunk(_select.generate(self, request))
            return
        yield from _route.Chain(self, request, _route.decide(self, request.text)).stream()

    async def _atransform(
        self,
        inputs: AsyncIterator[Any],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        final: Any = None
        first = True
        async for chunk in inputs:
            final, first = (chunk if first else final + chunk), False
        request = self._request(final, run_manager, config, kwargs)
        if self.mode == "select":
            yield as_output_chunk(await _select.agenerate(self, request))
            return
        decided = await to_thread(_route.decide, self, request.text)
        async for chunk in _route.Chain(self, request, decided).astream():
            yield chunk

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """Stream the answer: the winner's chunks in route mode, one chunk in select mode.

        Select mode needs every answer before it can choose, so it yields the chosen
        answer as one chunk (an ``AIMessage`` as an ``AIMessageChunk``). In route mode
        the first chunk carries the decision when it is a message chunk. In both, the
        ``smoothie_decision`` event is sent on this run before the first chunk.
        """
        yield from self._transform_stream_with_config(
            iter([input]), self._transform, config, **kwargs
        )

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Async :meth:`stream`."""
        async for chunk in self._atransform_stream_with_config(
            _one(input), self._atransform, config, **kwargs
        ):
            yield chunk

    # ------------------------------------------------------------ calibration
    def fit(
        self,
        inputs: Sequence[Any],
        *,
        prompt: Runnable[Any, Any] | None = None,
        config: RunnableConfig | None = None,
        show_progress: bool = True,
    ) -> Self:
        """Calibrate on unlabeled ``inputs``: run every candidate on each, then fit Smoothie.

        ``inputs`` are what the candidates take (the dicts of a ``from_prompts``
        runnable), or, with ``prompt=``, that runnable's inputs. Calls run through the
        call policy (``max_concurrency``, ``timeout``, ``max_retries``) with a progress
        bar, each a run of its own named after its candidate. A failing call (or an
        empty answer) is recorded in :attr:`calibration_errors_` and its input left out
        of the calibration (:attr:`calibration_report_`). Also gives select mode a pool
        for Smoothie-Local. Returns ``self``.
        """
        _fit.fit(self, inputs, prompt=prompt, config=config, show_progress=show_progress)
        return self

    async def afit(
        self,
        inputs: Sequence[Any],
        *,
        prompt: Runnable[Any, Any] | None = None,
        config: RunnableConfig | None = None,
        show_progress: bool = True,
    ) -> Self:
        """Async :meth:`fit`."""
        await _fit.afit(self, inputs, prompt=prompt, config=config, show_progress=show_progress)
        return self

    # ------------------------------------------------------------ persistence
    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        candidates: Mapping[str, Any],
        embedder: Any = None,
        **kwargs: Any,
    ) -> SmoothieRunnable:
        """A route-mode runnable (unless ``mode`` is given) with the state saved at ``path``.

        ``candidates`` must have the saved names, in the saved order (e.g. the
        ``candidates`` of the runnable that was saved, or of
        ``SmoothieRunnable.from_prompts(llm, prompts)``), and ``embedder`` the saved
        embedder's ``id`` (default: the offline MiniLM). The saved ``n_neighbors``,
        ``max_pool_size``, ``default`` and ``abstain_below`` are used unless given here.
        """
        return cls._load(path, normalize_candidates(candidates), embedder, kwargs)
