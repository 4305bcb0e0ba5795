"""Asymmetric coverage (issue 8, item 3): chunking, the score, the Global/Local estimator."""

from __future__ import annotations

import numpy as np
import pytest

from smoothie_core.asymmetric import (
    Coverage,
    coverage_matrix,
    coverage_scores,
    embed_chunks,
    word_chunks,
)
from smoothie_core.embedders import HashingEmbedder
from smoothie_core.exceptions import NotFittedError

FACTS = [
    "the river flows north through the old valley",
    "copper wires carry the current to the lamp",
    "bakers knead the dough before sunrise daily",
    "the comet returns every seventy six years",
]


def _scores(answers: list[str], budget: int = 60) -> np.ndarray:
    chunks = [word_chunks(a, budget=budget, window=8) for a in answers]
    return coverage_scores(embed_chunks(chunks, HashingEmbedder(dim=512)))


def test_equal_budget_gives_equal_chunks() -> None:
    long = " ".join(f"w{i}" for i in range(500))
    mid = " ".join(f"v{i}" for i in range(61))
    assert [len(c.split()) for c in word_chunks(long)] == [15, 15, 15, 15]
    assert [len(c.split()) for c in word_chunks(mid)] == [15, 15, 15, 15]
    with pytest.raises(ValueError, match="`budget` and `window` must be positive ints; got 0"):
        word_chunks("x", budget=0)


def test_answer_covering_the_others_scores_highest() -> None:
    union = " ".join(FACTS[:3])
    answers = [FACTS[0], union, FACTS[1], FACTS[2] + " and nothing else"]
    s = _scores(answers)
    assert int(np.argmax(s)) == 1
    assert s.sum() == pytest.approx(0.0, abs=1e-12)


def test_text_beyond_the_budget_is_ignored() -> None:
    answers = [FACTS[0] + " " + FACTS[1], FACTS[1], FACTS[2]]
    padded = [answers[0] + " " + " ".join(["padding"] * 200), *answers[1:]]
    np.testing.assert_allclose(_scores(answers, budget=16), _scores(padded, budget=16))


def test_empty_answer_scores_lowest() -> None:
    s = _scores([FACTS[0], "", FACTS[1]])
    assert int(np.argmin(s)) == 1


def test_coverage_matrix_is_not_symmetric() -> None:
    e = [np.eye(4)[:3], np.eye(4)[:1], np.eye(4)[3:]]
    cov = coverage_matrix(e)
    assert cov[0, 1] == 1.0 and cov[1, 0] == pytest.approx(1 / 3)


def test_coverage_global_and_local() -> None:
    emb = HashingEmbedder(dim=256)
    answers = [[" ".join(FACTS[:3]), FACTS[0], FACTS[2]] for _ in range(6)]
    inputs = np.random.default_rng(0).normal(size=(6, 4))
    glob = Coverage(emb).fit(answers)
    assert glob.scores_.shape == (6, 3)
    assert glob.predict(n_queries=2).tolist() == [0, 0]
    local = Coverage(emb, n_neighbors=2).fit(answers, inputs)
    assert local.predict(inputs[:3]).tolist() == [0, 0, 0]
    assert local.predict_scores(inputs[:1]).shape == (1, 3)


def test_coverage_errors() -> None:
    emb = HashingEmbedder(dim=32)
    with pytest.raises(NotFittedError, match="call fit first"):
        Coverage(emb).predict(n_queries=1)
    with pytest.raises(ValueError, match=r"needs `input_embeddings` of shape"):
        Coverage(emb, n_neighbors=2).fit([["a", "b", "c"]])
    with pytest.raises(
        ValueError, match=r"same number \(>= 2\) of answers; got row lengths \[2, 3\]"
    ):
        Coverage(emb).fit([["a", "b"], ["a", "b", "c"]])
    with pytest.raises(ValueError, match="at least 2 answers"):
        coverage_scores([np.eye(2)])
