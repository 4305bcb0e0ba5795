"""``SmoothieQueryEngine``: ask every query engine, return the answer Smoothie scores best.

This is Smoothie's select mode (the paper's test-time regime): each query costs one
call per engine, and the answers themselves are compared, so no calibration is needed.
With ``n_neighbors=k`` and a pool of earlier queries (``update_pool=True``, or a
router loaded from a calibration), the ``k - 1`` nearest pooled queries join the
current query's statistic (Smoothie-Local).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.response.schema import RESPONSE_TYPE
from llama_index.core.callbacks.base import CallbackManager
from llama_index.core.callbacks.schema import CBEventType, EventPayload
from llama_index.core.prompts.mixin import PromptMixinType
from llama_index.core.schema import QueryBundle
from llama_index.core.settings import Settings
from llama_index.core.tools.query_engine import QueryEngineTool

from llamaindex_smoothie._common import unique_names
from llamaindex_smoothie._runner import acall_all, call_all
from llamaindex_smoothie._texts import Answered, asettle_response, settle_response
from llamaindex_smoothie.embeddings import as_embedder
from llamaindex_smoothie.events import emit_decision
from llamaindex_smoothie.selector import result_from_decision
from smoothie_core.embedders import Embedder
from smoothie_core.router import Decision, Router

__all__ = ["SmoothieQueryEngine"]


class SmoothieQueryEngine(BaseQueryEngine):
    """Query all engines concurrently and return the best answer by Smoothie (select mode).

    The returned response is the selected engine's own ``Response`` (its text and
    source nodes) with two metadata keys added, as ``RouterQueryEngine`` does:
    ``metadata["smoothie"]`` (the :class:`smoothie_core.Decision` as a dict: selected,
    weights, failed, errors, ... plus ``answers``, every engine's text) and
    ``metadata["selector_result"]`` (a :class:`SmoothieSelectorResult`). A failing
    or timed-out engine is recorded and the others' answers are still scored.

    Parameters
    ----------
    query_engine_tools : sequence of QueryEngineTool
        At least 3, with distinct names.
    embedder : Embedder or BaseEmbedding, optional
        Default: the offline all-MiniLM-L6-v2.
    n_neighbors : int or None
        None or 1: score each query's answers on their own; ``k > 1``: Smoothie-Local
        over the pool.
    update_pool : bool, default=False
        Add each fully answered query to the pool.
    max_pool_size : int or None
    default : str or None
        Engine chosen when the answers carry no information (all identical).
    timeout : float or None
        Seconds to wait for each engine (a late engine counts as failed).
    router : smoothie_core.Router, optional
        Use this router (e.g. a loaded calibration) instead of building one; its
        candidates must be the tool names.

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

    def __init__(
        self,
        query_engine_tools: Sequence[QueryEngineTool],
        *,
        embedder: Embedder | BaseEmbedding | None = None,
        n_neighbors: int | None = None,
        update_pool: bool = False,
        max_pool_size: int | None = None,
        default: str | None = None,
        timeout: float | None = None,
        router: Router | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        tools = list(query_engine_tools)
        names = unique_names([t.metadata.name for t in tools], "query engine tool")
        if router is None:
            router = Router(
                names,
                embedder=as_embedder(embedder),
                n_neighbors=n_neighbors,
                max_pool_size=max_pool_size,
                default=default,
            )
        elif list(router.candidates) != names:
            raise ValueError(
                f"`router` candidates {router.candidates} must equal the tool names {names} "
                "(same order)."
            )
        self._names = names
        self._engines = {n: t.query_engine for n, t in zip(names, tools, strict=True)}
        self._metadatas = [t.metadata for t in tools]
        self._router = router
        self._update_pool = update_pool
        self._timeout = timeout
        self._lock = threading.Lock()  # the pool may grow (update_pool); one select at a time
        super().__init__(callback_manager=callback_manager or Settings.callback_manager)

    @property
    def router(self) -> Router:
        """The underlying :class:`smoothie_core.Router` (its pool grows with ``update_pool``)."""
        return self._router

    def _get_prompt_modules(self) -> PromptMixinType:
        """Get prompt sub-modules (the engines' own prompts are not exposed, as in RouterQueryEngine)."""
        return {}

    def _select(
        self,
        query: str,
        answers: dict[str, str | None],
        *,
        errors: dict[str, str],
        update_pool: bool,
    ) -> Decision:
        with self._lock:
            return self._router.select(query, answers, errors=errors, update_pool=update_pool)

    def _finish(
        self,
        query: str,
        responses: dict[str, Answered],
        texts: dict[str, str],
        errors: dict[str, str],
    ) -> RESPONSE_TYPE:
        if not responses:
            raise RuntimeError(f"Every query engine failed on {query!r}; errors: {errors}.")
        decision = self._select(
            query,
            {n: texts.get(n) for n in self._names},
            errors=errors,
            update_pool=self._update_pool,
        )
        return self._annotate(query, decision, responses, texts)

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
                return settle_response(self._engines[name].query(query_bundle))

            results, errors = call_all(self._names, ask, timeout=self._timeout)
            response = self._finish(
                query_bundle.query_str,
                {n: r[0] for n, r in results.items()},
                {n: r[1] for n, r in results.items()},
                errors,
            )
            query_event.on_end(payload={EventPayload.RESPONSE: response})
        return response

    async def _aquery(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        with self.callback_manager.event(
            CBEventType.QUERY, payload={EventPayload.QUERY_STR: query_bundle.query_str}
        ) as query_event:

            async def ask(name: str) -> tuple[Answered, str]:
                return await asettle_response(await self._engines[name].aquery(query_bundle))

            results, errors = await acall_all(self._names, ask, timeout=self._timeout)
            texts = {n: r[1] for n, r in results.items()}
            if not results:
                raise RuntimeError(
                    f"Every query engine failed on {query_bundle.query_str!r}; errors: {errors}."
                )
            decision = await asyncio.to_thread(
                self._select,
                query_bundle.query_str,
                {n: texts.get(n) for n in self._names},
                errors=errors,
                update_pool=self._update_pool,
            )
            response = self._annotate(
                query_bundle.query_str, decision, {n: r[0] for n, r in results.items()}, texts
            )
            query_event.on_end(payload={EventPayload.RESPONSE: response})
        return response
