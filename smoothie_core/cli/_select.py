"""``smoothie select``: test-time selection over files of generations (select mode).

Formats (JSON Lines, one object per line, line ``i`` of every file = input ``i``)::

    inputs.jsonl      {"input": "What is 2+2?"}            (key: --input-key, default "input")
    model-a.jsonl     {"output": "4"}                       (key: --text-key, default "output")
                      {"output": null}                      (null = this candidate failed)
    out.jsonl         {"index": 0, "input": ..., "selected": "model-a", "text": "4",
                       "weights": {"model-a": 0.4, ...}, "failed": [], "fallback": null,
                       "n_neighbors": 1}

A candidate's name is its file stem (``model-a``) unless ``--names`` gives them.
``--k 1`` (default) scores each input's answers on their own; ``--k K`` averages the
statistics of the ``K`` nearest inputs of the batch (Smoothie-Local at test time,
inputs with every answer only; the others are scored on their own).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["register", "run", "read_jsonl_texts"]


def read_jsonl_texts(
    path: str | os.PathLike[str], key: str, *, allow_null: bool
) -> list[str | None]:
    """Read the string under ``key`` from every line of a JSON Lines file.

    Raises ``ValueError`` naming the file and 1-based line number of the first bad line.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p} does not exist; expected a JSON Lines file.")
    out: list[str | None] = []
    with p.open(encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()  # trailing blank lines
    for lineno, line in enumerate(lines, start=1):
        where = f"{p}:{lineno}"
        if not line.strip():
            raise ValueError(f"{where}: empty line; expected a JSON object with {key!r}.")
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{where}: not valid JSON ({err.msg} at column {err.colno}); expected one JSON "
                f'object per line like {{{json.dumps(key)}: "..."}}.'
            ) from err
        if not isinstance(row, dict) or key not in row:
            got = sorted(row) if isinstance(row, dict) else type(row).__name__
            raise ValueError(
                f"{where}: expected a JSON object with the key {key!r}; got {got}. "
                "Use --input-key/--text-key to name another key."
            )
        value = row[key]
        if value is None and allow_null:
            out.append(None)
        elif isinstance(value, str):
            out.append(value)
        else:
            raise ValueError(
                f"{where}: {key!r} must be a string{' or null' if allow_null else ''}; got "
                f"{type(value).__name__}."
            )
    return out


def register(sub: Any) -> None:
    p = sub.add_parser(
        "select",
        help="pick the best of several candidates' generations per input (select mode)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--inputs", required=True, type=Path, help="JSON Lines file of inputs")
    p.add_argument(
        "--candidates",
        required=True,
        nargs="+",
        type=Path,
        help="one JSON Lines file per candidate (>= 3)",
    )
    p.add_argument("--names", help="comma-separated candidate names (default: the file stems)")
    p.add_argument("--out", required=True, type=Path, help="JSON Lines file to write")
    p.add_argument(
        "--k",
        type=int,
        default=1,
        help="neighbours for Smoothie-Local (default 1: each input alone)",
    )
    p.add_argument("--input-key", default="input", help="key of the input text (default 'input')")
    p.add_argument(
        "--text-key", default="output", help="key of a candidate's text (default 'output')"
    )
    p.add_argument(
        "--embedder", default=None, help="embedder spec (default: offline MiniLM; 'hashing')"
    )
    p.add_argument("--cache-dir", type=Path, help="embedding cache (default: the user cache dir)")
    p.add_argument("--no-cache", action="store_true", help="do not cache embeddings on disk")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="'ray': embed and score on Ray Data (pip install 'smoothie-router[ray]'; uses "
        "RAY_ADDRESS if set, else a local Ray); same results as 'local' (default)",
    )
    p.set_defaults(func=run)


class _Prepared:
    """An embedder answering from vectors embedded once in bulk."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.id = source.id

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return np.asarray(self.source.instructions(list(texts)), dtype=np.float32)


def run(args: argparse.Namespace) -> int:
    from smoothie_core.embedders import CachedEmbedder, Embedder, load_embedder
    from smoothie_core.estimator import Smoothie
    from smoothie_core.evaluation.embeddings import TextEmbeddings
    from smoothie_core.router import Decision, Router
    from smoothie_core.triplet import select_best

    start = time.perf_counter()
    if args.k < 1:
        raise ValueError(f"--k must be a positive int; got {args.k}.")
    names = (
        [n.strip() for n in args.names.split(",")]
        if args.names
        else [p.stem for p in args.candidates]
    )
    if len(names) != len(args.candidates):
        raise ValueError(
            f"--names lists {len(names)} names for {len(args.candidates)} candidate files."
        )
    if len(names) < 3:
        raise ValueError(
            f"smoothie select needs at least 3 candidate files (the triplet estimator compares "
            f"3 answers); got {len(names)}."
        )
    if len(set(names)) != len(names):
        raise ValueError(
            f"candidate names must be distinct; got {names}. Rename the files or pass --names."
        )
    inputs = [str(t) for t in read_jsonl_texts(args.inputs, args.input_key, allow_null=False)]
    answers: dict[str, list[str | None]] = {}
    for name, path in zip(names, args.candidates, strict=True):
        texts = read_jsonl_texts(path, args.text_key, allow_null=True)
        if len(texts) != len(inputs):
            raise ValueError(
                f"{path} has {len(texts)} lines but {args.inputs} has {len(inputs)}; line i of "
                "every candidate file must answer input i."
            )
        answers[name] = texts
    if not inputs:
        raise ValueError(f"{args.inputs} holds no input.")
    if getattr(args, "engine", "local") == "ray":
        from smoothie_core.distributed import decisions_ray
        from smoothie_core.embedders import default_cache_dir

        cache = None if args.no_cache else str(args.cache_dir or default_cache_dir())
        on_ray = decisions_ray(
            inputs, answers, n_neighbors=args.k, embedder=args.embedder, cache_dir=cache
        )
        return _write(args, inputs, names, answers, on_ray, start)
    base: Embedder = load_embedder(args.embedder)
    if not args.no_cache:
        base = CachedEmbedder(base, args.cache_dir)
    source = TextEmbeddings(base, progress=not args.quiet)
    all_texts = list(inputs) + [t for col in answers.values() for t in col if t is not None]
    source.prepare([(None, [], all_texts)])
    embedder = _Prepared(source)
    router = Router(names, embedder=embedder)
    rows = [{n: answers[n][i] for n in names} for i in range(len(inputs))]
    decisions: list[Decision] = [router.select(inputs[i], rows[i]) for i in range(len(inputs))]
    complete = [i for i, r in enumerate(rows) if all(v is not None for v in r.values())]
    k = min(args.k, len(complete))
    if k > 1:
        outs = np.stack([embedder.embed([str(rows[i][n]) for n in names]) for i in complete])
        ins = embedder.embed([inputs[i] for i in complete])
        weights = Smoothie(n_neighbors=k).fit(outs, ins, candidate_names=names).weights_
        for i, w in zip(complete, weights, strict=True):
            decisions[i] = Decision(
                selected=names[int(select_best(w))],
                weights={n: float(x) for n, x in zip(names, w, strict=True)},
                mode="select",
                n_neighbors=k,
            )
    return _write(args, inputs, names, answers, decisions, start)


def _write(
    args: argparse.Namespace,
    inputs: list[str],
    names: list[str],
    answers: dict[str, list[str | None]],
    decisions: Sequence[Any],
    start: float,
) -> int:
    rows = [{n: answers[n][i] for n in names} for i in range(len(inputs))]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    counts = dict.fromkeys(names, 0)
    with tmp.open("w", encoding="utf-8") as fh:
        for i, d in enumerate(decisions):
            counts[d.selected] += 1
            record = {
                "index": i,
                "input": inputs[i],
                "selected": d.selected,
                "text": rows[i][d.selected],
                "weights": d.weights,
                "failed": d.failed,
                "fallback": d.fallback,
                "n_neighbors": d.n_neighbors,
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(args.out)
    print(f"selected per candidate: {counts}")
    print(f"wrote {len(decisions)} lines to {args.out}")
    print(f"total time: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0
