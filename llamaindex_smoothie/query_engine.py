"""``SmoothieQueryEngine``: ask every query engine, return the answer Smoothie scores best.

This is Smoothie's select mode (the paper's test-time regime): each query costs one
call per engine, and the answers themselves are compared, so no calibration is needed.
With ``n_neighbors=k`` and a pool of earlier queries (``update_pool=True``, or a
router calibrated by a :class:`~llamaindex_smoothie.SmoothieSelector`), the ``k - 1``
nearest pooled queries join the current query's statistic (Smoothie-Local). Engines are
called through :mod:`smoothie_core.orchestration` (per-call timeout and retries,
bounded concurrency), like every other front door.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.response.schema import RESPONSE_TYPE
from llama_index.core.callbacks.base import CallbackManager
from llama_index.core.callbacks.schema import CBEventType, EventPayload
from llama_index.core.llms.llm import LLM
from llama_index.core.prompts.mixin import PromptMixinType
from llama_index.core.schema import QueryBundle
from llama_index.core.settings import Settings
from llama_index.core.tools.query_engine import QueryEngineTool

from llamaindex_smoothie._common import (
    NNeighbors,
    Options,
    check_names,
    options_of,
    require_text,
    router_level,
)
from llamaindex_smoothie._judges import check_judges_available, judging_for, name_judges
from llamaindex_smoothie._texts import Answered, asettle_response, settle_response
from llamaindex_smoothie.embeddings import as_embedder
from llamaindex_smoothie.events import emit_decision
from llamaindex_smoothie.selector import result_from_decision
from smoothie_core.defaults import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_POOL_SIZE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_N_NEIGHBORS,
    DEFAULT_TIMEOUT,
    DEFAULT_UPDATE_POOL,
)
from smoothie_core.embedders import Embedder
from smoothie_core.orchestration import CallResults, acall_each, call_each, to_thread
from smoothie_core.router import Decision, Router
from smoothie_core.scorers import Scorer, ScoringContext
from smoothie_core.scorers.peer import judge_options

__all__ = ["SmoothieQueryEngine"]


class SmoothieQueryEngine(BaseQueryEngine):
    """Query all engines concurrently and return the best answer by Smoothie (select mode).

    The returned response is the selected engine's own ``Response`` (its text and
    source nodes) with two metadata keys added, as ``RouterQueryEngine`` does:
    ``metadata["smoothie"]`` (the :class:`smoothie_core.Decision` as a dict: selected,
    weights, failed, errors, ... plus ``answers``, every engine's text) and
    ``metadata["selector_result"]`` (a :class:`SmoothieSelectorResult`). A failing,
    timed-out or empty-answering engine is recorded in ``failed``/``errors`` and the
    others' answers are still scored; when none answers,
    :class:`smoothie_core.exceptions.AllCandidatesFailedError` (a ``RuntimeError``).

    Parameters
    ----------
    query_engine_tools : sequence of QueryEngineTool
        At least 3, with distinct names.
    embedder : Embedder or BaseEmbedding, optional
        Default: the offline all-MiniLM-L6-v2.
    scorer : str or smoothie_core.scorers.Scorer, optional
        What compares the candidates' answers (``"consensus"``, ``"answer"``,
        ``"coverage"``, ...; :mod:`smoothie_core.scorers`). Default: the Router's,
        :data:`smoothie_core.defaults.DEFAULT_SCORER`.
    judges : mapping of str to LLM or sequence of LLM, optional
        Needed with ``scorer="peer_review"``: the LlamaIndex LLMs that grade the
        engines' answers (query engines cannot grade each other), named like
        ``SmoothieLLM``'s ``llms``. Each judge call is a ``chat`` (``achat`` in
        ``aquery``) in a ``smoothie_judge`` span under the query's span, with
        ``timeout``/``max_retries``/``max_concurrency``. See ``docs/peer_review.md``.
    max_judge_calls : int or None
        ``scorer="peer_review"`` only: judge calls per query at most (None: every judge).
    n_neighbors : int, None or "auto", default=smoothie_core.defaults.DEFAULT_N_NEIGHBORS
        None or 1: score each query's answers on their own (label-model scorers such as
        the default ``answer_coverage`` learn every engine's quality over the whole pool,
        Smoothie-Global, and decide this query's answers with it); ``k > 1``:
        Smoothie-Local over the pool; ``"auto"``: ``min(10, pool size + 1)``.
    update_pool : bool, default=smoothie_core.defaults.DEFAULT_UPDATE_POOL
        Add each scored query to the pool (bounded by ``max_pool_size``), so the router
        learns from traffic.
    max_pool_size : int or None, default=smoothie_core.defaults.DEFAULT_MAX_POOL_SIZE
    default : str or None
        Engine chosen when the answers carry no information (all identical), and the
        target of abstention.
    abstain_below : float or None
        Choose ``default`` (if it answered) when a decision's reliability score is
        below this (see :class:`smoothie_core.Router`).
    timeout : float or None, default=smoothie_core.defaults.DEFAULT_TIMEOUT
        Seconds one engine call may take (a late engine counts as failed).
    max_retries : int, default=smoothie_core.defaults.DEFAULT_MAX_RETRIES
        Further attempts after a failed engine call (an empty answer is not retried).
    max_concurrency : int, default=smoothie_core.defaults.DEFAULT_MAX_CONCURRENCY
        Engine calls in flight at once.
    router : smoothie_core.Router, optional
        Use this router (e.g. a selector's calibration) instead of building one; its
        candidates must be the tool names, and it carries its own ``scorer``,
        ``n_neighbors``, ``default``, ``abstain_below`` and ``max_pool_size``.

    Examples
    --------
    >>> from llama_index.core.query_engine import CustomQueryEngine
    >>> from llama_index.core.tools import QueryEngineTool
    >>> from smoothie_core import HashingEmbedder
    >>> class Fixed(CustomQueryEngine):
    ...     text: str
    ...     def custom_query(self, query_str: str) -> str:
    ...         return self.text
    >>> tools = [QueryEngineTool.from_defaults(Fixed(text=t), name=n, description=n)
    ...          for n, t in [("a", "Paris is the capital of France."),
    ...                       ("b", "The capital of France is Paris."),
    ...                       ("c", "I like turtles.")]]
    >>> engine = SmoothieQueryEngine(tools, embedder=HashingEmbedder())
    >>> response = engine.query("What is the capital of France?")
    >>> response.metadata["smoothie"]["selected"] in {"a", "b"}
    True
    """

    scorer: str | Scorer | None
    n_neighbors: NNeighbors
    default: str | None
    abstain_below: float | None
    max_pool_size: int | None
    judges: dict[str, LLM] | None
    max_judge_calls: int | None

    def __init__(
        self,
        query_engine_tools: Sequence[QueryEngineTool],
        *,
        embedder: Embedder | BaseEmbedding | None = None,
        scorer: str | Scorer | None = None,
        judges: Mapping[str, LLM] | Sequence[LLM] | None = None,
        max_judge_calls: int | None = None,
        n_neighbors: NNeighbors = DEFAULT_N_NEIGHBORS,  # type: ignore[assignment]
        update_pool: bool = DEFAULT_UPDATE_POOL,
        max_pool_size: int | None = DEFAULT_MAX_POOL_SIZE,
        default: str | None = None,
        abstain_below: float | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        router: Router | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        tools = list(query_engine_tools)
        names = check_names([t.metadata.name for t in tools], "query engine tool")
        if router is not None and list(router.candidates) != names:
            raise ValueError(
                f"`router` candidates {router.candidates} must equal the tool names {names} "
                "(same order)."
            )
        level = router_level(
            router,
            {
                "scorer": scorer,
                "n_neighbors": n_neighbors,
                "default": default,
                "abstain_below": abstain_below,
                "max_pool_size": max_pool_size,
            },
        )
        for name, value in level.items():
            setattr(self, name, value)
        self.update_pool = update_pool
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_concurrency = max_concurrency
        self.judges = name_judges(judges)
        self.max_judge_calls = max_judge_calls
        self._names = names
        options = self._options()  # validates every option now, with a clear message
        self._router = router if router is not None else options.new_router(as_embedder(embedder))
        check_judges_available(self._router.scorer, self.judges, type(self).__name__)
        self.max_judge_calls = judge_options(self._router.scorer)[1]  # a given router's own
        self._engines = {n: t.query_engine for n, t in zip(names, tools, strict=True)}
        self._metadatas = [t.metadata for t in tools]
        super().__init__(callback_manager=callback_manager or Settings.callback_manager)

    def _options(self) -> Options:
        return options_of(self, self._names)

    @property
    def judge_names(self) -> tuple[str, ...] | None:
        """Names of the ``judges`` (None: no judge LLMs)."""
        return None if self.judges is None else tuple(self.judges)

    @property
    def router(self) -> Router:
        """The underlying :class:`smoothie_core.Router` (its pool grows with ``update_pool``)."""
        return self._router

    def _get_prompt_modules(self) -> PromptMixinType:
        """Get prompt sub-modules (the engines' own prompts are not exposed, as in RouterQueryEngine)."""
        return {}

    def _decide(
        self,
        query: str,
        out: CallResults[str, tuple[Answered, str]],
        context: ScoringContext | None = None,
    ) -> RESPONSE_TYPE:
        """Score the answers that arrived and annotate the winner.

        The core :meth:`~smoothie_core.Router.select` counts empty answers as failed and
        raises :class:`~smoothie_core.exceptions.AllCandidatesFailedError` when none is left.
        """
        texts = {name: text for name, (_, text) in out.results.items()}
        decision = self._router.select(
            query,
            {n: texts.get(n) for n in self._names},
            errors=out.errors,
            update_pool=self.update_pool,
            context=context,
        )
        answered = {n: t for n, t in texts.items() if n not in decision.failed}
        responses = {n: out.results[n][0] for n in answered}
        return self._annotate(query, decision, responses, answered)

    def _annotate(
        self, query: str, decision: Decision, responses: dict[str, Answered], texts: dict[str, str]
    ) -> RESPONSE_TYPE:
        emit_decision(type(self).__name__, query, decision)
        response = responses[decision.selected]
        meta: dict[str, Any] = dict(response.metadata or {})
        meta["smoothie"] = {**decision.to_dict(), "answers": dict(texts)}
        meta["selector_result"] = result_from_decision(self._names, decision)
        response.metadata = meta
        return response

    def _query(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        with self.callback_manager.event(
            CBEventType.QUERY, payload={EventPayload.QUERY_STR: query_bundle.query_str}
        ) as query_event:

            def ask(name: str) -> tuple[Answered, str]:
                response, text = settle_response(self._engines[name].query(query_bundle))
                return response, require_text(text)

            policy = self._options().policy
            out = call_each(self._names, ask, policy)
            judging = judging_for(self.judges, None, policy)
            response = self._decide(query_bundle.query_str, out, judging)
            query_event.on_end(payload={EventPayload.RESPONSE: response})
        return response

    async def _aquery(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        with self.callback_manager.event(
            CBEventType.QUERY, payload={EventPayload.QUERY_STR: query_bundle.query_str}
        ) as query_event:

            async def ask(name: str) -> tuple[Answered, str]:
                response, text = await asettle_response(
                    await self._engines[name].aquery(query_bundle)
                )
                return response, require_text(text)

            policy = self._options().policy
            out = await acall_each(self._names, ask, policy)
            judging = judging_for(self.judges, None, policy, asyncio.get_running_loop())
            response = await to_thread(self._decide, query_bundle.query_str, out, judging)
            query_event.on_end(payload={EventPayload.RESPONSE: response})
        return response
