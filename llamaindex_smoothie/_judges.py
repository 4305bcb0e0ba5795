"""Peer review: the judge callable that ``scorer="peer_review"`` asks, over LlamaIndex LLMs.

The core scorer (:class:`smoothie_core.scorers.peer.PeerReviewScorer`) writes the
grading prompts and weighs the grades; this module only calls the judge LLMs through
the LlamaIndex LLM API (``chat`` / ``achat`` with one user message), each call inside
a ``smoothie_judge`` span of its own, nested under the front door's span (the scorer's
worker threads carry the caller's context). The judges' own ``chat`` events report
their usage once; nothing here re-reports it. On the async paths the scorer runs in a
worker thread and each judge call is an ``achat`` on the caller's event loop
(:func:`smoothie_core.orchestration.call_on_loop`), under the front door's
timeout/retries/concurrency (:class:`~smoothie_core.orchestration.CallPolicy`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.core.llms.llm import LLM

from llamaindex_smoothie._common import check_names
from llamaindex_smoothie._texts import llm_text
from llamaindex_smoothie.events import dispatcher
from smoothie_core.exceptions import EmptyAnswerError
from smoothie_core.orchestration import CallPolicy, call_on_loop
from smoothie_core.scorers import Scorer, ScoringContext
from smoothie_core.scorers.peer import PeerReviewScorer

__all__ = [
    "Judging",
    "asmoothie_judge",
    "check_judges_available",
    "judging_for",
    "name_judges",
    "smoothie_judge",
]


def name_judges(judges: Any) -> dict[str, LLM] | None:
    """Judge LLMs as a dict name -> LLM (a list is named by ``metadata.model_name``)."""
    if judges is None:
        return None
    if isinstance(judges, Mapping):
        items = dict(judges)
    elif isinstance(judges, Sequence) and not isinstance(judges, str):
        items = {getattr(getattr(j, "metadata", None), "model_name", None): j for j in judges}
        if len(items) != len(judges):
            names = [getattr(getattr(j, "metadata", None), "model_name", None) for j in judges]
            raise ValueError(
                f"Judge LLMs are named by metadata.model_name, which repeats ({names}); pass a "
                "dict {name: llm} instead."
            )
    else:
        raise TypeError(
            f"`judges` must be None, a dict of name -> LLM or a list of LLMs; got "
            f"{type(judges).__name__}."
        )
    if not items:
        raise ValueError(
            "`judges` is empty; pass judge LLMs, or judges=None for the candidates to grade "
            "each other."
        )
    bad = {k: type(v).__name__ for k, v in items.items() if not isinstance(v, LLM)}
    if bad:
        raise TypeError(f"Every judge must be a llama_index LLM; got {bad}.")
    check_names(list(items), "judge LLM")
    return items


def _messages(prompt: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=prompt)]


def _reply(name: str, response: ChatResponse) -> str:
    text = llm_text(response)
    if not text.strip():
        raise EmptyAnswerError
    return text


@dispatcher.span
def smoothie_judge(name: str, llm: LLM, prompt: str) -> str:
    """Judge ``name`` grades (one ``llm.chat`` call, in a span of its own)."""
    return _reply(name, llm.chat(_messages(prompt)))


@dispatcher.span
async def asmoothie_judge(name: str, llm: LLM, prompt: str) -> str:
    """Async :func:`smoothie_judge` (``llm.achat``)."""
    return _reply(name, await llm.achat(_messages(prompt)))


class Judging:
    """The judges of one request: ``judge(name, prompt) -> text`` for the core scorer.

    ``loop`` is the caller's event loop on the async paths (judges are then asked with
    ``achat`` on it, from the scorer's worker thread); None: ``chat``.
    """

    def __init__(
        self,
        llms: Mapping[str, LLM],
        policy: CallPolicy,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.llms = dict(llms)
        self.policy = policy
        self.loop = loop

    def __call__(self, name: str, prompt: str) -> str:
        if name not in self.llms:
            raise KeyError(f"no judge LLM named {name!r}; judges are {list(self.llms)}.")
        llm = self.llms[name]
        if self.loop is None:
            return smoothie_judge(name, llm, prompt)

        async def ask() -> str:
            return await asmoothie_judge(name, llm, prompt)

        return call_on_loop(self.loop, ask, self.policy.timeout)

    @property
    def context(self) -> ScoringContext:
        """What :meth:`smoothie_core.Router.select` / ``calibrate`` pass to the scorer."""
        return ScoringContext(judge=self, judges=list(self.llms), policy=self.policy)


def judging_for(
    judges: Mapping[str, LLM] | None,
    candidates: Mapping[str, LLM] | None,
    policy: CallPolicy,
    loop: asyncio.AbstractEventLoop | None = None,
) -> ScoringContext | None:
    """The scoring context of one request: the ``judges`` (None: the ``candidates``
    grade each other), or None when there are no LLMs to ask (scorers that do not ask
    judges ignore the context)."""
    llms = judges if judges is not None else candidates
    return None if llms is None else Judging(llms, policy, loop).context


def check_judges_available(scorer: Scorer, judges: Mapping[str, LLM] | None, what: str) -> None:
    """A front door whose candidates cannot grade (query engines) needs judge LLMs."""
    if isinstance(scorer, PeerReviewScorer) and judges is None:
        raise ValueError(
            f"{what}(scorer='peer_review') needs judges=[llm, ...]: its candidates are not "
            "LLMs and cannot grade each other's answers. Pass LlamaIndex LLMs as judges "
            "(e.g. the LLMs behind your engines)."
        )
