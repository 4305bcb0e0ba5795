"""``smoothie select``: test-time selection over files of generations (select mode).

Formats (UTF-8 JSON Lines, one object per line, line ``i`` of every file = input ``i``)::

    inputs.jsonl      {"input": "What is 2+2?"}            (key: --input-key, default "input")
    model-a.jsonl     {"output": "4"}                       (key: --text-key, default "output")
                      {"output": null}                      (null = this candidate failed)
    out.jsonl         {"index": 0, "input": ..., "selected": "model-a", "text": "4",
                       "weights": {"model-a": 0.4, ...}, "failed": ["model-c"],
                       "errors": {"model-c": "no answer (null)"}, "fallback": null,
                       "n_neighbors": 1}

A candidate's name is its file stem (``model-a``) unless ``--names`` gives them.
``--scorer`` says what compares the answers (default: the library's default scorer;
``--engine ray`` supports ``consensus`` only). ``--k 1`` (default) scores each input's
answers on their own, except for scorers that learn over many inputs (answer
agreement), which use the whole file as their pool (Smoothie-Global); ``--k K`` averages
the statistics of the ``K`` nearest inputs of the batch (Smoothie-Local at test time,
inputs with every answer only; the others are scored on their own).

A null, empty or whitespace-only answer counts as failed (listed in ``failed``, with the
reason in ``errors``). An input on which every candidate failed is written with
``"selected": null``, ``"text": null``, no weights, ``n_neighbors`` 0 and the reason in
``fallback``; the other inputs are unaffected.

``--out`` is replaced atomically (a unique temporary file in its folder, then a rename;
permissions 0600; through a symbolic link, the link itself is replaced) and may not be
one of the input files. ``--out -`` writes the JSON lines to standard output (the summary
then goes to standard error), as do a FIFO, a terminal or ``/dev/stdout``, which are
written in place.
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


def _decode(p: Path, raw: bytes) -> str:
    """``raw`` as UTF-8 (a leading byte-order mark is dropped); errors name the line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        col = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise ValueError(
            f"{p}:{line}: not UTF-8 text (byte 0x{raw[err.start]:02x} at column {col}); "
            "expected UTF-8 JSON Lines, one JSON object per line. Re-encode the file as "
            "UTF-8 (e.g. `iconv -f latin1 -t utf-8`)."
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_jsonl_texts(
    path: str | os.PathLike[str], key: str, *, allow_null: bool
) -> list[str | None]:
    """Read the string under ``key`` from every line of a JSON Lines file.

    The file must be UTF-8. Lines end at ``"\n"`` (a ``"\r"`` before it is dropped);
    characters such as U+2028 or U+0085 inside a JSON string are text, not line ends.
    Raises ``ValueError`` naming the file and 1-based line number of the first bad line.
    """
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{p} is a directory; expected a JSON Lines file.")
    if not p.is_file():
        raise FileNotFoundError(f"{p} does not exist; expected a JSON Lines file.")
    try:
        raw = p.read_bytes()
    except OSError as err:
        raise ValueError(f"{p}: cannot read it ({err.strerror or err}).") from err
    lines = [line.removesuffix("\r") for line in _decode(p, raw).split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()  # trailing blank lines
    out: list[str | None] = []
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
        except RecursionError:
            raise ValueError(f"{where}: JSON nested too deeply; expected a flat object.") from None
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
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        help="JSON Lines file to write (replaced atomically, mode 0600; '-' = standard output)",
    )
    p.add_argument(
        "--k",
        type=int,
        default=1,
        help="neighbours for Smoothie-Local (default 1: each input alone)",
    )
    p.add_argument(
        "--scorer",
        default=None,
        help="what compares the answers (smoothie_core.scorers: consensus, answer, coverage, "
        "answer_coverage, ...; default: the library's default). Scorers that learn over many "
        "inputs (answer agreement) use the whole file as their pool",
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


#: Why a candidate counts as failed on an input.
NO_ANSWER = "no answer (null)"
EMPTY_ANSWER = "empty answer (only whitespace)"
ALL_FAILED = "every candidate failed on this input (null or empty answers): nothing to select"


def _failures(
    names: list[str], answers: dict[str, list[str | None]], n: int
) -> list[dict[str, str]]:
    """Per input, the failed candidates and why; empty answers are set to None in place."""
    errors: list[dict[str, str]] = [{} for _ in range(n)]
    for name in names:
        col = answers[name]
        for i, text in enumerate(col):
            if text is None:
                errors[i][name] = NO_ANSWER
            elif not text.strip():
                errors[i][name] = EMPTY_ANSWER
                col[i] = None
    return errors


def run(args: argparse.Namespace) -> int:
    from smoothie_core import _io
    from smoothie_core.scorers import get_scorer

    start = time.perf_counter()
    if args.k < 1:
        raise ValueError(f"--k must be a positive int; got {args.k}.")
    args.scorer = getattr(args, "scorer", None)  # callers building a Namespace may omit it
    get_scorer(args.scorer)  # an unknown name fails before any work
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
    read_by_us = [args.inputs, *args.candidates]
    try:  # before any work: a bad --out must not cost the whole embedding
        target = _io.resolve_output(args.out, inputs=read_by_us, dash_means_stdout=True)
    except OSError as err:
        raise ValueError(f"cannot write --out {args.out}: {err}") from err
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
    errors = _failures(names, answers, len(inputs))
    # inputs where some candidate answered go to the engine; the others are recorded as failed
    live = [i for i in range(len(inputs)) if len(errors[i]) < len(names)]
    live_inputs = [inputs[i] for i in live]
    live_answers = {n: [answers[n][i] for i in live] for n in names}
    found: list[Any] = []
    if live and getattr(args, "engine", "local") == "ray":
        if args.scorer not in (None, "consensus"):
            raise ValueError(
                f"--engine ray scores with the consensus scorer only; got --scorer {args.scorer}. "
                "Use --engine local, or --scorer consensus."
            )
        if args.scorer is None:
            args.scorer = "consensus"
        from smoothie_core.distributed import decisions_ray
        from smoothie_core.embedders import default_cache_dir

        cache = None if args.no_cache else str(args.cache_dir or default_cache_dir())
        found = decisions_ray(
            live_inputs, live_answers, n_neighbors=args.k, embedder=args.embedder, cache_dir=cache
        )
    elif live:
        found = _decide_local(args, names, live_inputs, live_answers)
    decisions: list[Any] = [None] * len(inputs)
    for i, d in zip(live, found, strict=True):
        decisions[i] = d
    records = [
        _record(i, inputs[i], names, answers, errors[i], decisions[i]) for i in range(len(inputs))
    ]
    try:
        _write(args, read_by_us, records)
    except OSError as err:
        raise ValueError(f"cannot write --out {args.out}: {err}") from err
    counts = dict.fromkeys(names, 0)
    for r in records:
        if r["selected"] is not None:
            counts[r["selected"]] += 1
    # with the JSON lines on stdout (--out -, /dev/stdout, a pipe), the summary goes to stderr
    report = sys.stderr if target.kind != "file" else sys.stdout
    print(f"selected per candidate: {counts}", file=report)
    n_failed = len(inputs) - len(live)
    if n_failed:
        print(f"{n_failed} input(s) had no usable answer (recorded as failed)", file=report)
    shown = "standard output" if target.kind == "stdout" else str(args.out)
    print(f"wrote {len(records)} lines to {shown}", file=report)
    print(f"total time: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


def _decide_local(
    args: argparse.Namespace,
    names: list[str],
    inputs: list[str],
    answers: dict[str, list[str | None]],
) -> list[Any]:
    from smoothie_core.embedders import CachedEmbedder, Embedder, load_embedder
    from smoothie_core.estimator import Smoothie
    from smoothie_core.evaluation.embeddings import TextEmbeddings
    from smoothie_core.router import Decision, Router
    from smoothie_core.scorers import get_scorer
    from smoothie_core.triplet import select_best

    base: Embedder = load_embedder(args.embedder)
    if not args.no_cache:
        base = CachedEmbedder(base, args.cache_dir)
    source = TextEmbeddings(base, progress=not args.quiet)
    all_texts = list(inputs) + [t for col in answers.values() for t in col if t is not None]
    source.prepare([(None, [], all_texts)])
    embedder = _Prepared(source)
    scorer = get_scorer(args.scorer)
    # inputs with a failed candidate: scored on their own answers (the Router's fallbacks)
    router = Router(names, scorer=scorer, embedder=embedder, update_pool=False)
    rows = [{n: answers[n][i] for n in names} for i in range(len(inputs))]
    decisions: list[Decision] = [router.select(inputs[i], rows[i]) for i in range(len(inputs))]
    complete = [i for i, r in enumerate(rows) if all(_usable(v) for v in r.values())]
    k = min(args.k, len(complete))
    pooled = scorer.statistic.pooled_select  # label models learn over the whole file
    if complete and (k > 1 or pooled):
        stats = scorer.statistics(
            [[str(rows[i][n]) for n in names] for i in complete],
            [inputs[i] for i in complete],
            embedder=embedder,
        )
        ins = embedder.embed([inputs[i] for i in complete]) if k > 1 else None
        est = Smoothie(None if (pooled and k <= 1) else k, statistic=scorer.statistic).fit(
            sample_statistics=stats, input_embeddings=ins, candidate_names=names
        )
        used = len(complete) if (pooled and k <= 1) else k
        for i, w in zip(complete, est.weights_, strict=True):
            decisions[i] = Decision(
                selected=names[int(select_best(w))],
                weights={n: float(x) for n, x in zip(names, w, strict=True)},
                mode="select",
                n_neighbors=used,
            )
    return decisions


def _usable(answer: str | None) -> bool:
    return isinstance(answer, str) and bool(answer.strip())


def _record(
    index: int,
    text: str,
    names: list[str],
    answers: dict[str, list[str | None]],
    errors: dict[str, str],
    decision: Any,
) -> dict[str, Any]:
    failed = [n for n in names if n in errors]
    if decision is None:  # every candidate failed
        selected, weights, fallback, n_neighbors = None, {}, ALL_FAILED, 0
    else:
        selected, weights = decision.selected, decision.weights
        fallback, n_neighbors = decision.fallback, decision.n_neighbors
    return {
        "index": index,
        "input": text,
        "selected": selected,
        "text": None if selected is None else answers[selected][index],
        "weights": weights,
        "failed": failed,
        "errors": {n: errors[n] for n in failed},
        "fallback": fallback,
        "n_neighbors": n_neighbors,
    }


def _write(
    args: argparse.Namespace,
    inputs: Sequence[Path],
    records: Sequence[dict[str, Any]],
) -> None:
    from smoothie_core import _io

    with _io.open_output(args.out, inputs=inputs, dash_means_stdout=True) as fh:
        for record in records:
            fh.write(_json_line(record))


#: Characters valid raw in a JSON string that ``str.splitlines`` (and some editors) treat
#: as line ends; written escaped so that any reader sees one record per line.
_LINE_ENDS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _json_line(record: dict[str, Any]) -> str:
    """One output line: UTF-8 JSON, no NaN, U+0085/U+2028/U+2029 escaped."""
    return json.dumps(record, ensure_ascii=False, allow_nan=False).translate(_LINE_ENDS) + "\n"
