"""langchain_smoothie: ``SmoothieRouter``, a label-free routing chat model for LangChain.

``SmoothieDecisionModel`` and ``model_router_middleware`` (for LangChain's
``ModelRouterMiddleware``) live in :mod:`langchain_smoothie.decision`, which needs a
langchain-core with ``langchain_core.decisions``.
"""

from langchain_smoothie._embeddings import LangChainEmbedder
from langchain_smoothie._fake import ScriptedChatModel
from langchain_smoothie.chat_models import AllCandidatesFailedError, SmoothieRouter

__all__ = [
    "AllCandidatesFailedError",
    "LangChainEmbedder",
    "ScriptedChatModel",
    "SmoothieRouter",
]
