"""Route mode: Smoothie's calibrated weights pick one candidate; only it is called.

If the winner fails, the next-best candidate is tried (``fallback_on_error``), through
:func:`smoothie_core.orchestration.call_first` (per-attempt ``timeout`` and
``max_retries``; a streamed answer's ``timeout`` bounds the wait for its first chunk,
since a started stream cannot be restarted without repeating tokens). How the winner
is called is the :class:`~langchain_smoothie._adapters.Request`'s business
(``SmoothieRouter`` calls it inside its own run, ``SmoothieRunnable`` as a child run);
this module is shared by both. Sync and async share everything but the call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from langchain_smoothie._adapters import Request
from langchain_smoothie._callbacks import aemit, emit
from smoothie_core import Decision
from smoothie_core.cost import choose
from smoothie_core.orchestration import acall_first, call_first, fallback_order

if TYPE_CHECKING:
    from langchain_smoothie._base import SmoothieBase

__all__ = ["Chain", "decide"]


def decide(owner: SmoothieBase, text: str) -> tuple[Decision, dict[str, Any]]:
    """The route decision for ``text``, cost-aware when ``prices`` and ``cost_tradeoff``
    are set (:func:`smoothie_core.cost.choose`), and the extra metadata (``scores``,
    ``prices``)."""
    decision = owner._core_route(text)
    return choose(decision, owner.prices, owner.cost_tradeoff, owner.candidate_names)


class Chain:
    """One route-mode request: the decision, the order to try candidates in, and the
    pipelines that call them (answer, or stream) through the request's adapter."""

    def __init__(
        self, owner: SmoothieBase, request: Request, decided: tuple[Decision, dict[str, Any]]
    ) -> None:
        self.owner = owner
        self.request = request
        self.decision, self.extra = decided
        scores: Mapping[str, float] = self.extra.get("scores", self.decision.weights)
        order = fallback_order(self.decision.selected, scores, owner.candidate_names)
        self.order = order if owner.fallback_on_error else order[:1]

    def meta(self, name: str, errors: Mapping[str, str]) -> dict[str, Any]:
        """The decision as answered by ``name`` after ``errors`` (the ones tried before)."""
        final = dataclasses.replace(
            self.decision,
            selected=name,
            failed=list(errors),
            errors=dict(errors),
            fallback=(
                f"{self.order[0]!r} failed; answered by the next best, {name!r}"
                if errors
                else self.decision.fallback
            ),
        )
        return {**final.to_dict(), **self.extra}

    # ------------------------------------------------------------- pipelines
    def generate(self) -> Any:
        """The first candidate in :attr:`order` that answers; the decision event is sent."""
        req = self.request
        name, result, errors = call_first(self.order, req.route_call, self.owner.call_policy)
        meta = self.meta(name, errors)
        emit(req.sync_manager, meta)
        return req.routed(result, meta)

    async def agenerate(self) -> Any:
        req = self.request
        name, result, errors = await acall_first(
            self.order, req.aroute_call, self.owner.call_policy
        )
        meta = self.meta(name, errors)
        await aemit(req.async_manager, meta)
        return req.routed(result, meta)

    def stream(self) -> Iterator[Any]:
        """The first candidate that starts answering, chunk by chunk; the first chunk
        carries the decision (and the event is sent when this run's manager is known).
        A failure after the first chunk is raised: a restart on another candidate would
        repeat tokens already delivered."""
        req = self.request
        name, (first, rest), errors = call_first(
            self.order, req.route_start, self.owner.call_policy
        )
        meta = self.meta(name, errors)
        emit(req.sync_manager, meta)
        yield req.routed_chunk(first, meta)
        for chunk in rest:
            yield req.routed_chunk(chunk, None)

    async def astream(self) -> AsyncIterator[Any]:
        """Async :meth:`stream`."""
        req = self.request
        name, (first, rest), errors = await acall_first(
            self.order, req.aroute_start, self.owner.call_policy
        )
        meta = self.meta(name, errors)
        await aemit(req.async_manager, meta)
        yield req.routed_chunk(first, meta)
        async for chunk in rest:
            yield req.routed_chunk(chunk, None)
