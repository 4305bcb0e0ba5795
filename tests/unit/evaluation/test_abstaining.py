"""Issue-8 methods in the evaluation registry: abstention is reported, fallback = first model."""

from __future__ import annotations

import numpy as np

from smoothie_core import HashingEmbedder
from smoothie_core.evaluation import EnsembleData, get_method
from smoothie_core.evaluation.experiment import evaluate_ensemble
from tests.support.planted import crowd_pool, independent_pool


def _data(outs: np.ndarray, *, texts: bool = False) -> EnsembleData:
    n, m, _ = outs.shape
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", "eps", "zeta"]
    outputs = [[" ".join(rng.choice(words, size=20 + 5 * j)) for j in range(m)] for _ in range(n)]
    return EnsembleData(
        models=[f"m{j}" for j in range(m)],
        instructions=[f"q{s}" for s in range(n)],
        outputs=outputs,
        output_embeddings=outs.astype(np.float32),
        input_embeddings=rng.normal(size=(n, 8)).astype(np.float32),
        embedder=HashingEmbedder(64) if texts else None,
    )


def test_global_abstain_falls_back_to_first_model_on_crowd() -> None:
    outs, strong = crowd_pool(0, n=60, dim=64, strong_at=2)
    res = get_method("smoothie_global_abstain")(_data(outs))
    assert np.ma.isMaskedArray(res) and np.ma.getmaskarray(res).all()
    assert (np.asarray(res) == 0).all()
    plain = np.asarray(get_method("smoothie_global")(_data(outs)))
    assert (plain != strong).all()


def test_abstaining_methods_match_plain_on_independent_pools() -> None:
    outs, _ = independent_pool(0, n=80, dim=384)
    data = _data(outs)
    res = get_method("smoothie_global_abstain")(data)
    assert not np.ma.getmaskarray(res).any()
    np.testing.assert_array_equal(np.asarray(res), get_method("smoothie_global")(data))
    loc = get_method("smoothie_local_abstain_k40")(data)
    assert np.ma.isMaskedArray(loc) and loc.shape == (80,)


def test_coverage_methods_return_valid_picks() -> None:
    outs, _ = independent_pool(1, n=12, dim=16)
    data = _data(outs, texts=True)
    for name in ("coverage_global", "coverage_local_k3"):
        picks = np.asarray(get_method(name)(data))
        assert picks.shape == (12,) and ((picks >= 0) & (picks < 5)).all()


def test_harness_reports_abstention_rate() -> None:
    from smoothie_core.evaluation.data import AlignedEnsemble

    outs, _ = crowd_pool(0, n=30, dim=32)
    wins = np.random.default_rng(0).uniform(size=(30, 5))

    class Source:
        id = "planted"

        def instructions(self, instructions):  # type: ignore[no-untyped-def]
            return np.random.default_rng(1).normal(size=(len(instructions), 8)).astype(np.float32)

        def outputs(self, name, instructions, texts):  # type: ignore[no-untyped-def]
            return outs[:, int(name[1:])].astype(np.float32)

    ens = AlignedEnsemble(
        models=[f"m{j}" for j in range(5)],
        instructions=[f"q{s}" for s in range(30)],
        outputs=[["x"] * 5 for _ in range(30)],
        wins=wins,
    )
    rec = evaluate_ensemble(ens, Source(), ["smoothie_global", "smoothie_global_abstain"])
    assert rec["abstention_rate"] == {"smoothie_global_abstain": 1.0}
    assert rec["win_rate"]["smoothie_global_abstain"] == float(100 * wins[:, 0].mean())


def test_report_shows_abstention_rate() -> None:
    from smoothie_core.evaluation.report import format_results

    res = {
        "ensembles": [
            {
                "models": ["a", "b", "c"],
                "n_instructions": 2,
                "n_dropped": 0,
                "win_rate": {"random": 10.0, "smoothie_global_abstain": 12.5},
                "best_single_model": "a",
                "smoothie_global_model": "a",
                "spearman_global": 0.5,
                "best_picked": True,
            }
        ],
        "mean": {"random": 10.0, "smoothie_global_abstain": 12.5},
        "summary": {
            "n_ensembles": 1,
            "best_picked": 1,
            "spearman_global_mean": 0.5,
            "abstention_rate": {"smoothie_global_abstain": 0.6},
        },
    }
    assert "mean abstention rate (fallback: first model): global_abstain 60%" in format_results(res)
