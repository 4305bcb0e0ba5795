"""llamaindex_smoothie: Smoothie routing for LlamaIndex.

* :class:`SmoothieSelector` — a ``BaseSelector`` for ``RouterQueryEngine`` /
  ``RouterRetriever`` (route mode: calibrated in advance, one tool called per query).
* :class:`SmoothieQueryEngine` — asks every query engine and returns the best answer
  (select mode).
* :class:`SmoothieLLM` — an ``LLM`` that routes ``chat``/``complete`` across candidate
  LLMs (select or route mode); usable as ``Settings.llm``. ``SmoothieLLM.from_prompts``
  routes across prompt templates for one LLM (:class:`PromptedLLM` candidates).

Route mode is calibrated with ``fit(prompts) -> self`` (``calibration_report_``,
``calibration_errors_``), and the options (``n_neighbors``, ``max_concurrency``,
``timeout``, ``max_retries``, ``default``, ``abstain_below``, ``prices``,
``cost_tradeoff``, ...) have the names and defaults of LangChain's ``SmoothieRouter``
(:mod:`smoothie_core.defaults`). Candidates are called through
:mod:`smoothie_core.orchestration`; when none answers,
:class:`smoothie_core.exceptions.AllCandidatesFailedError`.
"""

from llamaindex_smoothie.embeddings import LlamaIndexEmbedder
from llamaindex_smoothie.events import SmoothieDecisionEvent
from llamaindex_smoothie.llm import SmoothieLLM
from llamaindex_smoothie.prompts import PromptedLLM
from llamaindex_smoothie.query_engine import SmoothieQueryEngine
from llamaindex_smoothie.selector import SmoothieSelector, SmoothieSelectorResult

__all__ = [
    "LlamaIndexEmbedder",
    "PromptedLLM",
    "SmoothieDecisionEvent",
    "SmoothieLLM",
    "SmoothieQueryEngine",
    "SmoothieSelector",
    "SmoothieSelectorResult",
]
