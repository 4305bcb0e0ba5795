"""Smoothie(dtype=float32): half the memory, same estimates (to 1e-6), bitwise save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smoothie_core import Smoothie

MODELS = ["alpaca-7b", "claude", "gpt-3.5-turbo-1106", "vicuna-13b-v1.5", "wizardlm-13b"]


def _synthetic(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(n, 24)).astype(np.float32)
    scale = np.abs(inputs[:, :4]) + 0.2
    outputs = rng.normal(size=(n, 1, 12)) + rng.normal(size=(n, 4, 12)) * scale[..., None]
    return outputs.astype(np.float32), inputs


def _real(alpaca_eval_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    emb = alpaca_eval_dir / "emb"
    outputs = np.stack([np.load(emb / f"{m}.f16.npy") for m in MODELS], axis=1).astype(np.float32)
    inputs = np.load(emb / "instructions.f16.npy").astype(np.float32)
    keep = np.isfinite(outputs).all(axis=(1, 2))
    return outputs[keep], inputs[keep]


def _assert_float32_matches(outputs: np.ndarray, inputs: np.ndarray, k: int | None) -> None:
    half = len(inputs) // 2
    fit_o, fit_i, new_o, new_i = outputs[:half], inputs[:half], outputs[half:], inputs[half:]
    ref = Smoothie(k).fit(fit_o, fit_i)
    f32 = Smoothie(k, dtype=np.float32).fit(fit_o, fit_i)
    assert f32.input_embeddings_ is not None and f32.input_embeddings_.dtype == np.float32
    np.testing.assert_allclose(f32.weights_, ref.weights_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(f32.global_weights_, ref.global_weights_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        f32.predict_weights(new_i), ref.predict_weights(new_i), rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        f32.predict_weights(new_i, new_o), ref.predict_weights(new_i, new_o), rtol=0, atol=1e-6
    )
    np.testing.assert_array_equal(f32.predict(new_i), ref.predict(new_i))


@pytest.mark.parametrize("k", [None, 1, 5, 20])
def test_float32_matches_float64_synthetic(k: int | None) -> None:
    _assert_float32_matches(*_synthetic(), k)


@pytest.mark.shared_data
@pytest.mark.parametrize("k", [None, 5, 20])
def test_float32_matches_float64_on_minilm_embeddings(alpaca_eval_dir: Path, k: int | None) -> None:
    _assert_float32_matches(*_real(alpaca_eval_dir), k)


def test_float32_state_memory_and_contents() -> None:
    outputs, inputs = _synthetic()
    inputs = inputs.astype(np.float64)  # float64 embeddings: the default keeps float64
    ref = Smoothie(5).fit(outputs, inputs)
    f32 = Smoothie(5, dtype=np.float32).fit(outputs, inputs)
    assert ref.input_embeddings_ is not None and f32.input_embeddings_ is not None
    assert f32.input_embeddings_.nbytes * 2 == ref.input_embeddings_.nbytes
    # statistics stay float64: n x m numbers, small next to the (n, dim) inputs
    assert f32.sample_deltas_.dtype == np.float64
    assert f32.sample_deltas_.shape == (600, 4)
    assert not any(isinstance(v, np.ndarray) and v.ndim == 3 for v in vars(f32).values())


def test_float32_partial_fit_keeps_dtype() -> None:
    outputs, inputs = _synthetic()
    est = Smoothie(5, dtype=np.float32).fit(outputs[:300], inputs[:300])
    est.predict(inputs[:3])  # builds the index, then appends to it
    est.partial_fit(outputs[300:], inputs[300:].astype(np.float64))
    assert est.input_embeddings_ is not None and est.input_embeddings_.dtype == np.float32
    full = Smoothie(5).fit(outputs, inputs)
    np.testing.assert_allclose(
        est.predict_weights(inputs[:50]), full.predict_weights(inputs[:50]), atol=1e-6
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_load_round_trip_is_bitwise(tmp_path: Path, dtype: type) -> None:
    outputs, inputs = _synthetic()
    est = Smoothie(5, dtype=dtype).fit(outputs, inputs)
    loaded = Smoothie.load(est.save(tmp_path / "state.npz"))
    assert loaded.input_embeddings_ is not None and est.input_embeddings_ is not None
    assert loaded.input_embeddings_.dtype == est.input_embeddings_.dtype == np.float32
    assert loaded.input_embeddings_.tobytes() == est.input_embeddings_.tobytes()
    assert loaded.sample_deltas_.tobytes() == est.sample_deltas_.tobytes()
    assert loaded.weights_.tobytes() == est.weights_.tobytes()
    assert np.dtype(loaded.dtype) == dtype


def test_dtype_validation_and_repr() -> None:
    outputs, _ = _synthetic(n=30)
    with pytest.raises(ValueError, match=r"`dtype` must be numpy.float64 or numpy.float32; got"):
        Smoothie(dtype=np.float16).fit(outputs)
    assert repr(Smoothie(3, dtype=np.float32)) == "Smoothie(n_neighbors=3, dtype=float32)"
    assert repr(Smoothie(3)) == "Smoothie(n_neighbors=3)"


def test_float32_inputs_are_stored_as_float32_under_float64_without_changing_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """float32 embeddings (what MiniLM returns) are kept as float32 by the float64
    estimator: half the memory, and every result equals fitting their float64 copy."""
    from smoothie_core import _self_knn

    monkeypatch.setattr(_self_knn, "MIN_ROWS", 1)  # the all-pairs search, too
    outputs, x32 = _synthetic()
    x64 = x32.astype(np.float64)
    a = Smoothie(7).fit(outputs, x32)
    b = Smoothie(7).fit(outputs, x64)
    assert a.input_embeddings_ is not None and a.input_embeddings_.dtype == np.float32
    assert b.input_embeddings_ is not None and b.input_embeddings_.dtype == np.float64
    np.testing.assert_array_equal(a.weights_, b.weights_)
    q = np.random.default_rng(1).normal(size=(20, 24))  # float64 queries are not rounded
    np.testing.assert_array_equal(a.predict_weights(q), b.predict_weights(q))
    # float64 rows appended later: the stored inputs become float64, nothing is rounded
    a.partial_fit(outputs[:50], x64[:50] + 1e-9)
    b.partial_fit(outputs[:50], x64[:50] + 1e-9)
    assert a.input_embeddings_ is not None and a.input_embeddings_.dtype == np.float64
    np.testing.assert_array_equal(a.input_embeddings_, b.input_embeddings_)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    # the estimator's precision survives a save/load round trip
    c = Smoothie(7).fit(outputs, x32)
    c.save(tmp_path / "s.npz")
    loaded = Smoothie.load(tmp_path / "s.npz")
    assert np.dtype(loaded.dtype) == np.float64
    assert loaded.input_embeddings_ is not None and loaded.input_embeddings_.dtype == np.float32
    np.testing.assert_array_equal(loaded.predict_weights(q), c.predict_weights(q))


def _rewrite_header(path: Path, **changes: object) -> None:
    from smoothie_core import _io
    from smoothie_core.estimator import _FORMAT, _FORMAT_VERSION

    header, arrays = _io.load_arrays(path, _FORMAT, _FORMAT_VERSION)
    for key, value in changes.items():
        if value is None:
            header.pop(key, None)
        else:
            header[key] = value
    _io.save_arrays(path, header, arrays)


def test_state_files_without_a_dtype_take_the_inputs_precision(tmp_path: Path) -> None:
    """Files written before the header recorded the estimator's precision still load."""
    outputs, inputs = _synthetic()
    for stored, expected in ((inputs, np.float32), (inputs.astype(np.float64), np.float64)):
        path = Smoothie(5).fit(outputs, stored).save(tmp_path / "old.npz")
        _rewrite_header(path, dtype=None)
        assert np.dtype(Smoothie.load(path).dtype) == expected


def test_state_file_with_a_bad_dtype_is_rejected(tmp_path: Path) -> None:
    from smoothie_core.exceptions import StateFileError

    outputs, inputs = _synthetic()
    path = Smoothie(5).fit(outputs, inputs).save(tmp_path / "s.npz")
    _rewrite_header(path, dtype="float16")
    with pytest.raises(StateFileError, match=r"is not a valid Smoothie state: dtype 'float16'"):
        Smoothie.load(path)
