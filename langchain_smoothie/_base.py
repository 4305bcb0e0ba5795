"""What ``SmoothieRouter`` and ``SmoothieRunnable`` share: Smoothie's options and state.

Both front doors hold the same options (same names, defaults from
:mod:`smoothie_core.defaults`), build the same :class:`smoothie_core.Router` from them,
keep the same calibration state and save/load it the same way. :class:`SmoothieBase`
holds all of that; each class adds only its candidates (chat models, or any runnables)
and its LangChain interface. The work per request is done by the shared engine
(``_select``, ``_route``, ``_fit``) through a candidate adapter (``_adapters``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from langchain_smoothie._adapters import Request
from langchain_smoothie._candidates import normalize_models
from langchain_smoothie._embeddings import as_embedder
from smoothie_core import CalibrationReport, Decision, NotFittedError, Router
from smoothie_core.cost import check_prices
from smoothie_core.defaults import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_POOL_SIZE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_N_NEIGHBORS,
    DEFAULT_SCORER,
    DEFAULT_TIMEOUT,
    DEFAULT_UPDATE_POOL,
)
from smoothie_core.embedders import default_embedder
from smoothie_core.orchestration import CallPolicy
from smoothie_core.scorers import Scorer, ScoringContext, get_scorer
from smoothie_core.scorers.peer import PeerReviewScorer, judge_options, with_judges

__all__ = ["CORE_FIELDS", "LOAD_OVERRIDES", "SmoothieBase"]

#: Fields passed to :class:`smoothie_core.Router` as they are (a new Router option is one
#: more field here and on the class).
CORE_FIELDS = (
    "scorer",
    "n_neighbors",
    "max_pool_size",
    "default",
    "abstain_below",
    "update_pool",
)
#: The saved settings ``load`` lets the caller override.
LOAD_OVERRIDES = ("n_neighbors", "max_pool_size", "default", "abstain_below")


def _setting(field: str, value: Any) -> Any:
    """A Router setting in comparable form (a scorer by its id, names and objects alike)."""
    return get_scorer(value).id if field == "scorer" else value


class SmoothieBase(BaseModel):
    """Smoothie's options, the core router built from them, calibration state, save/load.

    A subclass names its candidates (:attr:`candidate_names`) and the keyword they are
    passed with (``_CANDIDATES``: ``"models"`` or ``"candidates"``).
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    #: The keyword the candidates are given with (for messages and :meth:`load`).
    _CANDIDATES: ClassVar[str] = "candidates"
    #: What an instance is called in messages (``router.fit(...)``).
    _VARIABLE: ClassVar[str] = "router"

    mode: Literal["select", "route"] = "select"
    scorer: str | Scorer = DEFAULT_SCORER
    judges: dict[str, BaseChatModel] | None = None
    max_judge_calls: int | None = None
    n_neighbors: int | Literal["auto"] | None = DEFAULT_N_NEIGHBORS  # type: ignore[assignment]
    embedder: Any = Field(default=None, exclude=True)
    core_router: Router | None = Field(default=None, alias="router", exclude=True)
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    timeout: float | None = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    default: str | None = None
    abstain_below: float | None = None
    update_pool: bool = DEFAULT_UPDATE_POOL
    max_pool_size: int | None = DEFAULT_MAX_POOL_SIZE
    prices: dict[str, float] | None = None
    cost_tradeoff: float = 0.0
    fallback_on_error: bool = True

    _calibration: CalibrationReport | None = PrivateAttr(default=None)

    # ------------------------------------------------------------ validation
    @field_validator("judges", mode="before")
    @classmethod
    def _normalize_judges(cls, value: Any) -> dict[str, BaseChatModel] | None:
        if value is None:
            return None
        if isinstance(value, Sequence | Mapping) and not isinstance(value, str) and not value:
            raise ValueError(
                "`judges` is empty; pass judge chat models, or judges=None for the "
                "candidates to grade each other."
            )
        return normalize_models(value, what="judges")

    @model_validator(mode="after")
    def _check(self) -> Self:
        names = self.candidate_names
        if self.core_router is None or "scorer" in self.model_fields_set:
            self._apply_judges()
        CallPolicy(self.timeout, self.max_retries, self.max_concurrency)  # validates them
        if self.cost_tradeoff < 0:
            raise ValueError(f"`cost_tradeoff` must be >= 0; got {self.cost_tradeoff}.")
        if self.prices is not None:
            self.prices = check_prices(self.prices, names)
        elif self.cost_tradeoff > 0:
            raise ValueError("`cost_tradeoff` > 0 needs `prices` (one price per candidate).")
        if self.core_router is None:
            self.core_router = Router(
                names,
                embedder=as_embedder(self.embedder),
                **{field: getattr(self, field) for field in CORE_FIELDS},
            )
        else:
            self._adopt(self.core_router, names)
        self._check_judges()
        return self

    def _apply_judges(self) -> None:
        """``scorer="peer_review"`` with ``judges=``/``max_judge_calls=``: the core scorer."""
        judges = None if self.judges is None else list(self.judges)
        scorer = with_judges(self.scorer, judges, self.max_judge_calls)
        if scorer is not self.scorer:
            self.scorer = scorer  # type: ignore[assignment]

    def _check_judges(self) -> None:
        """The judge models must be the ones the router's scorer names (e.g. a loaded
        router's); ``max_judge_calls`` is the scorer's."""
        core = self.router.scorer
        ours = None if self.judges is None else list(self.judges)
        with_judges(core, ours, self.max_judge_calls)
        budget = judge_options(core)[1]
        if self.max_judge_calls != budget:
            self.max_judge_calls = budget
        if isinstance(core, PeerReviewScorer) and ours is None:
            self._candidates_as_judges()  # the candidates must be able to grade

    def _candidates_as_judges(self) -> dict[str, BaseChatModel]:
        """The candidates as judges (``scorer="peer_review"`` with ``judges=None``)."""
        cls = type(self).__name__
        raise ValueError(
            f"scorer='peer_review' with judges=None has the candidates grade each other's "
            f"answers, but a {cls}'s {self._CANDIDATES} are runnables, which cannot be asked "
            "to grade (a prompt template or chain would wrap the grading prompt). Pass "
            "judges=[chat models] (e.g. the chat model your candidates call), or another "
            "scorer."
        )

    def _judge_models(self) -> dict[str, BaseChatModel]:
        """The judges by name: ``judges``, or the candidates when it is None."""
        return self.judges if self.judges is not None else self._candidates_as_judges()

    def _judge_settings(self) -> dict[str, Any]:
        """Front-door settings set on each judge call (as on candidates; none here)."""
        return {}

    def _adopt(self, core: Router, names: list[str]) -> None:
        """Take the Smoothie settings of a given core ``router`` (they must agree)."""
        what, cls = self._CANDIDATES, type(self).__name__
        if list(core.candidates) != names:
            raise ValueError(
                f"`router` is for candidates {list(core.candidates)}; the {what} are named "
                f"{names}. Pass the same {what}, with the same names, in the same order."
            )
        for field in CORE_FIELDS:
            ours, theirs = getattr(self, field), getattr(core, field)
            if field in self.model_fields_set and _setting(field, ours) != _setting(field, theirs):
                raise ValueError(
                    f"`{field}`={ours!r} differs from the given router's {field}={theirs!r}. "
                    f"Leave `{field}` unset to use the router's, or pass it to "
                    f"{cls}.load(path, {what}=..., {field}=...)."
                )
            setattr(self, field, theirs)
        ours = as_embedder(self.embedder)
        if ours is not None and ours.id != core.embedder.id:
            raise ValueError(
                f"`embedder` ({ours.id!r}) differs from the given router's "
                f"({core.embedder.id!r}); leave `embedder` unset to use the router's."
            )

    # ------------------------------------------------------------ properties
    @property
    def candidate_names(self) -> list[str]:
        """Candidate names, in order."""
        raise NotImplementedError  # pragma: no cover - every subclass names its candidates

    def _fit_request(
        self, value: Any, index: int, *, templated: bool, config: RunnableConfig | None
    ) -> Request:
        """Calibration prompt ``index`` (after ``prompt=`` when ``templated``) as a request."""
        raise NotImplementedError  # pragma: no cover - every subclass reads its inputs

    @property
    def call_policy(self) -> CallPolicy:
        """How candidates are called (``timeout``, ``max_retries``, ``max_concurrency``)."""
        return CallPolicy(self.timeout, self.max_retries, self.max_concurrency)

    @property
    def calibration_report_(self) -> CalibrationReport:
        """What the last :meth:`fit` used and dropped (raises ``NotFittedError`` before)."""
        if self._calibration is None:
            raise NotFittedError(
                f"This {type(self).__name__} has no calibration report: call fit(prompts) first."
            )
        return self._calibration

    @property
    def calibration_report(self) -> CalibrationReport | None:
        """:attr:`calibration_report_`, or None before any :meth:`fit` (kept for
        compatibility)."""
        return self._calibration

    @property
    def calibration_errors_(self) -> list[dict[str, str]]:
        """``[s][name]``: why candidate ``name`` failed on prompt ``s`` in the last
        :meth:`fit` (raises ``NotFittedError`` before); the shape LlamaIndex's front
        doors use."""
        return [dict(row) for row in self.calibration_report_.errors]

    @property
    def fit_errors(self) -> dict[tuple[int, str], str]:
        """Errors of the last :meth:`fit` as (prompt index, candidate) -> message (empty
        before any fit); :attr:`calibration_errors_` by prompt."""
        rows = self._calibration.errors if self._calibration is not None else []
        return {(s, n): msg for s, row in enumerate(rows) for n, msg in row.items()}

    @property
    def router(self) -> Router:
        """The underlying :class:`smoothie_core.Router` (estimator state, pool); the
        ``router=`` parameter."""
        assert self.core_router is not None  # set by validation
        return self.core_router

    # ------------------------------------------------------ Smoothie (core)
    # smoothie_core.Router is thread-safe (its own lock), so concurrent calls share it.
    def _core_route(self, text: str) -> Decision:
        try:
            return self.router.route(text)
        except NotFittedError as exc:
            cls = type(self).__name__
            raise NotFittedError(
                f"{cls} in route mode needs a calibration: call {self._VARIABLE}.fit(prompts) (or "
                f"{cls}.load(path, {self._CANDIDATES}=...)) first."
            ) from exc

    def _core_select(
        self,
        text: str,
        answers: Mapping[str, str | None],
        *,
        errors: Mapping[str, str],
        context: ScoringContext | None = None,
    ) -> Decision:
        # pools per `update_pool`; `context` carries the judges (scorer="peer_review")
        return self.router.select(text, answers, errors=errors, context=context)

    def _core_calibrate(
        self,
        inputs: Sequence[str],
        answers: Sequence[Mapping[str, str | None]],
        errors: Sequence[Mapping[str, str]],
        context: ScoringContext | None = None,
    ) -> None:
        self._calibration = self.router.calibrate(inputs, answers, errors=errors, context=context)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the calibration / pool (``.npz`` + JSON header, no pickle, atomic)."""
        return self.router.save(path)

    @classmethod
    def _load(
        cls,
        path: str | os.PathLike[str],
        candidates: dict[str, Any],
        embedder: Any,
        kwargs: dict[str, Any],
    ) -> Self:
        """``cls`` over ``candidates`` (already named) with the state saved at ``path``."""
        if "router" in kwargs:
            raise TypeError(f"{cls.__name__}.load builds the router from `path`; drop `router=`.")
        emb = as_embedder(embedder)
        overrides = {field: kwargs.pop(field) for field in LOAD_OVERRIDES if field in kwargs}
        if overrides:  # checked as the caller's (Router.load would blame the file for them)
            Router(list(candidates), **overrides)
        core = Router.load(
            path, candidates=list(candidates), embedder=emb or default_embedder(), **overrides
        )
        kwargs.setdefault("mode", "route")
        given: dict[str, Any] = {cls._CANDIDATES: candidates}
        return cls(**given, embedder=embedder, router=core, **kwargs)
