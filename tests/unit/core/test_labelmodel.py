"""The one-coin label model over stated answers: recovery, posteriors, safeguards."""

from __future__ import annotations

import numpy as np
import pytest

from smoothie_core.labelmodel import (
    _flip_check as flip_check,
)
from smoothie_core.labelmodel import (
    answer_classes_from_ids,
    class_posteriors,
    fit_label_model,
    fit_label_models,
)


def planted(
    seed: int, acc: list[float], n: int = 600, k_wrong: int = 4, missing: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Answers of candidates with accuracies ``acc``; wrong answers uniform over ``k_wrong``."""
    rng = np.random.default_rng(seed)
    a = np.asarray(acc)
    truth = np.full(n, 1000)
    right = rng.random((n, len(a))) < a
    ids = np.where(right, truth[:, None], rng.integers(0, k_wrong, (n, len(a))))
    if missing:
        ids = np.where(rng.random(ids.shape) < missing, -1, ids)
    return answer_classes_from_ids(ids), right


def test_classes_canonicalise_agreement() -> None:
    assert answer_classes_from_ids([[5, 5, 9], [-1, 3, 3]]).tolist() == [[0, 0, 2], [-1, 1, 1]]
    with pytest.raises(ValueError, match="int array"):
        answer_classes_from_ids([[0.5, 1.0, 2.0]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_accuracies_and_their_order(seed: int) -> None:
    acc = [0.85, 0.7, 0.55, 0.45, 0.35]
    classes, _ = planted(seed, acc, n=1500)
    fit = fit_label_model(classes)
    assert fit.converged and not fit.flipped
    np.testing.assert_allclose(fit.accuracies, acc, atol=0.06)
    assert list(np.argsort(-fit.accuracies)) == [0, 1, 2, 3, 4]
    # the collision rate of 4 equally likely wrong answers is 1/4
    assert 0.15 < fit.collision < 0.4


def test_missing_answers_are_ignored_not_counted_wrong() -> None:
    acc = [0.9, 0.6, 0.5, 0.4]
    full, _ = planted(3, acc, n=1200)
    holes, _ = planted(3, acc, n=1200, missing=0.3)
    a = fit_label_model(full).accuracies
    b = fit_label_model(holes).accuracies
    np.testing.assert_allclose(a, b, atol=0.06)
    assert fit_label_model(holes).answered.max() < 1200


def test_posterior_closed_form() -> None:
    # w = logit(0.8) - log(0.1) = log 40; K = 11 answers; 2 stated -> 9 unstated
    post, none = class_posteriors([[0, 0, 2]], [0.8, 0.8, 0.8], 0.1)
    z = 40.0**2 + 40.0 + 9.0
    np.testing.assert_allclose(post[0], [1600 / z, 1600 / z, 40 / z])
    np.testing.assert_allclose(none[0], 9 / z)
    post, _ = class_posteriors([[-1, 1, 1]], [0.9, 0.6, 0.6], 0.2)
    assert post[0, 0] == 0.0 and post[0, 1] == post[0, 2] > 0


def test_accuracies_stay_above_chance() -> None:
    # a candidate that is always wrong with a unique answer
    rng = np.random.default_rng(4)
    ids = np.where(rng.random((400, 4)) < [0.8, 0.7, 0.6, 0.0], 7, rng.integers(0, 50, (400, 4)))
    fit = fit_label_model(answer_classes_from_ids(ids))
    chance = fit.collision / (1 + fit.collision)
    assert (fit.accuracies > chance).all()
    assert (fit.vote_weights() > 0).all()  # agreeing never counts against an answer


def test_weighted_vote_beats_plain_vote_when_one_candidate_is_strong() -> None:
    # one strong candidate among weak ones that share a common wrong answer
    rng = np.random.default_rng(5)
    n = 1000
    right = rng.random((n, 5)) < [0.95, 0.45, 0.45, 0.45, 0.45]
    common_wrong = rng.random((n, 5)) < 0.6
    ids = np.where(right, 1000, np.where(common_wrong, 1, rng.integers(2, 30, (n, 5))))
    classes = answer_classes_from_ids(ids)
    fit = fit_label_model(classes)
    post, _ = class_posteriors(classes, fit.accuracies, fit.collision)
    weighted = right[np.arange(n), post.argmax(axis=1)].mean()
    sizes = (classes[:, :, None] == classes[:, None, :]).sum(axis=2)
    plain = right[np.arange(n), sizes.argmax(axis=1)].mean()
    assert weighted > plain + 0.05
    assert int(np.argmax(fit.accuracies)) == 0


def test_flip_check_rejects_inverted_accuracies() -> None:
    classes, _ = planted(6, [0.8, 0.75, 0.7, 0.65], n=500)
    valid = classes >= 0
    same = (classes[:, :, None] == classes[:, None, :]) & valid[:, :, None] & valid[:, None, :]
    good = fit_label_model(classes)
    ok = flip_check(valid[None], same[None], good.accuracies[None], np.array([good.collision]))
    assert not ok[0]
    # "everyone is usually wrong and the minority is right": contradicts the plain vote
    inverted = np.array([[0.02, 0.02, 0.02, 0.9]])
    assert flip_check(valid[None], same[None], inverted, np.array([0.5]))[0]


def test_non_convergence_is_reported() -> None:
    classes, _ = planted(7, [0.8, 0.6, 0.5], n=300)
    fit = fit_label_model(classes, max_iter=1)
    assert not fit.converged and fit.n_iter == 1


def test_batched_fits_equal_single_fits_and_prior_shrinks() -> None:
    a, _ = planted(8, [0.9, 0.5, 0.4], n=200)
    b, _ = planted(9, [0.4, 0.5, 0.9], n=200)
    both = fit_label_models(np.stack([a, b]))
    np.testing.assert_allclose(both["accuracies"][0], fit_label_model(a).accuracies, atol=1e-9)
    np.testing.assert_allclose(both["accuracies"][1], fit_label_model(b).accuracies, atol=1e-9)
    small = a[:10]
    free = fit_label_model(small, prior_strength=0.0).accuracies
    shrunk = fit_label_model(small, prior=[0.5, 0.5, 0.5], prior_strength=1000.0).accuracies
    assert np.abs(shrunk - 0.5).max() < np.abs(free - 0.5).max()


def test_bad_input_messages() -> None:
    with pytest.raises(ValueError, match=r"must lie in \[-1, 2\]"):
        fit_label_model([[0, 1, 5]])
    with pytest.raises(ValueError, match="shape"):
        fit_label_model([0, 1, 2])
