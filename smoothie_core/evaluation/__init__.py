"""Evaluate label-free selection and routing on labelled data: one engine for every data set.

Loading (:mod:`~smoothie_core.evaluation.generations` for ``<task>/<model>.jsonl[.gz]``
labelled generations, :mod:`~smoothie_core.evaluation.data` for AlpacaEval results),
embeddings (:mod:`~smoothie_core.evaluation.embeddings`), registries of named methods
in select and route mode (:mod:`~smoothie_core.evaluation.methods`), the engine
(:mod:`~smoothie_core.evaluation.engine`), metrics, the AlpacaEval experiment and the
reports.
"""

from smoothie_core.evaluation.data import (
    DEFAULT_ANNOTATOR,
    AlignedEnsemble,
    ModelResults,
    align,
    instruction_order,
    list_models,
    load_model,
    load_models,
)
from smoothie_core.evaluation.embeddings import (
    EmbeddingSource,
    PrecomputedEmbeddings,
    TextEmbeddings,
)
from smoothie_core.evaluation.engine import (
    LazyBulkSource,
    evaluate_pool,
    route_methods,
    run_generations,
    select_methods,
    split_methods,
)
from smoothie_core.evaluation.experiment import (
    REFERENCES,
    evaluate_ensemble,
    load_ensembles_file,
    method_names,
    random_ensembles,
    run_alpaca_eval,
)
from smoothie_core.evaluation.generations import (
    GenerationsData,
    GenerationsFile,
    LabelledPool,
    load_pools_file,
    read_generations,
)
from smoothie_core.evaluation.methods import (
    EnsembleData,
    MethodFn,
    RouteData,
    RouteMethodFn,
    available_methods,
    available_route_methods,
    get_method,
    get_route_method,
    register_family,
    register_method,
    register_route_family,
    register_route_method,
)
from smoothie_core.evaluation.metrics import (
    best_single,
    model_win_rates,
    oracle_win_rate,
    random_win_rate,
    spearman,
    win_rate,
)
from smoothie_core.evaluation.report import (
    format_generations,
    format_results,
    plot_generations,
    plot_results,
)

__all__ = [
    "DEFAULT_ANNOTATOR",
    "REFERENCES",
    "AlignedEnsemble",
    "EmbeddingSource",
    "EnsembleData",
    "GenerationsData",
    "GenerationsFile",
    "LabelledPool",
    "LazyBulkSource",
    "MethodFn",
    "ModelResults",
    "PrecomputedEmbeddings",
    "RouteData",
    "RouteMethodFn",
    "TextEmbeddings",
    "align",
    "available_methods",
    "available_route_methods",
    "best_single",
    "evaluate_ensemble",
    "evaluate_pool",
    "format_generations",
    "format_results",
    "get_method",
    "get_route_method",
    "instruction_order",
    "list_models",
    "load_ensembles_file",
    "load_model",
    "load_models",
    "load_pools_file",
    "method_names",
    "model_win_rates",
    "oracle_win_rate",
    "plot_generations",
    "plot_results",
    "random_ensembles",
    "random_win_rate",
    "read_generations",
    "register_family",
    "register_method",
    "register_route_family",
    "register_route_method",
    "route_methods",
    "run_alpaca_eval",
    "run_generations",
    "select_methods",
    "spearman",
    "split_methods",
    "win_rate",
]
