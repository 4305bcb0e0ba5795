"""``smoothie eval alpaca-eval``: the paper's AlpacaEval experiment on an AlpacaEval results folder.

Point ``--results-dir`` at AlpacaEval's ``results/`` (a checkout of the public
repository or the shared data's copy). Examples::

    smoothie eval alpaca-eval --results-dir ../shared/data/alpaca_eval/results \\
        --random-ensembles 10 --ensemble-size 5 --seed 0 \\
        --precomputed-embeddings ../shared/data/alpaca_eval --json out.json --plot out.png
    smoothie eval alpaca-eval --results-dir results --ensemble a,b,c,d,e --limit 50
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def _ks(text: str) -> list[int]:
    try:
        ks = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--k must be comma-separated positive ints like 1,5,20; got {text!r}"
        ) from None
    if any(k < 1 for k in ks):
        raise argparse.ArgumentTypeError(f"--k values must be positive; got {text!r}")
    return ks


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive int; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int; got {value}")
    return value


def register(sub: Any) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate label-free selection on labelled benchmark results",
        description="Evaluate Smoothie on benchmark results that carry judge labels.",
    )
    bench = p.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    a = bench.add_parser(
        "alpaca-eval",
        help="AlpacaEval 2.0 (results/<model>/model_outputs.json + annotations)",
        description=(
            "Reproduce the Smoothie paper's AlpacaEval experiment: per ensemble, the win rate "
            "of random / best single / oracle picks (references that use labels) and of the "
            "label-free methods (Smoothie-Global, Smoothie-Local per --k, --methods)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a.add_argument("--results-dir", required=True, type=Path, help="AlpacaEval's results/ folder")
    a.add_argument(
        "--annotator",
        default=None,
        help="annotator folder (default weighted_alpaca_eval_gpt4_turbo, AlpacaEval 2.0)",
    )
    which = a.add_argument_group("ensembles (choose one way)")
    which.add_argument(
        "--ensemble",
        action="append",
        default=[],
        metavar="A,B,C,...",
        help="comma-separated model names (repeatable; at least 3 models each)",
    )
    which.add_argument(
        "--ensembles-file", type=Path, help="JSON list of ensembles (lists of names)"
    )
    which.add_argument(
        "--random-ensembles", type=_positive, metavar="N", help="draw N random ensembles"
    )
    which.add_argument(
        "--ensemble-size", type=_positive, default=5, help="models per random ensemble"
    )
    which.add_argument("--seed", type=int, default=0, help="seed of the random ensembles")
    which.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave models matching GLOB out of random ensembles (repeatable)",
    )
    a.add_argument(
        "--k", type=_ks, default=[1, 5, 20], help="Smoothie-Local k values (default 1,5,20)"
    )
    a.add_argument(
        "--methods",
        default="",
        help=(
            "extra label-free methods, comma-separated: registered names (e.g. "
            "smoothie_local_eb_k20,smoothie_kernel) or module:function"
        ),
    )
    a.add_argument("--limit", type=_positive, help="use only the first N instructions")
    emb = a.add_argument_group("embeddings")
    emb.add_argument(
        "--embedder", default=None, help="embedder spec (default: offline MiniLM; 'hashing')"
    )
    emb.add_argument("--cache-dir", type=Path, help="embedding cache (default: the user cache dir)")
    emb.add_argument("--no-cache", action="store_true", help="do not cache embeddings on disk")
    emb.add_argument(
        "--precomputed-embeddings",
        type=Path,
        metavar="DIR",
        help="use the shared data's float16 MiniLM vectors (DIR holds instructions.jsonl and emb/)",
    )
    a.add_argument("--json", type=Path, metavar="OUT", help="write the results as JSON")
    a.add_argument(
        "--plot", type=Path, metavar="OUT.png", help="save a bar chart (needs matplotlib)"
    )
    a.add_argument("--quiet", action="store_true", help="no progress bar")
    a.set_defaults(func=run)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _ensembles(args: argparse.Namespace, annotator: str) -> list[list[str]]:
    from smoothie_core.evaluation.data import list_models, load_model
    from smoothie_core.evaluation.experiment import check_ensemble

    ensembles = [check_ensemble(e) for e in _read_ensembles(args, annotator)]
    known = set(list_models(args.results_dir, annotator=annotator))
    for name in dict.fromkeys(m for e in ensembles for m in e):
        if name not in known:
            load_model(args.results_dir, name, annotator=annotator)  # raises the right error
    return ensembles


def _read_ensembles(args: argparse.Namespace, annotator: str) -> list[list[str]]:
    from smoothie_core.evaluation import list_models, load_ensembles_file, random_ensembles

    ways = sum(
        [bool(args.ensemble), args.ensembles_file is not None, args.random_ensembles is not None]
    )
    if ways != 1:
        raise ValueError(
            "choose the ensembles one way: --ensemble A,B,C (repeatable), --ensembles-file FILE "
            f"or --random-ensembles N; got {ways} of them."
        )
    if args.ensemble:
        return [[m.strip() for m in e.split(",") if m.strip()] for e in args.ensemble]
    if args.ensembles_file is not None:
        return load_ensembles_file(args.ensembles_file)
    pool = [
        m
        for m in list_models(args.results_dir, annotator=annotator)
        if not any(fnmatch.fnmatchcase(m, g) for g in args.exclude)
    ]
    return random_ensembles(pool, args.random_ensembles, args.ensemble_size, args.seed)


def run(args: argparse.Namespace) -> int:
    from smoothie_core.embedders import CachedEmbedder, Embedder, load_embedder
    from smoothie_core.evaluation import (
        DEFAULT_ANNOTATOR,
        EmbeddingSource,
        PrecomputedEmbeddings,
        TextEmbeddings,
        format_results,
        method_names,
        plot_results,
        run_alpaca_eval,
    )

    start = time.perf_counter()
    annotator = args.annotator or DEFAULT_ANNOTATOR
    if not args.results_dir.is_dir():
        raise FileNotFoundError(
            f"--results-dir {args.results_dir} does not exist; expected AlpacaEval's results/ "
            "folder holding <model>/model_outputs.json."
        )
    ensembles = _ensembles(args, annotator)
    extra = [m.strip() for m in args.methods.split(",") if m.strip()]
    methods = method_names(args.k, extra)
    embedder: Embedder = load_embedder(args.embedder)  # lazy: loads its model on first use
    if not args.no_cache:
        embedder = CachedEmbedder(embedder, args.cache_dir)
    source: EmbeddingSource
    if args.precomputed_embeddings is not None:
        source = PrecomputedEmbeddings(args.precomputed_embeddings)
    else:
        source = TextEmbeddings(embedder, progress=not args.quiet)
    print(
        f"AlpacaEval ({annotator}): {len(ensembles)} ensemble(s), methods: {', '.join(methods)}; "
        f"embeddings: {source.id}",
        file=sys.stderr,
    )
    result = run_alpaca_eval(
        args.results_dir,
        ensembles,
        source,
        methods=methods,
        limit=args.limit,
        annotator=annotator,
        embedder=embedder,
    )
    result["config"].update(
        {
            "ensembles": ensembles,
            "seed": args.seed if args.random_ensembles is not None else None,
            "k": args.k,
        }
    )
    print(format_results(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    if args.plot is not None:
        try:
            print(f"wrote {plot_results(result, args.plot)}")
        except ImportError as err:
            print(f"smoothie: error: {err}", file=sys.stderr)
            return 2
    print(f"total time: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0
