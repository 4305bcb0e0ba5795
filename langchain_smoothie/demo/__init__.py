"""``smoothie demo``: Smoothie routing across real local chat models (the ``demo`` extra)."""

from langchain_smoothie.demo.chat_models import ChatGGUF
from langchain_smoothie.demo.questions import QUESTIONS, SYSTEM_PROMPT, Question, load_questions
from langchain_smoothie.demo.runner import DemoReport, RouteRow, SelectRow, run_demo
from langchain_smoothie.demo.weights import (
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
