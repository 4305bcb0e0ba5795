"""Peer review: the judge callable that ``scorer="peer_review"`` asks, built per request.

The core scorer (:class:`smoothie_core.scorers.peer.PeerReviewScorer`) writes the
grading prompts and weighs the grades; this module only calls the judge models (the
candidates with ``judges=None``, else the ``judges=`` models) the LangChain way, for
both front doors (``SmoothieRouter``; ``SmoothieRunnable`` with chat-model ``judges=``):

* each judge call is a **child run** of the front door's run (select mode: the
  request's run manager) or runs under the ``fit`` config (calibration), named
  ``judge:<name>``, tagged
  :data:`JUDGE_TAGS` (``nostream`` keeps LangGraph's message stream clean) with
  ``metadata["smoothie_judge"]``, with streaming switched off;
* its usage is reported **once**, by that child run (as for candidates), and summed
  per judge for the decision's ``judge_usage``;
* calls run under the router's :class:`~smoothie_core.orchestration.CallPolicy` (the
  scorer fans them out with :func:`~smoothie_core.orchestration.call_each`);
* on the async paths the scorer runs in a worker thread and each judge call is an
  ``ainvoke`` on the caller's event loop
  (:func:`~smoothie_core.orchestration.call_on_loop`), so async callback handlers and
  async clients are used as for the candidates.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.runnables import RunnableConfig

from langchain_smoothie._adapters import AnyRunManager, Request
from langchain_smoothie._callbacks import _child_manager
from langchain_smoothie._candidates import check_answer, for_call
from langchain_smoothie._render import answer_text
from smoothie_core.orchestration import call_on_loop
from smoothie_core.scorers import ScoringContext
from smoothie_core.scorers.peer import PeerReviewScorer

if TYPE_CHECKING:
    from langchain_smoothie._base import SmoothieBase

__all__ = ["JUDGE_TAGS", "Judging", "for_fit", "for_request"]

#: Tags on judge child runs.
JUDGE_TAGS = ("smoothie:judge", "nostream")


def _run_config(run_manager: AnyRunManager | None, name: str) -> RunnableConfig:
    """Judge ``name`` as a child run of ``run_manager``'s run (select mode)."""
    config: RunnableConfig = {"run_name": f"judge:{name}", "metadata": {"smoothie_judge": name}}
    if run_manager is not None:
        config["callbacks"] = _child_manager(run_manager, JUDGE_TAGS)
    else:
        config["tags"] = list(JUDGE_TAGS)
    return config


def _fit_config(base: RunnableConfig | None, name: str) -> RunnableConfig:
    """Judge ``name`` under the ``fit`` call's config (its callbacks, tags, metadata)."""
    config: RunnableConfig = dict(base or {})  # type: ignore[assignment]
    config.pop("run_id", None)
    config["run_name"] = f"judge:{name}"
    config["tags"] = [*(config.get("tags") or []), *JUDGE_TAGS]
    config["metadata"] = {**(config.get("metadata") or {}), "smoothie_judge": name}
    return config


class Judging:
    """One request's judges: the callable the scorer asks, and what the calls used.

    Parameters
    ----------
    models : mapping of str to BaseChatModel
        The judges by name, as called (per-call copies).
    config : callable
        ``config(name) -> RunnableConfig`` for one judge call.
    owner : SmoothieBase
        The front door (its timeout, retries and concurrency: the scorer applies them).
    loop : asyncio event loop or None
        The caller's loop on the async paths (judges are then called with ``ainvoke``
        on it from the scorer's worker thread); None: ``invoke``.
    """

    def __init__(
        self,
        models: Mapping[str, BaseChatModel],
        config: Callable[[str], RunnableConfig],
        owner: SmoothieBase,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.models = dict(models)
        self.config = config
        self.policy = owner.call_policy
        self.loop = loop
        self._lock = threading.Lock()
        self._usage: dict[str, UsageMetadata] = {}

    def __call__(self, name: str, prompt: str) -> str:
        """Ask judge ``name`` to grade (``prompt`` from the scorer); its reply text."""
        if name not in self.models:
            raise KeyError(f"no judge model named {name!r}; judges are {list(self.models)}.")
        model, messages, config = self.models[name], [HumanMessage(prompt)], self.config(name)
        if self.loop is None:
            out: Any = model.invoke(messages, config)
        else:

            async def ask() -> Any:
                return await model.ainvoke(messages, config)

            out = call_on_loop(self.loop, ask, self.policy.timeout)
        message: AIMessage = check_answer(name, out)
        if message.usage_metadata:
            with self._lock:
                self._usage[name] = add_usage(self._usage.get(name), message.usage_metadata)
        return answer_text(message)

    @property
    def context(self) -> ScoringContext:
        """What :meth:`smoothie_core.Router.select` / ``calibrate`` pass to the scorer."""
        return ScoringContext(judge=self, judges=list(self.models), policy=self.policy)

    @property
    def usage(self) -> dict[str, dict[str, Any]]:
        """Summed ``usage_metadata`` per judge over the calls that answered (already
        reported by each judge's own run; shown in the decision, never re-reported)."""
        with self._lock:
            return {n: dict(self._usage[n]) for n in self.models if n in self._usage}


def _judge_models(owner: SmoothieBase) -> dict[str, BaseChatModel]:
    settings = owner._judge_settings()
    return {n: for_call(m, settings, child=True) for n, m in owner._judge_models().items()}


def _uses_judges(owner: SmoothieBase) -> bool:
    return isinstance(owner.router.scorer, PeerReviewScorer)


def for_request(
    owner: SmoothieBase,
    request: Request,
    loop: asyncio.AbstractEventLoop | None = None,
) -> Judging | None:
    """The judges of one select-mode request, as child runs of its run (None unless the
    scorer asks judges)."""
    if not _uses_judges(owner):
        return None
    manager = request.run_manager
    return Judging(_judge_models(owner), lambda n: _run_config(manager, n), owner, loop)


def for_fit(
    owner: SmoothieBase,
    config: RunnableConfig | None,
    loop: asyncio.AbstractEventLoop | None = None,
) -> Judging | None:
    """The judges of one ``fit`` (None unless the scorer asks judges)."""
    if not _uses_judges(owner):
        return None
    return Judging(_judge_models(owner), lambda n: _fit_config(config, n), owner, loop)
