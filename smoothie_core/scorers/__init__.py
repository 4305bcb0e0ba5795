"""Scorers: what is compared between the candidates' answers (see :mod:`~smoothie_core.scorers.base`).

Built in, by name (:func:`get_scorer`):

``consensus``
    The paper's estimator on embeddings of each answer's first 256 word pieces.
``consensus_last``, ``consensus_windows``, ``consensus_answer``
    The same on another text view: the last 256 pieces, the mean of windows over the
    whole text, the stated final answer (:mod:`smoothie_core.textviews`).
``coverage``
    Asymmetric coverage of answer chunks (experimental; :mod:`smoothie_core.asymmetric`).
``answer``
    Agreement of stated final answers under a label model (Dawid-Skene), falling back to
    embedding consensus where no answers can be extracted.
``answer_coverage``
    ``answer`` with coverage as the fallback.
``peer_review``
    The candidates (or given judge models) grade each other's answers; judges'
    reliabilities are estimated without labels (needs a judge, given by the front door).

Examples
--------
>>> get_scorer("consensus_last")
ConsensusScorer(view='last')
>>> get_scorer("answer").statistic.name
'answer'
>>> "consensus" in available_scorers()
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smoothie_core.scorers.answer import AnswerAgreementScorer
from smoothie_core.scorers.base import JudgeFn, Scored, Scorer, ScoringContext
from smoothie_core.scorers.consensus import TEXT_VIEWS, ConsensusScorer, CoverageScorer

__all__ = [
    "TEXT_VIEWS",
    "AnswerAgreementScorer",
    "ConsensusScorer",
    "CoverageScorer",
    "JudgeFn",
    "Scored",
    "Scorer",
    "ScoringContext",
    "available_scorers",
    "get_scorer",
    "register_scorer",
    "scorer_from_config",
]

_PRESETS: dict[str, Callable[..., Scorer]] = {
    "consensus": ConsensusScorer,
    "consensus_last": lambda **kw: ConsensusScorer(view="last", **kw),
    "consensus_windows": lambda **kw: ConsensusScorer(view="windows", **kw),
    "consensus_answer": lambda **kw: ConsensusScorer(view="answer", **kw),
    "coverage": CoverageScorer,
    "answer": AnswerAgreementScorer,
    "answer_coverage": lambda **kw: AnswerAgreementScorer(fallback="coverage", **kw),
}

#: Scorer classes by :attr:`Scorer.name`, for rebuilding a saved scorer.
_CLASSES: dict[str, Callable[..., Scorer]] = {
    "consensus": ConsensusScorer,
    "coverage": CoverageScorer,
    "answer": AnswerAgreementScorer,
}


def register_scorer(name: str, factory: Callable[..., Scorer], *, overwrite: bool = False) -> None:
    """Make ``factory(**kwargs)`` available as ``get_scorer(name)`` (and in the CLI and evaluation)."""
    if not name.isidentifier():
        raise ValueError(f"scorer names must be identifiers like 'my_scorer'; got {name!r}.")
    if name in _PRESETS and not overwrite:
        raise ValueError(f"a scorer named {name!r} is already registered; pass overwrite=True.")
    _PRESETS[name] = factory


def available_scorers() -> list[str]:
    """Registered scorer names."""
    _load_peer_review()
    return sorted(_PRESETS)


def get_scorer(spec: str | Scorer | None = None, **kwargs: Any) -> Scorer:
    """A scorer by name (``None``: the library default), or ``spec`` itself if it is one."""
    if isinstance(spec, Scorer):
        if kwargs:
            raise ValueError("keyword options only apply to a scorer given by name.")
        return spec
    if spec is None:
        from smoothie_core.defaults import DEFAULT_SCORER

        spec = DEFAULT_SCORER
    if not isinstance(spec, str):
        raise TypeError(
            f"`scorer` must be a scorer name or a Scorer object; got {type(spec).__name__}."
        )
    _load_peer_review()
    if spec not in _PRESETS:
        raise ValueError(f"unknown scorer {spec!r}; available: {', '.join(sorted(_PRESETS))}.")
    return _PRESETS[spec](**kwargs)


def scorer_from_config(name: str, config: dict[str, Any]) -> Scorer:
    """Rebuild a scorer from its :attr:`Scorer.name` and :meth:`Scorer.config` (state files)."""
    _load_peer_review()
    if name not in _CLASSES:
        raise ValueError(f"unknown scorer {name!r}; expected one of {sorted(_CLASSES)}.")
    try:
        return _CLASSES[name](**config)
    except (TypeError, ValueError) as err:
        raise ValueError(f"bad parameters for scorer {name!r}: {err}") from err


def _load_peer_review() -> None:
    """Register the peer-review scorer (its module is imported on first use)."""
    if "peer_review" in _PRESETS:
        return
    try:
        from smoothie_core.scorers.peer import PeerReviewScorer
    except ImportError:  # pragma: no cover - the module ships with the package
        return
    _PRESETS["peer_review"] = PeerReviewScorer
    _CLASSES["peer_review"] = PeerReviewScorer
