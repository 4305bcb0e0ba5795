"""langchain_smoothie: ``SmoothieRouter``, a label-free routing chat model for LangChain."""

from langchain_smoothie._embeddings import LangChainEmbedder
from langchain_smoothie._fake import ScriptedChatModel
from langchain_smoothie.chat_models import AllCandidatesFailedError, SmoothieRouter
from langchain_smoothie.decision import SmoothieDecisionModel, model_router_middleware

__all__ = [
    "AllCandidatesFailedError",
    "LangChainEmbedder",
    "ScriptedChatModel",
    "SmoothieDecisionModel",
    "SmoothieRouter",
    "model_router_middleware",
]
