"""What the selector, the query engine and the LLM share: options, names, answers, decisions.

The options every LlamaIndex front door takes (and LangChain's ``SmoothieRouter``
takes, with the same names and defaults from :mod:`smoothie_core.defaults`) are
validated and turned into a :class:`smoothie_core.Router`, a
:class:`~smoothie_core.orchestration.CallPolicy` and a cost-aware choice in one place,
:class:`Options`. A new ``Router`` option (as ``scorer=`` was) is a field of
:class:`Options`, an entry of :data:`ROUTER_DEFAULTS`, and a keyword of each front door,
which passes it through unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from smoothie_core._validation import check_candidate_names, check_n_neighbors
from smoothie_core.cost import check_prices, cost_scores
from smoothie_core.defaults import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_POOL_SIZE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_N_NEIGHBORS,
    DEFAULT_TIMEOUT,
)
from smoothie_core.embedders import Embedder
from smoothie_core.exceptions import EmptyAnswerError, NotFittedError
from smoothie_core.orchestration import CallPolicy, GridResults
from smoothie_core.router import EMPTY_ANSWER, Decision, Router
from smoothie_core.scorers import Scorer
from smoothie_core.scorers.peer import with_judges

NNeighbors = int | None | Literal["auto"]
#: ``errors[s][name]``: why candidate ``name`` failed on calibration prompt ``s``.
Errors = list[dict[str, str]]
Answers = list[dict[str, str | None]]

# An empty or whitespace-only answer is a failed attempt (EmptyAnswerError, recorded as
# EMPTY_ANSWER, the core Router's message): calls raise it through `require_text`, so it
# is retried like any failure (as in LangChain); `drop_empty` catches answers passed in.

#: Options that configure the :class:`~smoothie_core.Router` itself, with their defaults
#: (a ``router=`` passed in already carries them).
ROUTER_DEFAULTS: dict[str, Any] = {
    "scorer": None,  # the Router's default, smoothie_core.defaults.DEFAULT_SCORER
    "n_neighbors": DEFAULT_N_NEIGHBORS,
    "default": None,
    "abstain_below": None,
    "max_pool_size": DEFAULT_MAX_POOL_SIZE,
}
ROUTER_OPTIONS = tuple(ROUTER_DEFAULTS)
#: Router-level options that :meth:`smoothie_core.Router.load` can override (the scorer
#: is part of the saved state).
LOAD_OVERRIDES = ("n_neighbors", "default", "abstain_below", "max_pool_size")


def check_n_neighbors_option(value: Any) -> NNeighbors:
    """``None`` (Smoothie-Global), a positive int (Smoothie-Local) or ``"auto"``."""
    if value == "auto" and isinstance(value, str):
        return "auto"
    if isinstance(value, str):
        raise ValueError(
            f'`n_neighbors` must be None, a positive int or "auto"; got the str {value!r}.'
        )
    return check_n_neighbors(value)


def check_names(names: Sequence[str | None], what: str) -> list[str]:
    """Candidate names read from LlamaIndex objects, checked by the core rule.

    The core (:func:`smoothie_core._validation.check_candidate_names`) owns the rule
    (distinct, non-empty strings); this adds where the names come from.
    """
    missing = [i for i, n in enumerate(names) if not n]
    if missing:
        raise ValueError(
            f"Every {what} needs a name (Smoothie matches candidates by name); {what} "
            f"{missing[0]} has none. Give each one a name, e.g. ToolMetadata(name=...)."
        )
    try:
        return check_candidate_names([str(n) for n in names], len(names))
    except ValueError as err:
        raise ValueError(f"{what} names {list(names)}: {err}") from None


def require_text(text: str) -> str:
    """``text`` if it has non-whitespace content; otherwise raise
    :class:`~smoothie_core.exceptions.EmptyAnswerError` (a failed attempt: recorded as
    failed, and retried while ``max_retries`` allows, as every front door does).

    Examples
    --------
    >>> require_text("Paris")
    'Paris'
    >>> require_text("  ")
    Traceback (most recent call last):
    ...
    smoothie_core.exceptions.EmptyAnswerError: the answer is empty or whitespace only
    """
    if not text.strip():
        raise EmptyAnswerError
    return text


def drop_empty(answers: Answers, errors: Errors) -> tuple[Answers, Errors]:
    """Empty or whitespace-only answers become failures (None + :data:`EMPTY_ANSWER`)."""
    out_answers: Answers = []
    out_errors: Errors = []
    for row, errs in zip(answers, errors, strict=True):
        row, errs = dict(row), dict(errs)
        for name, text in row.items():
            if isinstance(text, str) and not text.strip():
                row[name] = None
                errs[name] = EMPTY_ANSWER
        out_answers.append(row)
        out_errors.append(errs)
    return out_answers, out_errors


def grid_answers(grid: GridResults[str]) -> tuple[Answers, Errors]:
    """A calibration grid's answers and errors, empty answers counted as failures."""
    return drop_empty(grid.answers, grid.errors)


@dataclass(frozen=True)
class Options:
    """The options of a LlamaIndex front door, validated together.

    Same names, meanings and defaults as LangChain's ``SmoothieRouter`` (the defaults
    come from :mod:`smoothie_core.defaults`). ``names`` are the candidates, in order.
    """

    names: tuple[str, ...]
    scorer: str | Scorer | None = None
    n_neighbors: NNeighbors = DEFAULT_N_NEIGHBORS  # type: ignore[assignment]
    default: str | None = None
    abstain_below: float | None = None
    max_pool_size: int | None = DEFAULT_MAX_POOL_SIZE
    prices: Mapping[str, float] | None = None
    cost_tradeoff: float = 0.0
    timeout: float | None = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    #: Names of the judge models (``scorer="peer_review"``; None: the candidates judge).
    judge_names: tuple[str, ...] | None = None
    max_judge_calls: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_neighbors", check_n_neighbors_option(self.n_neighbors))
        self.core_scorer  # noqa: B018  (validates judge_names and max_judge_calls)
        t = self.cost_tradeoff
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not t >= 0:
            raise ValueError(f"`cost_tradeoff` must be a number >= 0; got {t!r}.")
        if self.prices is not None:
            object.__setattr__(self, "prices", check_prices(self.prices, self.names))
        elif t > 0:
            raise ValueError(
                f"`cost_tradeoff`={t} needs `prices` (one price per candidate {list(self.names)})."
            )
        self.policy  # noqa: B018  (validates timeout, max_retries, max_concurrency)

    @property
    def policy(self) -> CallPolicy:
        """How candidates are called (:mod:`smoothie_core.orchestration`)."""
        return CallPolicy(
            timeout=self.timeout, max_retries=self.max_retries, max_concurrency=self.max_concurrency
        )

    @property
    def core_scorer(self) -> str | Scorer | None:
        """``scorer`` with the judge options applied (``scorer="peer_review"``)."""
        judges = None if self.judge_names is None else list(self.judge_names)
        return with_judges(self.scorer, judges, self.max_judge_calls)

    def router_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`smoothie_core.Router` (it validates them)."""
        return {
            **{name: getattr(self, name) for name in ROUTER_OPTIONS},
            "scorer": self.core_scorer,
        }

    def new_router(self, embedder: Embedder | None) -> Router:
        """A fresh (unfitted) router for these candidates and options."""
        return Router(list(self.names), embedder=embedder, **self.router_kwargs())

    def choose(self, decision: Decision) -> tuple[Decision, dict[str, Any]]:
        """Apply the cost rule to a route decision; extra metadata (``scores``, ``prices``).

        ``score = weight - cost_tradeoff * price / max(prices)``
        (:func:`smoothie_core.cost.cost_scores`); an abstained decision keeps its fallback.
        """
        if self.prices is None or self.cost_tradeoff == 0 or decision.abstained:
            return decision, {}
        scores = cost_scores(decision.weights, self.prices, self.cost_tradeoff)
        order = list(self.names)
        best = max(scores, key=lambda n: (scores[n], -order.index(n)))
        extra = {"scores": scores, "prices": dict(self.prices)}
        return dataclasses.replace(decision, selected=best), extra


def router_level(router: Router | None, given: Mapping[str, Any]) -> dict[str, Any]:
    """The effective router-level options: ``given``, or those a ready ``router`` carries.

    With ``router=``, a router-level option given with a non-default value conflicts
    with the router's own and is an error (it would be silently ignored otherwise).
    """
    if router is None:
        return dict(given)
    conflicting = sorted(k for k in ROUTER_OPTIONS if k in given and given[k] != ROUTER_DEFAULTS[k])
    if conflicting:
        raise ValueError(
            f"`router=` carries its own {', '.join(ROUTER_OPTIONS)}; got also "
            f"{ {k: given[k] for k in conflicting} }. Set them on the Router, or leave out "
            "`router=` to build one from these options."
        )
    return {name: getattr(router, name) for name in ROUTER_OPTIONS}


def options_of(front_door: Any, names: Sequence[str]) -> Options:
    """The :class:`Options` a front door holds as attributes (absent ones: defaults)."""
    values = {
        f.name: getattr(front_door, f.name)
        for f in dataclasses.fields(Options)
        if f.name != "names" and hasattr(front_door, f.name)
    }
    return Options(names=tuple(names), **values)


def not_fitted(component: str, err: NotFittedError) -> NotFittedError:
    """The front door's "call fit first" message for a router without calibration."""
    return NotFittedError(
        f"{component} has no calibration yet: call fit(prompts) first (the older spelling "
        f"calibrate(...) works too), or load a saved one. ({err})"
    )


def reason(decision: Decision, n_choices: int, extra: Mapping[str, Any] | None = None) -> str:
    """Human-readable reason carrying the selected candidate's weight (and score)."""
    w = decision.weights.get(decision.selected, float("nan"))
    if decision.mode == "route":
        how = f"route mode, {decision.n_neighbors} nearest calibration queries"
    else:
        how = f"select mode, {n_choices - len(decision.failed)} answers scored"
    scores = (extra or {}).get("scores")
    if scores is not None:
        text = (
            f"Smoothie weight {w:.3f} for {decision.selected!r}, cost-adjusted score "
            f"{scores[decision.selected]:.3f}, highest of {n_choices} ({how})"
        )
    else:
        text = f"Smoothie weight {w:.3f} for {decision.selected!r}, highest of {n_choices} ({how})"
    if decision.fallback:
        text += f"; fallback: {decision.fallback}"
    return text
