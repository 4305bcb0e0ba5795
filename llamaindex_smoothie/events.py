"""Instrumentation: one dispatcher event per Smoothie decision.

Handlers registered on LlamaIndex's root dispatcher (or on
``get_dispatcher("llamaindex_smoothie")``) receive a :class:`SmoothieDecisionEvent`
each time a :class:`~llamaindex_smoothie.SmoothieSelector`,
:class:`~llamaindex_smoothie.SmoothieQueryEngine` or :class:`~llamaindex_smoothie.SmoothieLLM`
decides.
"""

from __future__ import annotations

from llama_index.core.bridge.pydantic import Field
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.base import BaseEvent

from smoothie_core.router import Decision

__all__ = ["SmoothieDecisionEvent", "dispatcher", "emit_decision"]

dispatcher = get_dispatcher("llamaindex_smoothie")


class SmoothieDecisionEvent(BaseEvent):
    """A Smoothie routing or selection decision.

    Attributes
    ----------
    component : str
        Class name of the deciding component (``"SmoothieSelector"``, ...).
    query : str
        The input text the decision is for.
    selected : str
        Name of the chosen candidate.
    mode : str
        ``"select"`` (answers scored) or ``"route"`` (chosen before any call).
    weights : dict of str to float
        Weight per candidate that took part.
    failed : list of str
        Candidates that failed (select mode).
    fallback : str or None
        Why the decision did not come from Smoothie weights, if it did not.
    reliability : float or None
        The decision's reliability score, when smoothie_core provides one.

    Examples
    --------
    >>> from smoothie_core import Decision
    >>> d = Decision(selected="a", weights={"a": 0.6, "b": 0.2, "c": 0.2}, mode="route")
    >>> event = SmoothieDecisionEvent.from_decision("SmoothieSelector", "hi", d)
    >>> event.class_name(), event.selected, event.weights["a"]
    ('SmoothieDecisionEvent', 'a', 0.6)
    """

    component: str
    query: str
    selected: str
    mode: str
    weights: dict[str, float]
    failed: list[str] = Field(default_factory=list)
    fallback: str | None = None
    reliability: float | None = None

    @classmethod
    def class_name(cls) -> str:
        """Class name."""
        return "SmoothieDecisionEvent"

    @classmethod
    def from_decision(cls, component: str, query: str, decision: Decision) -> SmoothieDecisionEvent:
        """The event for ``decision`` taken by ``component`` on ``query``."""
        return cls(
            component=component,
            query=query,
            selected=decision.selected,
            mode=decision.mode,
            weights=dict(decision.weights),
            failed=list(decision.failed),
            fallback=decision.fallback,
            reliability=getattr(decision, "reliability", None),
        )


def emit_decision(component: str, query: str, decision: Decision) -> None:
    """Send a :class:`SmoothieDecisionEvent` for ``decision`` to the dispatcher."""
    dispatcher.event(SmoothieDecisionEvent.from_decision(component, query, decision))
