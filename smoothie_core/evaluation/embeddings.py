"""Embeddings for an evaluation: computed (cached, with a progress bar) or precomputed.

Embedding tens of thousands of long outputs is the expensive part of an evaluation.
:class:`TextEmbeddings` embeds every distinct text once through an embedder (wrap it
in :class:`~smoothie_core.embedders.CachedEmbedder` to keep vectors across runs);
:class:`PrecomputedEmbeddings` reads the float16 arrays shipped with the shared data
(``emb/<model>.f16.npy``, ``emb/instructions.f16.npy``, ``instructions.jsonl``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from smoothie_core.embedders import Embedder

__all__ = ["EmbeddingSource", "TextEmbeddings", "PrecomputedEmbeddings"]


class EmbeddingSource(Protocol):
    """Where an evaluation gets its vectors from."""

    id: str

    def prepare(self, jobs: Sequence[tuple[str | None, Sequence[str], Sequence[str]]]) -> None:
        """Get ready for :meth:`outputs`/:meth:`instructions` calls (e.g. embed in bulk).

        ``jobs`` lists ``(model, instructions, texts)``; ``model`` None means the
        instructions themselves.
        """
        ...

    def instructions(self, instructions: Sequence[str]) -> NDArray[np.float32]:
        """``(n, d)`` embeddings of the instructions."""
        ...

    def outputs(
        self, model: str, instructions: Sequence[str], texts: Sequence[str]
    ) -> NDArray[np.float32]:
        """``(n, d)`` embeddings of ``model``'s outputs ``texts`` on ``instructions``."""
        ...


class TextEmbeddings:
    """Embed texts with an embedder; each distinct text once, with a progress bar.

    Parameters
    ----------
    embedder : Embedder
        Embeds the outputs (and the inputs unless ``input_embedder`` is given).
    batch_size : int, default=256
        Texts per embedder call (one progress-bar step).
    progress : bool, default=True
        Show a tqdm progress bar on stderr while embedding.
    input_embedder : Embedder, optional
        Embeds the inputs (instructions) instead, e.g. the plain embedder when outputs
        are embedded under a text view (:class:`~smoothie_core.textviews.ViewEmbedder`).

    Attributes
    ----------
    n_texts : dict
        Distinct texts handed to each embedder so far, ``{"inputs": n, "outputs": n}``.

    Examples
    --------
    >>> from smoothie_core.embedders import HashingEmbedder
    >>> src = TextEmbeddings(HashingEmbedder(dim=8), progress=False)
    >>> src.prepare([(None, ["q"], ["q"]), ("m", ["q"], ["answer"])])
    >>> src.outputs("m", ["q"], ["answer"]).shape, src.n_texts
    ((1, 8), {'inputs': 1, 'outputs': 1})
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        batch_size: int = 256,
        progress: bool = True,
        input_embedder: Embedder | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive int; got {batch_size}.")
        self.embedder = embedder
        self.input_embedder = embedder if input_embedder is None else input_embedder
        self.id = (
            embedder.id
            if input_embedder is None
            else f"outputs={embedder.id};inputs={self.input_embedder.id}"
        )
        self.batch_size = batch_size
        self.progress = progress
        self.n_texts = {"inputs": 0, "outputs": 0}
        self._vectors: dict[str, dict[str, NDArray[np.float32]]] = {"inputs": {}, "outputs": {}}

    def prepare(self, jobs: Sequence[tuple[str | None, Sequence[str], Sequence[str]]]) -> None:
        for role in ("inputs", "outputs"):
            known = self._vectors[role]
            todo = list(
                dict.fromkeys(
                    t
                    for model, _, texts in jobs
                    if (model is None) == (role == "inputs")
                    for t in texts
                    if t not in known
                )
            )
            self._embed(role, todo)

    def _embed(self, role: str, todo: list[str]) -> None:
        if not todo:
            return
        embedder = self.input_embedder if role == "inputs" else self.embedder
        bar: Any = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(todo), desc=f"embedding {role}", unit="text", file=sys.stderr)
        try:
            for start in range(0, len(todo), self.batch_size):
                chunk = todo[start : start + self.batch_size]
                vecs = np.asarray(embedder.embed(chunk), dtype=np.float32)
                self._vectors[role].update(zip(chunk, vecs, strict=True))
                self.n_texts[role] += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()

    def _get(self, role: str, texts: Sequence[str]) -> NDArray[np.float32]:
        known = self._vectors[role]
        self._embed(role, list(dict.fromkeys(t for t in texts if t not in known)))
        if not texts:
            return np.empty((0, 0), dtype=np.float32)
        return np.stack([known[t] for t in texts])

    def instructions(self, instructions: Sequence[str]) -> NDArray[np.float32]:
        return self._get("inputs", instructions)

    def outputs(
        self, model: str, instructions: Sequence[str], texts: Sequence[str]
    ) -> NDArray[np.float32]:
        return self._get("outputs", texts)


class PrecomputedEmbeddings:
    """Vectors shipped with the shared AlpacaEval data, looked up by instruction text.

    Parameters
    ----------
    path : path-like
        The folder holding ``instructions.jsonl`` (lines ``{"idx", "instruction"}``) and
        ``emb/`` (``instructions.f16.npy`` and ``<model>.f16.npy``, one row per ``idx``),
        or the ``emb/`` folder itself (then ``instructions.jsonl`` is read from its parent).

    Notes
    -----
    The shared arrays are all-MiniLM-L6-v2 embeddings (``normalize_embeddings=True``,
    ``max_seq_length`` 256) stored as float16; they are returned as float32. The default
    embedder reproduces them to float16 precision (cosine ~1).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        root = Path(path)
        if (root / "emb").is_dir():
            emb, base = root / "emb", root
        else:
            emb, base = root, root.parent
        index_path = base / "instructions.jsonl"
        if not (emb / "instructions.f16.npy").is_file() or not index_path.is_file():
            raise FileNotFoundError(
                f"precomputed embeddings not found under {root}: expected "
                f"{emb / 'instructions.f16.npy'} and {index_path} (the shared data's "
                "alpaca_eval/ folder)."
            )
        self.emb_dir = emb
        self.id = f"precomputed:{emb.resolve()}"
        self._idx: dict[str, int] = {}
        with index_path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    self._idx[str(row["instruction"])] = int(row["idx"])
                except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
                    raise ValueError(
                        f"{index_path} line {lineno}: expected a JSON object with 'idx' (int) "
                        f"and 'instruction' (str); got {line.strip()[:80]!r} ({err})."
                    ) from err
        self._arrays: dict[str, NDArray[np.float16]] = {}

    def _array(self, name: str) -> NDArray[np.float16]:
        if name not in self._arrays:
            path = self.emb_dir / f"{name}.f16.npy"
            if not path.is_file():
                raise FileNotFoundError(
                    f"no precomputed embeddings for {name!r}: {path} does not exist. Drop "
                    "--precomputed-embeddings to embed the texts instead."
                )
            self._arrays[name] = np.load(path, mmap_mode="r", allow_pickle=False)
        return self._arrays[name]

    def _rows(self, instructions: Sequence[str]) -> NDArray[np.intp]:
        try:
            return np.array([self._idx[s] for s in instructions], dtype=np.intp)
        except KeyError as err:
            raise ValueError(
                f"instruction {str(err.args[0])[:60]!r} is not in {self.emb_dir.parent}/"
                "instructions.jsonl; these precomputed embeddings belong to another data set."
            ) from None

    def prepare(self, jobs: Sequence[tuple[str | None, Sequence[str], Sequence[str]]]) -> None:
        for model, instructions, _ in jobs:
            self._rows(instructions)
            self._array("instructions" if model is None else model)

    def instructions(self, instructions: Sequence[str]) -> NDArray[np.float32]:
        return np.asarray(self._array("instructions")[self._rows(instructions)], dtype=np.float32)

    def outputs(
        self, model: str, instructions: Sequence[str], texts: Sequence[str]
    ) -> NDArray[np.float32]:
        out = np.asarray(self._array(model)[self._rows(instructions)], dtype=np.float32)
        bad = ~np.isfinite(out).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"precomputed embedding of {model!r} on instruction {instructions[i][:60]!r} "
                "is missing (NaN) although the results folder has an output for it; the "
                "embeddings do not match these results."
            )
        return out
