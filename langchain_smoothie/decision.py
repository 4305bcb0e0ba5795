"""Smoothie as a LangChain decision model, for ``ModelRouterMiddleware``.

``langchain_core.decisions.BaseDecisionModel`` (langchain-core >= 1.8) answers typed
questions; ``langchain.agents.middleware.ModelRouterMiddleware`` (langchain >= 1.5)
asks a ``Choice`` question whose labels are its model routes and calls the chosen
model for the whole agent run. :class:`SmoothieDecisionModel` answers that question
with a calibrated :class:`~langchain_smoothie.SmoothieRouter`'s route-mode weights:
the route labels must be candidate names; the probabilities are the candidates'
Smoothie weights renormalised over the labels; ``confidence`` is the top probability.
"""

from __future__ import annotations

from typing import Annotated, Any

try:
    from langchain_core.decisions import (
        BaseDecisionModel,
        Choice,
        ChoiceAnswer,
        ClassifierResponse,
        Question,
        State,
    )
except ImportError as exc:  # pragma: no cover - only with an older langchain-core
    raise ImportError(
        "langchain_smoothie.decision needs langchain_core.decisions (BaseDecisionModel), "
        "which this langchain-core does not have; upgrade langchain-core (tested with 1.8). "
        "SmoothieRouter.route() and as_decision_runnable() work without it."
    ) from exc
from pydantic import ConfigDict, SkipValidation, field_validator

from langchain_smoothie._render import state_text
from langchain_smoothie.chat_models import SmoothieRouter

__all__ = ["SmoothieDecisionModel", "model_router_middleware"]


class SmoothieDecisionModel(BaseDecisionModel):
    """Answer ``Choice`` questions over candidate names with Smoothie route weights.

    Parameters
    ----------
    router : SmoothieRouter
        Calibrated (:meth:`SmoothieRouter.fit` / :meth:`SmoothieRouter.load`) or
        holding a select-mode pool.
    model : str, default="smoothie-router"
        Reported as ``ls_model_name``.

    Examples
    --------
    >>> from langchain_core.decisions import Choice
    >>> from langchain_smoothie import ScriptedChatModel, SmoothieRouter
    >>> from langchain_smoothie.decision import SmoothieDecisionModel
    >>> from smoothie_core import HashingEmbedder
    >>> models = {n: ScriptedChatModel(model_name=n, default_answer=a) for n, a in
    ...           [("a", "Paris is the capital."), ("b", "The capital is Paris."),
    ...            ("c", "Bananas are yellow.")]}
    >>> router = SmoothieRouter(models=models, mode="route", embedder=HashingEmbedder())
    >>> router = router.fit(["Capital of France?", "Where is Paris?"], show_progress=False)
    >>> answer = SmoothieDecisionModel(router=router).invoke({"state": "Capital of Italy?",
    ...     "questions": {"route": Choice(instructions="Pick a model.",
    ...                                   criteria={"a": None, "b": None, "c": None})}})
    >>> answer.choices["route"].choice in {"a", "b"}
    True
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    # Duck-typed (checked below) rather than isinstance-validated: the router class may be
    # imported twice under some test import modes, which would make isinstance fail.
    router: Annotated[SmoothieRouter, SkipValidation]
    model: str = "smoothie-router"

    @field_validator("router", mode="before")
    @classmethod
    def _check_router(cls, value: Any) -> Any:
        if not (callable(getattr(value, "route", None)) and hasattr(value, "models")):
            raise ValueError(f"`router` must be a SmoothieRouter; got {type(value).__name__}.")
        return value

    @property
    def _provider(self) -> str:
        return "smoothie"

    def _classify(self, state: State, questions: dict[str, Question]) -> ClassifierResponse:
        decision = self.router.route(state_text(state))
        answers: dict[str, Any] = {}
        for qid, question in questions.items():
            if not isinstance(question, Choice):
                raise ValueError(
                    f"SmoothieDecisionModel answers Choice questions only; question {qid!r} "
                    f"is {type(question).__name__}."
                )
            labels = list(question.criteria)
            unknown = [x for x in labels if x not in self.router.models]
            if unknown:
                raise ValueError(
                    f"Choice labels must be candidate names {self.router.candidate_names}; "
                    f"question {qid!r} has {unknown}."
                )
            raw = {x: decision.weights.get(x, 0.0) for x in labels}
            total = sum(raw.values())
            probs = {x: (v / total if total > 0 else 1 / len(labels)) for x, v in raw.items()}
            if decision.selected in probs:
                choice = decision.selected
            else:
                choice = max(labels, key=lambda x: (probs[x], -labels.index(x)))
            answers[qid] = ChoiceAnswer(
                type="choice", choice=choice, probabilities=probs, confidence=probs[choice]
            )
        return ClassifierResponse(model=self.model, answers=answers)


def model_router_middleware(
    router: SmoothieRouter, *, instructions: str = "Choose the model Smoothie scores best."
) -> Any:
    """A ``ModelRouterMiddleware`` that routes agent runs with ``router`` (needs ``langchain``).

    The middleware's choices are the router's candidates (criteria: their names); the
    classifier is :class:`SmoothieDecisionModel`.
    """
    try:
        from langchain.agents.middleware import ModelChoice, ModelRouterMiddleware
    except ImportError as exc:  # pragma: no cover - exercised only without langchain
        raise ImportError(
            "model_router_middleware needs `langchain` >= 1.5 (ModelRouterMiddleware); "
            "pip install 'langchain>=1.5'."
        ) from exc
    choices = {
        name: ModelChoice(model=model, criteria=f"candidate {name!r}")
        for name, model in router.models.items()
    }
    return ModelRouterMiddleware(
        choices=choices, instructions=instructions, classifier=SmoothieDecisionModel(router=router)
    )
