"""Win-rate metrics and the method registry."""

from __future__ import annotations

import numpy as np
import pytest

from smoothie_core.evaluation import (
    EnsembleData,
    available_methods,
    best_single,
    get_method,
    method_names,
    oracle_win_rate,
    random_ensembles,
    random_win_rate,
    register_method,
    spearman,
    win_rate,
)
from smoothie_core.evaluation.methods import shrunk_local_deltas

WINS = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.5], [0.2, 0.4, 0.9], [0.1, 0.3, 0.8]])


def test_references_bracket_every_pick() -> None:
    rng = np.random.default_rng(0)
    wins = rng.uniform(size=(50, 4))
    _, best = best_single(wins)
    oracle = oracle_win_rate(wins)
    for _ in range(20):
        picks = rng.integers(0, 4, size=50)
        assert win_rate(wins, picks) <= oracle + 1e-9
    assert random_win_rate(wins) <= best <= oracle
    assert np.mean([win_rate(wins, np.full(50, j)) for j in range(4)]) == pytest.approx(
        random_win_rate(wins)
    )


def test_known_values() -> None:
    assert win_rate(WINS, [1, 0, 2, 2]) == pytest.approx(100 * (1 + 1 + 0.9 + 0.8) / 4)
    assert best_single(WINS) == (2, pytest.approx(67.5))
    assert oracle_win_rate(WINS) == pytest.approx(100 * (1 + 1 + 0.9 + 0.8) / 4)
    assert random_win_rate(WINS) == pytest.approx(100 * WINS.mean())


def test_win_rate_rejects_bad_picks() -> None:
    with pytest.raises(ValueError, match="must be 4 integer"):
        win_rate(WINS, [0, 1])
    with pytest.raises(ValueError, match=r"must lie in \[0, 2\]"):
        win_rate(WINS, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="shape"):
        win_rate(np.zeros((0, 3)), [])


def test_spearman() -> None:
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    with pytest.raises(ValueError, match="equal length"):
        spearman([1, 2], [1, 2, 3])


def test_random_ensembles_are_seeded_and_distinct() -> None:
    models = [f"m{i}" for i in range(12)]
    a = random_ensembles(models, 5, 4, seed=3)
    assert a == random_ensembles(models, 5, 4, seed=3)
    assert a != random_ensembles(models, 5, 4, seed=4)
    assert all(len(set(e)) == 4 and set(e) <= set(models) for e in a)
    with pytest.raises(ValueError, match="at least 3"):
        random_ensembles(models, 1, 2, seed=0)
    with pytest.raises(ValueError, match="larger than the 12"):
        random_ensembles(models, 1, 13, seed=0)


def _data(n: int = 30, m: int = 4, seed: int = 0) -> EnsembleData:
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(n, 1, 16))
    noise = np.array([0.1, 1.0, 1.5, 2.0])[:m, None]
    outs = (truth + rng.normal(size=(n, m, 16)) * noise).astype(np.float32)
    return EnsembleData(
        [f"c{j}" for j in range(m)],
        [f"q{i}" for i in range(n)],
        [[f"a{i}{j}" for j in range(m)] for i in range(n)],
        outs,
        truth[:, 0].astype(np.float32),
    )


@pytest.mark.parametrize(
    "name",
    [
        "smoothie_global",
        "smoothie_local_k1",
        "smoothie_local_k5",
        "smoothie_local_eb_k5",
        "smoothie_kernel",
    ],
)
def test_builtin_methods_recover_the_clean_candidate(name: str) -> None:
    data = _data()
    picks = get_method(name)(data)
    assert picks.shape == (30,)
    assert np.mean(picks == 0) >= 0.8


def test_local_k_larger_than_n_is_clamped() -> None:
    picks = get_method("smoothie_local_k500")(_data(n=10))
    assert picks.shape == (10,)


def test_registry() -> None:
    def last(d: EnsembleData) -> np.ndarray:
        return np.full(d.n_instructions, len(d.models) - 1)

    register_method("test_last_candidate", last, overwrite=True)
    assert "test_last_candidate" in available_methods()
    assert get_method("test_last_candidate")(_data()).tolist() == [3] * 30
    with pytest.raises(ValueError, match="already registered"):
        register_method("test_last_candidate", last)
    with pytest.raises(ValueError, match="already registered"):
        register_method("smoothie_local_k3", last)
    with pytest.raises(ValueError, match="identifiers"):
        register_method("bad name", last)
    with pytest.raises(ValueError, match=r"unknown method 'nope'.*smoothie_global"):
        get_method("nope")
    with pytest.raises(ValueError, match="unknown method 'smoothie_local_k0'"):
        method_names([0])


def test_shrinkage_interpolates_between_global_and_local() -> None:
    rng = np.random.default_rng(1)
    deltas = rng.uniform(1, 2, size=(40, 3))
    deltas[:20, 0] += 5.0  # a strong, real local difference survives shrinkage
    idx = np.array([[i, (i + 1) % 20 if i < 20 else 20 + (i - 19) % 20] for i in range(40)])
    shrunk = shrunk_local_deltas(deltas, idx)
    local = deltas[idx].mean(axis=1)
    glob = deltas.mean(axis=0)
    lo, hi = np.minimum(local, glob), np.maximum(local, glob)
    assert np.all(shrunk >= lo - 1e-12)
    assert np.all(shrunk <= hi + 1e-12)
    assert shrunk[:20, 0].mean() > glob[0] + 1.0


def test_method_from_module_path() -> None:
    fn = get_method("smoothie_core.evaluation.methods:smoothie_global")
    assert fn(_data()).tolist() == [0] * 30
    with pytest.raises(ValueError, match="cannot load method 'no_such_module:f'"):
        get_method("no_such_module:f")
    with pytest.raises(ValueError, match="is not callable"):
        get_method("smoothie_core.evaluation.methods:DEFAULT_METHODS")


def test_methods_cannot_see_labels() -> None:
    from smoothie_core.evaluation import RouteData

    # the only state a method's data object can hold (slots: no instance __dict__)
    assert set(EnsembleData.__slots__) == {
        "models", "instructions", "outputs", "tasks", "embedder", "_out", "_in",
        "output_embeddings_cheap",
    }  # fmt: skip
    assert set(RouteData.__slots__) == {"calibration", "inputs", "tasks", "_in"}
    data = _data()
    with pytest.raises(AttributeError):
        data.labels = 1  # type: ignore[attr-defined]
