"""Evaluate label-free selection on AlpacaEval-format results (the paper's experiment).

Loading (:mod:`~smoothie_core.evaluation.data`), embeddings
(:mod:`~smoothie_core.evaluation.embeddings`), a registry of named methods
(:mod:`~smoothie_core.evaluation.methods`), metrics, the experiment and its report.
"""

from smoothie_core.evaluation import abstaining as abstaining  # registers issue-8 methods
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
from smoothie_core.evaluation.experiment import (
    REFERENCES,
    evaluate_ensemble,
    load_ensembles_file,
    method_names,
    random_ensembles,
    run_alpaca_eval,
)
from smoothie_core.evaluation.methods import (
    EnsembleData,
    MethodFn,
    available_methods,
    get_method,
    register_family,
    register_method,
)
from smoothie_core.evaluation.metrics import (
    best_single,
    model_win_rates,
    oracle_win_rate,
    random_win_rate,
    spearman,
    win_rate,
)
from smoothie_core.evaluation.report import format_results, plot_results

__all__ = [
    "DEFAULT_ANNOTATOR",
    "REFERENCES",
    "AlignedEnsemble",
    "EmbeddingSource",
    "EnsembleData",
    "MethodFn",
    "ModelResults",
    "PrecomputedEmbeddings",
    "TextEmbeddings",
    "align",
    "available_methods",
    "best_single",
    "evaluate_ensemble",
    "format_results",
    "get_method",
    "instruction_order",
    "list_models",
    "load_ensembles_file",
    "load_model",
    "load_models",
    "method_names",
    "model_win_rates",
    "oracle_win_rate",
    "plot_results",
    "random_ensembles",
    "random_win_rate",
    "register_family",
    "register_method",
    "run_alpaca_eval",
    "spearman",
    "win_rate",
]
