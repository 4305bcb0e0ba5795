"""Router state shared by the integrations: candidates by name, select and route modes.

The LangChain and LlamaIndex front doors translate their framework's objects into
texts and call a :class:`Router`. What is compared is the router's *scorer*
(:mod:`smoothie_core.scorers`); how its per-sample statistics are smoothed into weights
is :class:`~smoothie_core.Smoothie`'s job (the only place weights are computed).

Modes (see the docs, "The two modes"):

* **select** (test-time): every candidate answered the input; :meth:`Router.select`
  scores the answers. With ``n_neighbors=k > 1`` the ``k - 1`` nearest earlier inputs
  of the pool join this input's statistic (Smoothie-Local). With ``n_neighbors=None``
  the input is scored alone, except for scorers whose statistic is a label model
  (``answer``), which estimate every candidate's accuracy over the whole pool
  (Smoothie-Global) and vote on this input's answers with them. With
  ``update_pool=True`` each scored input joins the pool (bounded by
  ``max_pool_size``, oldest dropped first).
* **route** (train-time): :meth:`Router.calibrate` on unlabeled prompts' answers, then
  :meth:`Router.route` picks a candidate for a new input before any model is called
  (``n_neighbors=None``: Smoothie-Global; ``k``: Smoothie-Local).

A router is safe to share between threads: decisions read and pool updates write its
state under one lock (embedding and scoring run outside it).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from smoothie_core._validation import (
    MIN_CANDIDATES,
    check_candidate_names,
    check_n_neighbors,
    check_n_neighbors_option,
)
from smoothie_core.defaults import (
    AUTO_NEIGHBORS_CAP,
    DEFAULT_MAX_POOL_SIZE,
    DEFAULT_N_NEIGHBORS,
    DEFAULT_UPDATE_POOL,
)
from smoothie_core.diagnostics import (
    _ORIGIN,
    Reliability,
    ReliabilityWarning,
    _user_stacklevel,
)
from smoothie_core.embedders import Embedder, default_embedder
from smoothie_core.estimator import Smoothie
from smoothie_core.exceptions import (
    AllCandidatesFailedError,
    EmptyAnswerError,
    NotFittedError,
    StateFileError,
)
from smoothie_core.scorers import (
    CoverageScorer,
    Scorer,
    ScoringContext,
    get_scorer,
    scorer_from_config,
)
from smoothie_core.triplet import select_best

__all__ = [
    "CalibrationReport",
    "Decision",
    "Router",
    "WARN_BELOW",
    "resolve_n_neighbors",
]

Mode = Literal["select", "route"]
Signal = Literal["smoothie", "coverage"]

#: A router warns (once) when a fit or decision has a reliability score below this.
WARN_BELOW = 0.5

#: Why a candidate with an empty answer counts as failed (every front door records this).
EMPTY_ANSWER = f"EmptyAnswerError: {EmptyAnswerError()}"

_KEEP: Any = object()


@dataclass(frozen=True)
class Decision:
    """One routing/selection decision (JSON-serialisable through :meth:`to_dict`).

    Attributes
    ----------
    selected : str
        Name of the chosen candidate.
    weights : dict of str to float
        Weight per candidate that took part (sums to 1); failed candidates are absent.
    mode : "select" or "route"
    failed : list of str
        Candidates that errored, timed out or answered nothing (select mode).
    n_neighbors : int
        Number of samples whose statistics the decision used (1 = this input alone).
    fallback : str or None
        Why the decision did not come from the weights (too few answers, no
        information, abstention), or None.
    errors : dict of str to str
        Error message per failed candidate.
    reliability : float or None
        Reliability score in [0, 1] of the estimate behind this decision (see
        :mod:`smoothie_core.diagnostics`); None when no estimate was possible (fewer
        than 3 answers).
    abstained : bool
        True when the reliability was below the router's ``abstain_below`` and the
        decision fell back (to the declared default, see :class:`Router`).
    diagnostics : dict
        ``reasons`` (plain language), ``checks`` (sub-scores), ``details`` (measured
        quantities), ``smoothie_choice`` (what the weights alone would pick), ``scorer``
        (what compared the answers) and scorer-specific details (e.g. ``answers``: the
        final answers extracted).
    """

    selected: str
    weights: dict[str, float]
    mode: Mode
    failed: list[str] = field(default_factory=list)
    n_neighbors: int = 1
    fallback: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    reliability: float | None = None
    abstained: bool = False
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form, for response metadata."""
        return asdict(self)


@dataclass(frozen=True)
class CalibrationReport:
    """What :meth:`Router.calibrate` used and dropped."""

    n_prompts: int
    n_used: int
    dropped: list[int]
    failures: dict[str, int]
    reliability: Reliability | None = None
    #: Per prompt, why each failed candidate failed (``errors[s][name]``), as passed to
    #: :meth:`Router.calibrate` by the front door, plus empty answers.
    errors: list[dict[str, str]] = field(default_factory=list)


def resolve_n_neighbors(k: int | str | None, n_pool: int) -> int | None:
    """The effective ``n_neighbors``: ``"auto"`` is ``min(AUTO_NEIGHBORS_CAP, n_pool)``.

    Examples
    --------
    >>> resolve_n_neighbors("auto", 4), resolve_n_neighbors("auto", 500), resolve_n_neighbors(None, 9)
    (4, 10, None)
    """
    if k == "auto":
        return max(1, min(AUTO_NEIGHBORS_CAP, n_pool))
    return check_n_neighbors(k)


class Router:
    """Smoothie state for a named pool of candidates, in select or route mode.

    Parameters
    ----------
    candidates : sequence of str
        Candidate names, in a fixed order (at least 3).
    scorer : str or Scorer, optional
        What compares the candidates' answers (:mod:`smoothie_core.scorers`): a name
        (``"consensus"``, ``"answer"``, ``"coverage"``, ...) or a :class:`Scorer`.
        Default: :data:`smoothie_core.defaults.DEFAULT_SCORER`.
    embedder : Embedder, optional
        Defaults to the offline all-MiniLM-L6-v2 (:func:`default_embedder`), loaded on first use.
    n_neighbors : int, "auto" or None
        See the module docstring; ``"auto"`` = ``min(10, pool size)``.
    max_pool_size : int or None
        Bound on the samples kept for Smoothie-Local (oldest dropped first).
    default : str or None
        Declared default candidate: chosen when no information distinguishes candidates
        and when fewer than 3 answers arrived and nothing else decides, and the target
        of abstention.
    abstain_below : float or None
        Abstention policy (off by default). When a decision's reliability score (see
        :mod:`smoothie_core.diagnostics`) is below this, the router abstains from the
        pick and falls back to the declared ``default`` (select mode: if it answered);
        without a default, route mode with ``n_neighbors=k`` falls back to the
        calibrated Smoothie-Global choice, otherwise to the first candidate (in
        candidate order) that answered. The decision records ``abstained=True``.
        Independently of this, the router emits one
        :class:`~smoothie_core.diagnostics.ReliabilityWarning` the first time a fit or
        decision scores below ``WARN_BELOW`` (0.5).
    update_pool : bool
        Whether :meth:`select` adds each scored input to the pool by default
        (:data:`smoothie_core.defaults.DEFAULT_UPDATE_POOL`): label models then learn
        every candidate's accuracy from traffic, and route mode is calibrated by it.
    signal : "smoothie" or "coverage", optional
        The older spelling of ``scorer``: ``"smoothie"`` is ``scorer="consensus"``,
        ``"coverage"`` is ``scorer="coverage"``.

    Examples
    --------
    >>> from smoothie_core import HashingEmbedder, Router
    >>> router = Router(["a", "b", "c"], scorer="consensus", embedder=HashingEmbedder())
    >>> d = router.select("Capital of France?", {"a": "Paris is the capital.",
    ...     "b": "The capital is Paris.", "c": "Bananas are yellow."})
    >>> d.selected in {"a", "b"}, d.mode
    (True, 'select')
    >>> 0.0 <= d.reliability <= 1.0, d.abstained
    (True, False)
    """

    def __init__(
        self,
        candidates: Sequence[str],
        *,
        scorer: str | Scorer | None = None,
        embedder: Embedder | None = None,
        n_neighbors: int | str | None = DEFAULT_N_NEIGHBORS,
        max_pool_size: int | None = DEFAULT_MAX_POOL_SIZE,
        default: str | None = None,
        abstain_below: float | None = None,
        update_pool: bool = DEFAULT_UPDATE_POOL,
        signal: Signal | None = None,
    ) -> None:
        names = check_candidate_names(candidates, len(list(candidates)))
        if len(names) < MIN_CANDIDATES:
            raise ValueError(
                f"A Smoothie router needs at least {MIN_CANDIDATES} candidates; got "
                f"{len(names)} ({names})."
            )
        if default is not None and default not in names:
            raise ValueError(f"`default` must be one of the candidates {names}; got {default!r}.")
        if abstain_below is not None and (
            isinstance(abstain_below, bool)
            or not isinstance(abstain_below, (int, float))
            or not 0.0 <= float(abstain_below) <= 1.0
        ):
            raise ValueError(
                f"`abstain_below` must be None or a number in [0, 1] (e.g. 0.5); got {abstain_below!r}."
            )
        if signal is not None:
            if signal not in ("smoothie", "coverage"):
                raise ValueError(f"`signal` must be 'smoothie' or 'coverage'; got {signal!r}.")
            if scorer is not None:
                raise ValueError("pass `scorer` or its older spelling `signal`, not both.")
            scorer = "coverage" if signal == "coverage" else "consensus"
        if max_pool_size is not None and (
            isinstance(max_pool_size, bool)
            or not isinstance(max_pool_size, int)
            or max_pool_size < 1
        ):
            raise ValueError(
                f"`max_pool_size` must be None or a positive int; got {max_pool_size!r}."
            )
        self.scorer: Scorer = get_scorer(scorer).bind(names)
        self.abstain_below = None if abstain_below is None else float(abstain_below)
        self.candidates = names
        self.n_neighbors = check_n_neighbors_option(n_neighbors)
        self.max_pool_size = max_pool_size
        if not isinstance(update_pool, bool):
            raise TypeError(f"`update_pool` must be True or False; got {update_pool!r}.")
        self.update_pool = update_pool
        self.default = default
        self._embedder = embedder
        self.estimator: Smoothie | None = None
        #: Reliability report of the last calibration (route mode), or None.
        self.reliability_: Reliability | None = None
        self._warned = False
        self._lock = threading.RLock()

    # ------------------------------------------------------------ copy support
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- props
    @property
    def signal(self) -> Signal:
        """The older name of the scorer: ``"coverage"`` or ``"smoothie"`` (anything else)."""
        return "coverage" if isinstance(self.scorer, CoverageScorer) else "smoothie"

    @property
    def coverage_scores_(self) -> NDArray[np.float64] | None:
        """Per-sample coverage scores of the pool (``scorer="coverage"``), else None."""
        with self._lock:
            if self.signal != "coverage" or self.estimator is None:
                return None
            return self.estimator.sample_statistics_

    @property
    def embedder(self) -> Embedder:
        """The embedder (the offline MiniLM unless one was given), created on first use."""
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self.embedder.embed(list(texts))

    @property
    def pool_size(self) -> int:
        """Samples currently held for Smoothie-Local / Global."""
        with self._lock:
            return 0 if self.estimator is None else self.estimator.n_samples_

    # --------------------------------------------------------------- calibrate
    def calibrate(
        self,
        inputs: Sequence[str],
        answers: Sequence[Mapping[str, str | None]],
        *,
        errors: Sequence[Mapping[str, str]] | None = None,
        context: ScoringContext | None = None,
    ) -> CalibrationReport:
        """Fit the route-mode state on unlabeled prompts and every candidate's answers.

        ``answers[s]`` maps candidate name to its answer on ``inputs[s]`` (None, an empty
        or whitespace-only string, or a missing name = that candidate failed). Prompts
        without all answers are dropped and counted (scorers that handle missing
        answers keep prompts where at least 3 candidates answered). ``errors[s][name]``,
        if given, says why a call failed; the report keeps it (``errors``), adding
        empty answers.
        """
        if len(inputs) != len(answers):
            raise ValueError(
                f"`inputs` and `answers` must have the same length; got {len(inputs)} and {len(answers)}."
            )
        if not inputs:
            raise ValueError("No calibration prompts: `inputs` is empty; pass at least one prompt.")
        if errors is not None and len(errors) != len(inputs):
            raise ValueError(
                f"`errors` must have one entry per prompt ({len(inputs)}); got {len(errors)}."
            )
        report_errors: list[dict[str, str]] = [
            dict(errors[s]) if errors is not None else {} for s in range(len(inputs))
        ]
        failures = {name: 0 for name in self.candidates}
        keep: list[int] = []
        rows: list[list[str | None]] = []
        for s, row in enumerate(answers):
            unknown = set(row) - set(self.candidates)
            if unknown:
                raise ValueError(
                    f"answers[{s}] names unknown candidates {sorted(unknown)}; expected names "
                    f"from {self.candidates}."
                )
            got = [_answer(row.get(name)) for name in self.candidates]
            for name, a in zip(self.candidates, got, strict=True):
                if a is None:
                    failures[name] += 1
                    if isinstance(row.get(name), str):
                        report_errors[s].setdefault(name, EMPTY_ANSWER)
                    else:
                        report_errors[s].setdefault(name, "no answer")
            n_ok = sum(a is not None for a in got)
            if n_ok == len(got) or (self.scorer.handles_missing and n_ok >= MIN_CANDIDATES):
                keep.append(s)
                rows.append(got)
        if not keep:
            raise ValueError(
                f"No calibration prompt has an answer from every candidate "
                f"(failures per candidate: {failures}); cannot calibrate."
            )
        kept_inputs = [inputs[s] for s in keep]
        scored = self.scorer.score(
            rows, kept_inputs, embedder=self.embedder, context=self._context(context)
        )
        k = resolve_n_neighbors(self.n_neighbors, len(keep))
        if k is not None and k > len(keep):
            raise ValueError(
                f"`n_neighbors`={k} needs at least {k} complete calibration prompts; got {len(keep)}."
            )
        ins = self.embed(kept_inputs)
        est = Smoothie(k, statistic=self.scorer.statistic, max_samples=self.max_pool_size).fit(
            sample_statistics=scored.rows, input_embeddings=ins, candidate_names=self.candidates
        )
        pw = None
        if scored.pairwise is not None and np.isfinite(scored.pairwise).all():
            pw = scored.pairwise.mean(axis=0)
        _w, rep, _n = est.decide(None, None, n_neighbors=None, pairwise=pw)
        with self._lock:
            self.estimator = est
            self.reliability_ = rep
        kept = set(keep)
        dropped = [s for s in range(len(inputs)) if s not in kept]
        self._maybe_warn(rep, "calibration", stacklevel=3)
        return CalibrationReport(len(inputs), len(keep), dropped, failures, rep, report_errors)

    # ------------------------------------------------------------------- route
    def route(self, text: str) -> Decision:
        """Choose a candidate for ``text`` without calling any model (route mode).

        The decision carries the reliability of the estimate it used (the calibration
        for Smoothie-Global, the ``k`` nearest calibration inputs for Smoothie-Local) and
        abstains as described in :class:`Router` (``abstain_below``).
        """
        return self._route_many([text], stacklevel=4)[0]

    def route_many(self, texts: Sequence[str]) -> list[Decision]:
        """:meth:`route` for several inputs with one embedding call."""
        return self._route_many(texts, stacklevel=4)

    def _route_many(self, texts: Sequence[str], *, stacklevel: int) -> list[Decision]:
        est = self._require_calibrated()
        k = resolve_n_neighbors(self.n_neighbors, est.n_samples_)
        queries = None if k is None else self.embed(texts)
        out = []
        with self._lock:
            est = self._require_calibrated()
            if k is None:
                w, rep, used = est.decide(None, None, n_neighbors=None)
                results = [(w, rep, used)] * len(texts)
            else:
                assert queries is not None
                kk = min(k, est.n_samples_)
                results = [est.decide(q, None, n_neighbors=kk) for q in queries]
            for w, rep, used in results:
                out.append(self._decision(w, rep, "route", self.candidates, n_neighbors=used))
        for d in out:
            if d.reliability is not None:
                self._maybe_warn(_report_of(d), "route decision", stacklevel=stacklevel)
        return out

    # ------------------------------------------------------------------ select
    def select(
        self,
        text: str,
        answers: Mapping[str, str | None],
        *,
        errors: Mapping[str, str] | None = None,
        update_pool: bool | None = None,
        context: ScoringContext | None = None,
    ) -> Decision:
        """Pick the best of the candidates' ``answers`` to ``text`` (select mode).

        Candidates missing from ``answers``, mapped to None, or answering an empty or
        whitespace-only string count as failed (``failed``/``errors``). Fallbacks,
        recorded in :attr:`Decision.fallback`:

        * fewer than 3 answers: the answer with the highest route-mode weight for this
          input if the router holds a pool, else the declared ``default`` if it
          answered, else the first answering candidate in candidate order; one
          answer is returned as is; none raises
          :class:`~smoothie_core.exceptions.AllCandidatesFailedError`;
        * all answers identical: the ``default`` if it answered, else the first.

        With every candidate answering and ``n_neighbors = k > 1``, the ``k - 1``
        nearest pooled inputs join this input's statistic. With some failed but at
        least 3 answering, the answers are scored on their own (the pool's statistics
        describe the full set of candidates), except by scorers that handle missing
        answers, which keep using the pool.

        ``update_pool=True`` adds this input to the pool (bounded by ``max_pool_size``),
        whatever ``n_neighbors`` is: select-mode traffic then also calibrates
        :meth:`route` (Smoothie-Global with ``n_neighbors=None``). ``None`` (default):
        the router's ``update_pool``.
        """
        unknown = set(answers) - set(self.candidates)
        if unknown:
            raise ValueError(
                f"`answers` names unknown candidates {sorted(unknown)}; expected names from "
                f"{self.candidates}."
            )
        got = {c: _answer(answers.get(c)) for c in self.candidates}
        present = [c for c in self.candidates if got[c] is not None]
        failed = [c for c in self.candidates if c not in present]
        errs = {
            c: str(
                (errors or {}).get(c)
                or (EMPTY_ANSWER if isinstance(answers.get(c), str) else "no answer")
            )
            for c in failed
        }
        if not present:
            raise AllCandidatesFailedError(errs, message="No candidate answered; cannot select.")
        if len(present) < MIN_CANDIDATES:
            return self._fallback_few(text, present, failed, errs)
        pool = self.update_pool if update_pool is None else bool(update_pool)
        decision = self._select(text, got, present, failed, errs, pool, context)
        if decision.reliability is not None:
            self._maybe_warn(_report_of(decision), "select decision", stacklevel=3)
        return decision

    def _select(
        self,
        text: str,
        got: Mapping[str, str | None],
        present: list[str],
        failed: list[str],
        errs: dict[str, str],
        update_pool: bool,
        context: ScoringContext | None,
    ) -> Decision:
        scorer = self.scorer
        full = not failed or scorer.handles_missing
        names = self.candidates if full else present
        scored = scorer.score(
            [[got[c] for c in names]],
            [text],
            embedder=self.embedder,
            context=self._context(context),
        )
        row = scored.rows[0]
        pairwise = None if scored.pairwise is None else scored.pairwise[0]
        if pairwise is not None and not np.isfinite(pairwise).all():
            pairwise = None
        with self._lock:
            pool = self.estimator if full else None
            n_pool = 0 if pool is None else pool.n_samples_
        k = resolve_n_neighbors(self.n_neighbors, n_pool + 1)
        if k is None and not scorer.statistic.pooled_select:
            k = 1
        uses_pool = pool is not None and (k is None or k > 1)
        inp = self.embed([text])[0] if (uses_pool or update_pool) and full else None
        with self._lock:
            pool = self.estimator if full else None
            if pool is not None and uses_pool:
                kk = None if k is None else min(k, pool.n_samples_ + 1)
                w, rep, used = pool.decide(inp, row, n_neighbors=kk, pairwise=pairwise)
            else:
                w, rep = scorer.statistic.decide(
                    row[None, :], np.array([0]), 0, names, pairwise=pairwise
                )
                used = 1
            decision = self._decision(
                w,
                rep,
                "select",
                names,
                n_neighbors=used,
                failed=failed,
                errors=errs,
                no_information=scorer.statistic.no_information(row),
                details=scored.details[0] if scored.details else None,
            )
            if update_pool and full and inp is not None:
                self._add_to_pool(row, inp)
        return decision

    # --------------------------------------------------------------- decisions
    def _decision(
        self,
        w: NDArray[np.float64],
        rep: Reliability,
        mode: Mode,
        names: Sequence[str],
        *,
        n_neighbors: int,
        failed: Sequence[str] = (),
        errors: Mapping[str, str] | None = None,
        no_information: bool = False,
        details: Mapping[str, Any] | None = None,
    ) -> Decision:
        """A decision from weights over ``names`` (the answering candidates in select
        mode), with the one abstention rule of the router."""
        present = [n for n in names if n not in failed]
        weights = {n: float(x) for n, x in zip(names, w, strict=True) if n in present}
        if len(present) < len(names):  # renormalise over the answering candidates
            total = sum(weights.values())
            if total > 0:
                weights = {n: x / total for n, x in weights.items()}
        choice = max(present, key=lambda n: (weights[n], -names.index(n)))
        chosen, fallback, abstained = choice, None, False
        if no_information:
            chosen = self.default if self.default in present else present[0]
            reason = self.scorer.statistic.no_information_reason
            fallback = f"{reason}, chose the default/first"
        elif self.abstain_below is not None and rep.score < self.abstain_below:
            abstained = True
            chosen, target = self._abstention_target(mode, present)
            fallback = (
                f"abstained: reliability {rep.score:.2f} < abstain_below={self.abstain_below}; "
                f"chose {target} {chosen!r}"
            )
        diagnostics: dict[str, Any] = {
            "reasons": list(rep.reasons),
            "checks": dict(rep.checks),
            "details": dict(rep.details),
            "smoothie_choice": choice,
            "signal": self.signal,
            "scorer": self.scorer.id,
        }
        if details:
            diagnostics.update(_named_details(details, names))
        return Decision(
            selected=chosen,
            weights=weights,
            mode=mode,
            failed=list(failed),
            n_neighbors=n_neighbors,
            fallback=fallback,
            errors=dict(errors or {}),
            reliability=float(rep.score),
            abstained=abstained,
            diagnostics=diagnostics,
        )

    def _abstention_target(self, mode: Mode, present: Sequence[str]) -> tuple[str, str]:
        """Where an abstaining decision goes (one rule for both modes)."""
        if self.default is not None and self.default in present:
            return self.default, "the declared default"
        if mode == "route" and self.n_neighbors is not None and self.estimator is not None:
            gw = self.estimator.global_weights_
            return self.candidates[int(select_best(gw))], "the calibrated global choice"
        if mode == "route":
            return self.candidates[0], "the first candidate (no default declared)"
        return present[0], "the first answering candidate (no default declared or it failed)"

    # ------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the calibrated/pooled state (no pickle; atomic; mode 0600; a symbolic link
        is replaced itself, as by :meth:`Smoothie.save`). See :meth:`Router.load`."""
        with self._lock:
            est = self._require_calibrated()
            meta = {
                "kind": "smoothie_core.Router",
                "embedder_id": self.embedder.id,
                "default": self.default,
                "max_pool_size": self.max_pool_size,
                "abstain_below": self.abstain_below,
                "n_neighbors": self.n_neighbors,
                "signal": self.signal,
                "scorer": {"name": self.scorer.name, "config": self.scorer.config()},
            }
            return est.save(path, metadata=meta)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        candidates: Sequence[str] | None = None,
        embedder: Embedder | None = None,
        n_neighbors: int | str | None = _KEEP,
        default: str | None = _KEEP,
        abstain_below: float | None = _KEEP,
        max_pool_size: int | None = _KEEP,
    ) -> Router:
        """Load a router saved by :meth:`save`.

        ``candidates``, if given, must equal the saved names (same order); ``embedder``
        must have the saved embedder's ``id`` (a different embedder gives incomparable
        vectors). ``n_neighbors``, ``default``, ``abstain_below`` and ``max_pool_size``
        override the saved values when given.
        """
        # the caller's overrides are the caller's values: check them as such first
        if n_neighbors is not _KEEP:
            check_n_neighbors_option(n_neighbors)
        if abstain_below is not _KEEP and abstain_below is not None:
            Router(["_a", "_b", "_c"], scorer="consensus", abstain_below=abstain_below)
        if max_pool_size is not _KEEP:
            Router(["_a", "_b", "_c"], scorer="consensus", max_pool_size=max_pool_size)
        est = Smoothie.load(path)
        meta = getattr(est, "metadata_", {})
        if meta.get("kind") != "smoothie_core.Router":
            raise StateFileError(f"{str(path)!r} holds a Smoothie estimator, not a Router state.")
        names = est.candidate_names_
        if candidates is not None and list(candidates) != names:
            raise ValueError(
                f"The saved router was calibrated for candidates {names}; got {list(candidates)}. "
                "Pass the same models, with the same names, in the same order."
            )
        spec = meta.get("scorer")
        try:
            if isinstance(spec, dict):
                scorer = scorer_from_config(str(spec.get("name")), dict(spec.get("config") or {}))
            else:  # files written before scorers existed
                scorer = get_scorer("coverage" if meta.get("signal") == "coverage" else "consensus")
            scorer = scorer.bind(names)
        except (TypeError, ValueError) as err:
            raise StateFileError(f"{str(path)!r} names an invalid scorer {spec!r}: {err}") from err
        if scorer.statistic != est._stat():
            raise StateFileError(
                f"{str(path)!r}: the scorer {scorer.id!r} does not match the saved statistic "
                f"{est._stat()!r}."
            )
        saved_k = meta.get("n_neighbors", est.n_neighbors)
        try:
            router = cls(
                names,
                scorer=scorer,
                embedder=embedder,
                n_neighbors=saved_k if n_neighbors is _KEEP else n_neighbors,
                max_pool_size=meta.get("max_pool_size")
                if max_pool_size is _KEEP
                else max_pool_size,
                default=meta.get("default") if default is _KEEP else default,
                abstain_below=meta.get("abstain_below")
                if abstain_below is _KEEP
                else abstain_below,
            )
        except (TypeError, ValueError) as err:
            raise StateFileError(f"{str(path)!r} holds invalid router settings: {err}") from err
        if embedder is not None and embedder.id != meta.get("embedder_id"):
            raise ValueError(
                f"The saved router was calibrated with embedder {meta.get('embedder_id')!r}; "
                f"got {embedder.id!r}. Use the same embedder (or recalibrate)."
            )
        k = resolve_n_neighbors(router.n_neighbors, est.n_samples_)
        if k is not None and est.input_embeddings_ is None:
            raise StateFileError(f"{str(path)!r} has no input embeddings for n_neighbors={k}.")
        est.n_neighbors = k
        router.estimator = est
        return router

    # ---------------------------------------------------------------- helpers
    def _context(self, context: ScoringContext | None) -> ScoringContext | None:
        if context is None or context.candidates:
            return context
        return dataclasses.replace(context, candidates=list(self.candidates))

    def _require_calibrated(self) -> Smoothie:
        if self.estimator is None:
            raise NotFittedError(
                "This router has no calibration yet; call calibrate (route mode) first, or "
                "select with update_pool=True to build a pool."
            )
        return self.estimator

    def _add_to_pool(self, row: NDArray[np.float64], inp: NDArray[np.float32]) -> None:
        """Append one scored input (call under the lock)."""
        if self.estimator is None:
            k = resolve_n_neighbors(self.n_neighbors, AUTO_NEIGHBORS_CAP)
            self.estimator = Smoothie(
                k, statistic=self.scorer.statistic, max_samples=self.max_pool_size
            )
        self.estimator.partial_fit(
            sample_statistics=row[None, :],
            input_embeddings=inp[None, :],
            candidate_names=self.candidates,
        )

    def _global_reliability(self) -> Reliability:
        """The calibration's (or pool's) global report."""
        with self._lock:
            est = self._require_calibrated()
            rep = self.reliability_
            if rep is None or rep.details.get("n_samples") != est.n_samples_:
                rep = est.decide(None, None, n_neighbors=None)[1]
                self.reliability_ = rep
            return rep

    def _maybe_warn(self, rep: Reliability, what: str, *, stacklevel: int) -> None:
        """One :class:`ReliabilityWarning` per router, the first time reliability is low."""
        with self._lock:
            if self._warned or rep.score >= WARN_BELOW:
                return
            self._warned = True
        why = rep.reasons[0] if rep.reasons else "see Decision.diagnostics"
        message = (
            f"Smoothie's {what} has low reliability ({rep.score:.2f} < {WARN_BELOW}): {why} "
            "Declare a trusted `default=` and set `abstain_below=0.5` on the Router to fall "
            "back to it automatically; each Decision carries `reliability` and `diagnostics`. "
            "(This warning is shown once per router.)"
        )
        level = _user_stacklevel()
        origin = _ORIGIN.get()
        if level == 1 and origin is not None:  # a worker thread: the captured user frame
            filename, lineno, module = origin
            warnings.warn_explicit(
                message, ReliabilityWarning, filename, lineno, module=module, registry={}
            )
            return
        warnings.warn(message, ReliabilityWarning, stacklevel=max(stacklevel, level))

    def _fallback_few(
        self, text: str, present: list[str], failed: list[str], errs: dict[str, str]
    ) -> Decision:
        weights = {c: 1.0 / len(present) for c in present}
        if len(present) == 1:
            chosen, why = present[0], "only one candidate answered"
        elif self.pool_size > 0:  # a pool (Local states always hold inputs)
            route = self.route(text)
            sub = {c: route.weights[c] for c in present}
            total = sum(sub.values())
            weights = {c: v / total for c, v in sub.items()}
            chosen = max(present, key=lambda c: (weights[c], -present.index(c)))
            why = f"only {len(present)} candidates answered: chose by the pool's route-mode weights"
        elif self.default in present:
            assert self.default is not None
            chosen, why = (
                self.default,
                f"only {len(present)} candidates answered: chose the default",
            )
        else:
            chosen = present[0]
            why = f"only {len(present)} candidates answered: chose the first in candidate order"
        return Decision(
            selected=chosen,
            weights=weights,
            mode="select",
            failed=failed,
            fallback=why,
            errors=errs,
        )


def _answer(value: Any) -> str | None:
    """An answer, or None when the candidate failed (None, empty or whitespace-only)."""
    if isinstance(value, str) and value.strip():
        return value
    return None


def _report_of(d: Decision) -> Reliability:
    assert d.reliability is not None
    return Reliability(
        d.reliability,
        d.diagnostics.get("reasons", []),
        d.diagnostics.get("checks", {}),
        d.diagnostics.get("details", {}),
    )


def _named_details(details: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """Scorer details with per-candidate lists turned into name -> value maps."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, list) and len(value) == len(names):
            out[key] = dict(zip(names, value, strict=True))
        else:
            out[key] = value
    return out
