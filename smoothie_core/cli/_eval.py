"""``smoothie eval``: label-free selection and routing scored on labelled data (one engine).

``smoothie eval alpaca-eval``: the paper's AlpacaEval experiment on an AlpacaEval
results folder (``--results-dir`` = AlpacaEval's ``results/``, a checkout of the public
repository or the shared data's copy). ``smoothie eval generations``: any labelled
generations in the layout ``<task>/<model>.jsonl[.gz]`` (ZeroEval, MMLU-Pro, your own
logs). Examples::

    smoothie eval alpaca-eval --results-dir ../shared/data/alpaca_eval/results \\
        --random-ensembles 10 --ensemble-size 5 --seed 0 \\
        --precomputed-embeddings ../shared/data/alpaca_eval --json out.json --plot out.png
    smoothie eval generations --data ../shared/data/zeroeval \\
        --pools-file ../shared/data/zeroeval/pools_dev.json --limit-per-task 50 \\
        --view last --json zeroeval.json --plot zeroeval.png
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["register", "run", "run_generations_command", "write_text_atomic"]


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
    _register_generations(bench)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _split_fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--route-split must be a fraction in [0, 1) like 0.5; got {text!r}"
        ) from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(
            f"--route-split must be in [0, 1) (0 = no route mode); got {value}"
        )
    return value


def _register_generations(bench: Any) -> None:
    from smoothie_core.textviews import VIEWS

    g = bench.add_parser(
        "generations",
        help="labelled generations (<task>/<model>.jsonl[.gz]: ZeroEval, MMLU-Pro, your logs)",
        description=(
            "Score label-free selection (select mode: every candidate answers every input) and "
            "routing (route mode: calibrate on the first --route-split of each task's inputs, "
            "route the rest from the input alone) on labelled generations, next to random / "
            "best single / best per task / oracle (references that use the labels). Each "
            "line of <task>/<model>.jsonl[.gz] is {id, input, output, reference, label}; a "
            "prompt is used only where every pool member has an output and a label."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g.add_argument(
        "--data", required=True, type=Path, help="folder holding <task>/<model>.jsonl[.gz]"
    )
    which = g.add_argument_group("pools (choose one way)")
    which.add_argument(
        "--pool",
        action="append",
        default=[],
        metavar="A,B,C,...",
        help="comma-separated model names (repeatable; at least 3 each; named pool_<i>)",
    )
    which.add_argument(
        "--pools-file",
        type=Path,
        metavar="FILE",
        help='JSON list of {"name", "models"} (e.g. pools_dev.json) or of lists of names',
    )
    g.add_argument("--tasks", default="", metavar="T1,T2", help="only these tasks (default all)")
    g.add_argument(
        "--limit-per-task",
        type=_positive,
        metavar="N",
        help="use the first N prompts of each task (file order)",
    )
    g.add_argument(
        "--k", type=_ks, default=[1, 5, 20], help="Smoothie-Local k values (default 1,5,20)"
    )
    g.add_argument(
        "--methods",
        default="",
        help=(
            "extra label-free methods, comma-separated: registered names in either mode (e.g. "
            "smoothie_local_eb_k20, route_local_k50) or module:function (route:module:function "
            "for a route-mode one)"
        ),
    )
    g.add_argument(
        "--only",
        action="store_true",
        help="run only the --methods given (not the paper's smoothie_global / local_k{K}, "
        "which embed every whole output: the expensive part on long outputs)",
    )
    g.add_argument(
        "--route-split",
        type=_split_fraction,
        default=0.5,
        metavar="F",
        help="route mode: calibrate on the first F of each task's prompts (default 0.5; 0 = off)",
    )
    emb = g.add_argument_group("embeddings")
    emb.add_argument(
        "--embedder", default=None, help="embedder spec (default: offline MiniLM; 'hashing')"
    )
    emb.add_argument(
        "--view",
        choices=VIEWS,
        default="first",
        help=(
            "which part of each output is embedded: first (the embedder's first 256 word "
            "pieces, as today), last (the last window), windows (mean over the whole text), "
            "answer (the stated final answer); inputs are always embedded as they are"
        ),
    )
    emb.add_argument("--cache-dir", type=Path, help="embedding cache (default: the user cache dir)")
    emb.add_argument("--no-cache", action="store_true", help="do not cache embeddings on disk")
    g.add_argument("--json", type=Path, metavar="OUT", help="write the results as JSON")
    g.add_argument(
        "--plot", type=Path, metavar="OUT.png", help="save a bar chart (needs matplotlib)"
    )
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    g.set_defaults(func=run_generations_command)


def _check_outputs(outputs: Iterable[Path | None], inputs: Iterable[Path | None]) -> None:
    """Refuse to write over an input (a file, or anything inside an input folder)."""
    ins = [p.resolve() for p in inputs if p is not None]
    for out in outputs:
        if out is None:
            continue
        target = out.resolve()
        for src in ins:
            if target == src or src in target.parents:
                raise ValueError(
                    f"refusing to write {out}: it is (or is inside) the input {src}; choose "
                    "another output path."
                )


def write_text_atomic(path: Path, text: str, inputs: Iterable[Path | None] = ()) -> None:
    """Write ``text`` to ``path`` atomically (:func:`smoothie_core._io.write_atomic`)."""
    from smoothie_core import _io

    path.parent.mkdir(parents=True, exist_ok=True)
    _io.write_atomic(path, text, inputs=[p for p in inputs if p is not None])


def _pools(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    from smoothie_core.evaluation import load_pools_file

    ways = sum([bool(args.pool), args.pools_file is not None])
    if ways != 1:
        raise ValueError(
            "choose the pools one way: --pool A,B,C (repeatable) or --pools-file FILE; got "
            f"{ways} of them."
        )
    if args.pools_file is not None:
        return load_pools_file(args.pools_file)
    return [
        (f"pool_{i}", [m.strip() for m in spec.split(",") if m.strip()])
        for i, spec in enumerate(args.pool)
    ]


def run_generations_command(args: argparse.Namespace) -> int:
    from smoothie_core.embedders import CachedEmbedder, Embedder, load_embedder
    from smoothie_core.evaluation import (
        GenerationsData,
        TextEmbeddings,
        format_generations,
        plot_generations,
        route_methods,
        run_generations,
        select_methods,
        split_methods,
    )
    from smoothie_core.textviews import ViewEmbedder

    start = time.perf_counter()
    _check_outputs([args.json, args.plot], [args.data, args.pools_file])
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] or None
    data = GenerationsData(args.data, tasks=tasks)
    pools = _pools(args)
    for _, models in pools:
        data.check_pool(models)
    extra = [m.strip() for m in args.methods.split(",") if m.strip()]
    extra_select, extra_route = split_methods(extra)
    if args.only:
        if not extra:
            raise ValueError("--only needs --methods: name the methods to run.")
        methods, rmethods = list(dict.fromkeys(extra_select)), list(dict.fromkeys(extra_route))
    else:
        methods = select_methods(args.k, extra_select)
        rmethods = route_methods(args.k, extra_route)
    base: Embedder = load_embedder(args.embedder)  # lazy: loads its model on first use
    outputs_embedder: Embedder = ViewEmbedder(base, args.view)
    inputs_embedder: Embedder = base
    if not args.no_cache:
        # two layers in one cache file: the view's vectors (keyed by the view's id), and
        # below the view the texts it reads (keyed by the plain embedder's id), so texts
        # that fit in one window are embedded once for every view
        inputs_embedder = CachedEmbedder(base, args.cache_dir)
        outputs_embedder = CachedEmbedder(ViewEmbedder(inputs_embedder, args.view), args.cache_dir)
    source = TextEmbeddings(
        outputs_embedder, progress=not args.quiet, input_embedder=inputs_embedder
    )
    split = args.route_split or None
    print(
        f"generations in {args.data} (tasks: {', '.join(data.tasks)}): {len(pools)} pool(s); "
        f"methods: {', '.join(methods)}"
        + (f"; route mode ({split:g}): {', '.join(rmethods)}" if split else "")
        + f"; outputs embedded as view {args.view!r} by {base.id}",
        file=sys.stderr,
    )
    result = run_generations(
        data,
        pools,
        source,
        methods=methods,
        route=rmethods,
        route_split=split,
        limit_per_task=args.limit_per_task,
        embedder=inputs_embedder,  # the cached plain embedder (answers, chunks, views)
        progress=not args.quiet,
    )
    cfg = result["config"]
    cfg.update(
        {
            "pools_file": None if args.pools_file is None else str(args.pools_file),
            "k": args.k,
            "embedder": base.id,
            "view": args.view,
            "cache_dir": None if args.no_cache else str(getattr(outputs_embedder, "cache_dir", "")),
            "embedded_texts": dict(source.n_texts),
            # outputs whose view vector was not cached; texts the model actually embedded
            # (inputs and the views' windows together)
            "cache_misses": {
                "output_views": getattr(outputs_embedder, "misses", None),
                "model_texts": getattr(inputs_embedder, "misses", None),
            },
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        }
    )
    print(format_generations(result))
    secs, cpu = cfg["embedding_seconds"]["outputs"], cfg["embedding_cpu_seconds"]["outputs"]
    n_out = source.n_texts["outputs"]
    misses = cfg["cache_misses"]
    print(
        f"embedding outputs (view {args.view}): {n_out} distinct texts in {secs:.1f} s wall, "
        f"{cpu:.1f} s CPU"
        + (
            f"; {misses['output_views']} not in the cache ({misses['model_texts']} texts run "
            "through the model, inputs included)"
            if misses["output_views"] is not None
            else ""
        ),
        file=sys.stderr,
    )
    if args.json is not None:
        write_text_atomic(args.json, json.dumps(result, indent=1) + "\n", inputs=[args.pools_file])
        print(f"wrote {args.json}")
    if args.plot is not None:
        try:
            print(f"wrote {plot_generations(result, args.plot)}")
        except ImportError as err:
            print(f"smoothie: error: {err}", file=sys.stderr)
            return 2
    print(f"total time: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


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
    _check_outputs(
        [args.json, args.plot],
        [args.results_dir, args.ensembles_file, args.precomputed_embeddings],
    )
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
        write_text_atomic(
            args.json, json.dumps(result, indent=1) + "\n", inputs=[args.ensembles_file]
        )
        print(f"wrote {args.json}")
    if args.plot is not None:
        try:
            print(f"wrote {plot_results(result, args.plot)}")
        except ImportError as err:
            print(f"smoothie: error: {err}", file=sys.stderr)
            return 2
    print(f"total time: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0
