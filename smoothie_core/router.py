"""Router state shared by the integrations: candidates by name, select and route modes.

The LangChain and LlamaIndex front doors translate their framework's objects into
texts and call a :class:`Router`; all estimator logic lives here and in
:mod:`smoothie_core.triplet`.

Modes (see ARCHITECTURE.md):

* **select** (test-time): every candidate answered the input; :meth:`Router.select`
  scores the answers. ``n_neighbors=None`` or ``1`` scores the answers on their own
  (per-sample Smoothie); an int ``k > 1`` adds the ``k - 1`` nearest earlier inputs of
  the pool (Smoothie-Local). With ``update_pool=True`` each scored input joins the pool
  (bounded by ``max_pool_size``, oldest dropped first).
* **route** (train-time): :meth:`Router.calibrate` on unlabeled prompts' answers, then
  :meth:`Router.route` picks a candidate for a new input before any model is called
  (``n_neighbors=None``: Smoothie-Global; ``k``: Smoothie-Local).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from smoothie_core._validation import MIN_CANDIDATES, check_candidate_names, check_n_neighbors
from smoothie_core.asymmetric import Coverage
from smoothie_core.diagnostics import (
    Reliability,
    ReliabilityWarning,
    diagnose_deltas,
    diagnose_scores,
    mean_pairwise_sq_distances,
)
from smoothie_core.embedders import Embedder, default_embedder
from smoothie_core.estimator import Smoothie
from smoothie_core.exceptions import NotFittedError, StateFileError
from smoothie_core.triplet import neighbor_mean, sample_deltas, select_best, weights_from_deltas

__all__ = ["Router", "Decision", "CalibrationReport", "WARN_BELOW"]

Mode = Literal["select", "route"]
Signal = Literal["smoothie", "coverage"]

#: A router warns (once) when a fit or decision has a reliability score below this.
WARN_BELOW = 0.5


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
        Candidates that errored or timed out (select mode).
    n_neighbors : int
        Number of samples whose statistics were averaged (1 = this input alone).
    fallback : str or None
        Why the decision did not come from Smoothie weights (too few answers, no
        information), or None.
    errors : dict of str to str
        Error message per failed candidate.
    reliability : float or None
        Reliability score in [0, 1] of the Smoothie estimate behind this decision (see
        :mod:`smoothie_core.diagnostics`); None when Smoothie was not applicable (fewer
        than 3 answers).
    abstained : bool
        True when the reliability was below the router's ``abstain_below`` and the
        decision fell back (to the declared default, see :class:`Router`).
    diagnostics : dict
        ``reasons`` (plain language), ``checks`` (sub-scores), ``details`` (measured
        quantities) and ``smoothie_choice`` (what the weights alone would pick).
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


class Router:
    """Smoothie state for a named pool of candidates, in select or route mode.

    Parameters
    ----------
    candidates : sequence of str
        Candidate names, in a fixed order (at least 3).
    embedder : Embedder, optional
        Defaults to the offline all-MiniLM-L6-v2 (:func:`default_embedder`), loaded on first use.
    n_neighbors : int or None
        See the module docstring.
    max_pool_size : int or None
        Bound on the samples kept for Smoothie-Local (oldest dropped first).
    default : str or None
        Declared default candidate: chosen when no information distinguishes candidates
        and when fewer than 3 answers arrived and nothing else decides, and the target
        of abstention.
    abstain_below : float or None
        Abstention policy (off by default). When a decision's reliability score (see
        :mod:`smoothie_core.diagnostics`) is below this, the router abstains from the
        Smoothie pick and falls back to the declared ``default`` (select mode: if it
        answered); without a default, route mode with ``n_neighbors=k`` falls back to
        the calibrated Smoothie-Global choice, otherwise to the first candidate (in
        candidate order) that answered. The decision records ``abstained=True``.
        0.5 is a reasonable value. Independently of this, the router emits one
        :class:`~smoothie_core.diagnostics.ReliabilityWarning` the first time a fit or
        decision scores below ``WARN_BELOW`` (0.5).
    signal : "smoothie" or "coverage"
        What ranks the candidates. ``"smoothie"`` (default): the paper's triplet
        estimator. ``"coverage"`` (experimental): asymmetric coverage
        (:mod:`smoothie_core.asymmetric`), which beat the triplet estimator on pools with
        one strong model among alike weak ones (README, "When Smoothie works, and when it
        does not"); use it calibrated (route mode, Global or ``n_neighbors >= 20``), as
        the per-input version is weak. Cost: four 15-word chunks embedded per answer
        (measured ~1.8x the time of embedding whole answers). Weights are the softmax
        of the coverage scores; reliability comes from the ``samples`` check only.

    Examples
    --------
    >>> from smoothie_core import HashingEmbedder, Router
    >>> router = Router(["a", "b", "c"], embedder=HashingEmbedder())
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
        embedder: Embedder | None = None,
        n_neighbors: int | None = None,
        max_pool_size: int | None = None,
        default: str | None = None,
        abstain_below: float | None = None,
        signal: Signal = "smoothie",
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
        self.abstain_below = None if abstain_below is None else float(abstain_below)
        if signal not in ("smoothie", "coverage"):
            raise ValueError(f"`signal` must be 'smoothie' or 'coverage'; got {signal!r}.")
        self.signal: Signal = signal
        #: Per-sample coverage scores aligned with the pool (``signal="coverage"``), or None.
        self.coverage_scores_: NDArray[np.float64] | None = None
        #: Reliability report of the last calibration (route mode), or None.
        self.reliability_: Reliability | None = None
        self._warned = False
        self.candidates = names
        self.n_neighbors = check_n_neighbors(n_neighbors)
        self.max_pool_size = max_pool_size
        self.default = default
        self._embedder = embedder
        self.estimator: Smoothie | None = None

    # ----------------------------------------------------------------- embedder
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
        return 0 if self.estimator is None else self.estimator.n_samples_

    # --------------------------------------------------------------- calibrate
    def calibrate(
        self, inputs: Sequence[str], answers: Sequence[Mapping[str, str | None]]
    ) -> CalibrationReport:
        """Fit the route-mode state on unlabeled prompts and every candidate's answers.

        ``answers[s]`` maps candidate name to its answer on ``inputs[s]`` (None or a
        missing name = that candidate failed). Prompts without all answers are
        dropped and counted (the triplet statistic needs every candidate).
        """
        if len(inputs) != len(answers):
            raise ValueError(
                f"`inputs` and `answers` must have the same length; got {len(inputs)} and {len(answers)}."
            )
        failures = {name: 0 for name in self.candidates}
        keep: list[int] = []
        for s, row in enumerate(answers):
            unknown = set(row) - set(self.candidates)
            if unknown:
                raise ValueError(
                    f"answers[{s}] names unknown candidates {sorted(unknown)}; expected names "
                    f"from {self.candidates}."
                )
            ok = True
            for name in self.candidates:
                if not isinstance(row.get(name), str):
                    failures[name] += 1
                    ok = False
            if ok:
                keep.append(s)
        if not keep:
            raise ValueError(
                f"No calibration prompt has an answer from every candidate "
                f"(failures per candidate: {failures}); cannot calibrate."
            )
        k = self.n_neighbors
        if k is not None and k > len(keep):
            raise ValueError(
                f"`n_neighbors`={k} needs at least {k} complete calibration prompts; got {len(keep)}."
            )
        texts = [str(answers[s][name]) for s in keep for name in self.candidates]
        outs = self.embed(texts).reshape(len(keep), len(self.candidates), -1)
        ins = self.embed([inputs[s] for s in keep])
        self.estimator = Smoothie(k, max_samples=self.max_pool_size).fit(
            outs, ins, candidate_names=self.candidates
        )
        kept = set(keep)
        dropped = [s for s in range(len(inputs)) if s not in kept]
        self.reliability_ = diagnose_deltas(
            self.estimator.sample_deltas_,
            candidate_names=self.candidates,
            pairwise=mean_pairwise_sq_distances(outs),
        )
        if self.signal == "coverage":
            rows = [[str(answers[s][c]) for c in self.candidates] for s in keep]
            scores = Coverage(self.embedder).sample_scores(rows)
            self.coverage_scores_ = scores[len(scores) - self.estimator.n_samples_ :]
            self.reliability_ = diagnose_scores(
                self.coverage_scores_, candidate_names=self.candidates
            )
        self._maybe_warn(self.reliability_, "calibration", stacklevel=3)
        return CalibrationReport(len(inputs), len(keep), dropped, failures, self.reliability_)

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
        k = self.n_neighbors
        cov = self.coverage_scores_ if self.signal == "coverage" else None
        if self.signal == "coverage" and (cov is None or len(cov) != est.n_samples_):
            raise NotFittedError(
                "This router uses signal='coverage' but holds no coverage scores for its "
                "pool; call calibrate first."
            )
        if k is None:
            used = est.n_samples_
            if cov is None:
                w = np.tile(est.global_weights_, (len(texts), 1))
                reports = [self._global_reliability()] * len(texts)
            else:
                w = np.tile(_softmax(cov.mean(axis=0)), (len(texts), 1))
                reports = [diagnose_scores(cov, candidate_names=self.candidates)] * len(texts)
        else:
            used = min(k, est.n_samples_)
            idx = est.kneighbors(
                self.embed(texts), used
            )  # one search serves weights and diagnostics
            if cov is None:
                deltas = est.sample_deltas_
                w = weights_from_deltas(neighbor_mean(deltas, idx))
                reports = [
                    diagnose_deltas(deltas[row], candidate_names=self.candidates) for row in idx
                ]
            else:
                w = np.array([_softmax(cov[row].mean(axis=0)) for row in idx])
                reports = [
                    diagnose_scores(cov[row], candidate_names=self.candidates) for row in idx
                ]
        out = []
        for row, rep in zip(w, reports, strict=True):
            decision = self._decision(row, "route", n_neighbors=used, reliability=rep)
            self._maybe_warn(rep, "route decision", stacklevel=stacklevel)
            out.append(decision)
        return out

    # ------------------------------------------------------------------ select
    def select(
        self,
        text: str,
        answers: Mapping[str, str | None],
        *,
        errors: Mapping[str, str] | None = None,
        update_pool: bool = False,
    ) -> Decision:
        """Pick the best of the candidates' ``answers`` to ``text`` (select mode).

        Candidates missing from ``answers`` (or mapped to None) count as failed.
        Fallbacks, recorded in :attr:`Decision.fallback`:

        * fewer than 3 answers: the answer with the highest route-mode weight for this
          input if the router holds a pool, else the declared ``default`` if it
          answered, else the first answering candidate in candidate order; one
          answer is returned as is; none raises ``ValueError``;
        * all answers identical: the ``default`` if it answered, else the first.

        With every candidate answering and ``n_neighbors = k > 1``, the ``k - 1``
        nearest pooled inputs join this input's statistic. With some failed but at
        least 3 answering, the answers are scored on their own (the pool's statistics
        describe the full set of candidates).

        ``update_pool=True`` adds this input to the pool when every candidate answered
        (bounded by ``max_pool_size``), whatever ``n_neighbors`` is: select-mode traffic
        then also calibrates :meth:`route` (Smoothie-Global with ``n_neighbors=None``).
        """
        unknown = set(answers) - set(self.candidates)
        if unknown:
            raise ValueError(
                f"`answers` names unknown candidates {sorted(unknown)}; expected names from "
                f"{self.candidates}."
            )
        present = [c for c in self.candidates if isinstance(answers.get(c), str)]
        failed = [c for c in self.candidates if c not in present]
        errs = {c: str((errors or {}).get(c, "no answer")) for c in failed}
        if not present:
            raise ValueError(f"No candidate answered; cannot select. Errors: {errs}.")
        if len(present) < MIN_CANDIDATES:
            return self._fallback_few(text, present, failed, errs)
        decision = self._select(text, answers, present, failed, errs, update_pool)
        if decision.reliability is not None:
            rep = Reliability(
                decision.reliability,
                decision.diagnostics["reasons"],
                decision.diagnostics["checks"],
                decision.diagnostics["details"],
            )
            self._maybe_warn(rep, "select decision", stacklevel=3)
        return decision

    def _select(
        self,
        text: str,
        answers: Mapping[str, str | None],
        present: list[str],
        failed: list[str],
        errs: dict[str, str],
        update_pool: bool,
    ) -> Decision:
        texts = [str(answers[c]) for c in present]
        local = self.n_neighbors is not None and self.n_neighbors > 1 and self.pool_size > 0
        need_input = (update_pool or local) and not failed
        embedded = self.embed([*texts, text] if need_input else texts)
        outs = embedded[: len(texts)][None]
        inp = embedded[len(texts) :] if need_input else None
        used = 1
        own = sample_deltas(outs)
        hood = own
        idx: NDArray[np.intp] | None = None
        if failed:
            deltas = own
        elif self.n_neighbors is not None and self.n_neighbors > 1 and self.pool_size > 0:
            assert self.estimator is not None and inp is not None
            used = min(self.n_neighbors, self.pool_size + 1)
            # this input is its own nearest neighbour, plus its used - 1 nearest pooled inputs
            # (what Smoothie.predict_weights(inp, outs) computes; one search for all uses here)
            idx = self.estimator.kneighbors(inp, used - 1)[0]
            hood = np.concatenate([own, self.estimator.sample_deltas_[idx]])
            w = weights_from_deltas(hood.mean(axis=0))
            deltas = None
        else:
            deltas = own
        if deltas is not None:
            w = weights_from_deltas(deltas)[0]
        rep = diagnose_deltas(
            hood, candidate_names=present, pairwise=mean_pairwise_sq_distances(outs)
        )
        own_cov = None
        if self.signal == "coverage":
            own_cov = Coverage(self.embedder).sample_scores([texts])
            cov_hood = own_cov
            pool_cov = self.coverage_scores_
            if (
                not failed
                and used > 1
                and pool_cov is not None
                and self.estimator is not None
                and len(pool_cov) == self.estimator.n_samples_
            ):
                assert idx is not None
                cov_hood = np.concatenate([own_cov, pool_cov[idx]])
            w = _softmax(cov_hood.mean(axis=0))
            rep = diagnose_scores(cov_hood, candidate_names=present)
            deltas = None if deltas is None or np.any(deltas) else deltas
        fallback = None
        abstained = False
        if deltas is not None and not np.any(deltas):
            fallback = "all answers identical: no information, chose the default/first"
            chosen = self.default if self.default in present else present[0]
            smoothie_choice = chosen
        else:
            chosen = smoothie_choice = present[int(select_best(w))]
            if self.abstain_below is not None and rep.score < self.abstain_below:
                abstained = True
                if self.default in present:
                    chosen, target = str(self.default), "the declared default"
                else:
                    chosen, target = (
                        present[0],
                        "the first answering candidate (no default declared or it failed)",
                    )
                fallback = (
                    f"abstained: reliability {rep.score:.2f} < abstain_below={self.abstain_below}; "
                    f"chose {target} {chosen!r}"
                )
        if update_pool and not failed and inp is not None:
            self._add_to_pool(outs, inp, own_cov)
        return Decision(
            selected=chosen,
            weights={c: float(x) for c, x in zip(present, w, strict=True)},
            mode="select",
            failed=failed,
            n_neighbors=used,
            fallback=fallback,
            errors=errs,
            reliability=rep.score,
            abstained=abstained,
            diagnostics=_diagnostics(rep, smoothie_choice, self.signal),
        )

    # ------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the calibrated/pooled state (no pickle; atomic). See :meth:`Router.load`."""
        est = self._require_calibrated()
        meta = {
            "kind": "smoothie_core.Router",
            "embedder_id": self.embedder.id,
            "default": self.default,
            "max_pool_size": self.max_pool_size,
            "abstain_below": self.abstain_below,
            "signal": self.signal,
        }
        if self.coverage_scores_ is not None:
            meta["coverage_scores"] = self.coverage_scores_.tolist()
        return est.save(path, metadata=meta)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        candidates: Sequence[str] | None = None,
        embedder: Embedder | None = None,
    ) -> Router:
        """Load a router saved by :meth:`save`.

        ``candidates``, if given, must equal the saved names (same order); ``embedder``
        must have the saved embedder's ``id`` (a different embedder gives incomparable
        vectors).
        """
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
        router = cls(
            names,
            embedder=embedder,
            n_neighbors=est.n_neighbors,
            max_pool_size=meta.get("max_pool_size"),
            default=meta.get("default"),
            abstain_below=meta.get("abstain_below"),
            signal=meta.get("signal", "smoothie"),
        )
        if embedder is not None and embedder.id != meta.get("embedder_id"):
            raise ValueError(
                f"The saved router was calibrated with embedder {meta.get('embedder_id')!r}; "
                f"got {embedder.id!r}. Use the same embedder (or recalibrate)."
            )
        router.estimator = est
        cov = meta.get("coverage_scores")
        if cov is not None:
            arr = np.asarray(cov, dtype=np.float64)
            if arr.shape != (est.n_samples_, len(names)) or not np.isfinite(arr).all():
                raise StateFileError(
                    f"{str(path)!r}: coverage_scores has shape {arr.shape}; expected "
                    f"({est.n_samples_}, {len(names)}) finite values."
                )
            router.coverage_scores_ = arr
        return router

    # ---------------------------------------------------------------- helpers
    def _require_calibrated(self) -> Smoothie:
        if self.estimator is None:
            raise NotFittedError(
                "This router has no calibration yet; call calibrate (route mode) first, or "
                "select with update_pool=True to build a pool."
            )
        return self.estimator

    def _add_to_pool(
        self,
        outs: NDArray[np.float32],
        inp: NDArray[np.float32],
        coverage: NDArray[np.float64] | None = None,
    ) -> None:
        if self.estimator is None:
            self.estimator = Smoothie(self.n_neighbors, max_samples=self.max_pool_size)
            self.coverage_scores_ = None
        self.estimator.partial_fit(outs, inp, candidate_names=self.candidates)
        if coverage is not None:
            old = self.coverage_scores_
            rows = coverage if old is None else np.concatenate([old, coverage])
            self.coverage_scores_ = rows[max(0, len(rows) - self.estimator.n_samples_) :]

    def _decision(
        self,
        w: NDArray[np.float64],
        mode: Mode,
        *,
        n_neighbors: int,
        reliability: Reliability | None = None,
    ) -> Decision:
        choice = self.candidates[int(select_best(w))]
        chosen, fallback, abstained = choice, None, False
        if (
            reliability is not None
            and self.abstain_below is not None
            and reliability.score < self.abstain_below
        ):
            abstained = True
            if self.default is not None:
                chosen, target = self.default, "the declared default"
            elif self.n_neighbors is not None and self.estimator is not None:
                gw = self.estimator.global_weights_
                chosen, target = (
                    self.candidates[int(select_best(gw))],
                    "the calibrated global choice",
                )
            else:
                chosen, target = self.candidates[0], "the first candidate (no default declared)"
            fallback = (
                f"abstained: reliability {reliability.score:.2f} < abstain_below="
                f"{self.abstain_below}; chose {target} {chosen!r}"
            )
        return Decision(
            selected=chosen,
            weights={c: float(x) for c, x in zip(self.candidates, w, strict=True)},
            mode=mode,
            n_neighbors=n_neighbors,
            fallback=fallback,
            reliability=None if reliability is None else reliability.score,
            abstained=abstained,
            diagnostics={}
            if reliability is None
            else _diagnostics(reliability, choice, self.signal),
        )

    def _global_reliability(self) -> Reliability:
        """The calibration's report (recomputed from the statistics after load/pool updates)."""
        est = self._require_calibrated()
        rep = self.reliability_
        if rep is None or rep.details.get("n_samples") != est.n_samples_:
            rep = diagnose_deltas(est.sample_deltas_, candidate_names=self.candidates)
            self.reliability_ = rep
        return rep

    def _maybe_warn(self, rep: Reliability, what: str, *, stacklevel: int) -> None:
        """One :class:`ReliabilityWarning` per router, the first time reliability is low."""
        if self._warned or rep.score >= WARN_BELOW:
            return
        self._warned = True
        why = rep.reasons[0] if rep.reasons else "see Decision.diagnostics"
        warnings.warn(
            f"Smoothie's {what} has low reliability ({rep.score:.2f} < {WARN_BELOW}): {why} "
            "Declare a trusted `default=` and set `abstain_below=0.5` on the Router to fall "
            "back to it automatically; each Decision carries `reliability` and `diagnostics`. "
            "(This warning is shown once per router.)",
            ReliabilityWarning,
            stacklevel=stacklevel,
        )

    def _fallback_few(
        self, text: str, present: list[str], failed: list[str], errs: dict[str, str]
    ) -> Decision:
        weights = {c: 1.0 / len(present) for c in present}
        if len(present) == 1:
            chosen, why = present[0], "only one candidate answered"
        elif self.estimator is not None:  # a pool (Local states always hold inputs)
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


def _diagnostics(
    rep: Reliability, smoothie_choice: str, signal: str = "smoothie"
) -> dict[str, Any]:
    return {
        "reasons": list(rep.reasons),
        "checks": dict(rep.checks),
        "details": dict(rep.details),
        "smoothie_choice": smoothie_choice,
        "signal": signal,
    }


def _softmax(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    z = np.exp(scores - scores.max())
    out: NDArray[np.float64] = z / z.sum()
    return out
