"""langchain_smoothie: label-free routing for LangChain.

``SmoothieRouter`` is a chat model over candidate chat models; ``SmoothieRunnable``
routes across any runnables whose output is a message or a str, including one model
under several prompts (``SmoothieRunnable.from_prompts``).

``ScriptedChatModel`` (offline, deterministic candidates for tests and demos) lives in
:mod:`langchain_smoothie.fake_chat_models`. ``SmoothieDecisionModel`` and
``model_router_middleware`` (for LangChain's ``ModelRouterMiddleware``) live in
:mod:`langchain_smoothie.decision`, which needs a langchain-core with
``langchain_core.decisions``.
"""

from langchain_smoothie._embeddings import LangChainEmbedder
from langchain_smoothie.chat_models import AllCandidatesFailedError, SmoothieRouter
from langchain_smoothie.fake_chat_models import ScriptedChatModel
from langchain_smoothie.runnables import SmoothieRunnable
from smoothie_core._version import __version__

__all__ = [
    "AllCandidatesFailedError",
    "LangChainEmbedder",
    "ScriptedChatModel",
    "SmoothieRouter",
    "SmoothieRunnable",
    "__version__",
]
