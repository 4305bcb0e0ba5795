"""``ChatGGUF``: a small LangChain chat model over a local GGUF file (llama.cpp).

Written for the demo instead of langchain-community's ``ChatLlamaCpp``, which is being
sunset, overrides the model's RoPE base by default, reports no token usage and has no
lock. ``llama_cpp`` (the ``demo`` extra) is imported on the first call only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

__all__ = ["ChatGGUF"]

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


class ChatGGUF(BaseChatModel):
    """A chat model answering with a local GGUF model through ``llama-cpp-python``.

    ``invoke``/``stream``/``batch`` and their async forms work (async through
    LangChain's executor). ``usage_metadata`` comes from llama.cpp's own token counts
    (``invoke``; a stream carries ``finish_reason`` on its last chunk but no usage,
    since llama.cpp does not report it when streaming). The ``Llama`` is created on the
    first call with the model's own chat template and RoPE settings; a lock makes
    concurrent calls (``batch``, a select-mode router) take turns, as one ``Llama``
    must not run two generations at once. ``OMP_WAIT_POLICY=PASSIVE`` is set (unless
    already set) before ``llama_cpp`` is imported, so idle threads do not spin on a
    busy machine.

    Parameters
    ----------
    model_path : str
        The ``.gguf`` file.
    model_name : str
        Name reported in ``response_metadata`` and traces (alias ``model``).
    max_tokens : int, default=96
    temperature : float, default=0.0
        0 is greedy decoding (reproducible).
    stop : list of str or None
    n_ctx : int, default=2048
    n_threads : int, default=1
        CPU threads for generation and prompt processing (1 is fastest on a shared
        2-core machine).
    n_batch : int, default=256
    seed : int, default=0

    Examples
    --------
    >>> chat = ChatGGUF(model_path="model.gguf", model_name="tiny", max_tokens=32)
    >>> chat._llm_type, chat.max_tokens   # nothing is loaded until the first call
    ('llama-cpp-gguf', 32)
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    model_path: str
    model_name: str = Field(default="gguf", alias="model")
    max_tokens: int = 96
    temperature: float = 0.0
    stop: list[str] | None = None
    n_ctx: int = 2048
    n_threads: int = 1
    n_batch: int = 256
    seed: int = 0

    _llm: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-gguf"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "model_path": self.model_path,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="llama.cpp",
            ls_model_name=kwargs.get("model", self.model_name),
            ls_model_type="chat",
            ls_temperature=kwargs.get("temperature", self.temperature),
            ls_max_tokens=kwargs.get("max_tokens", self.max_tokens),
        )
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    def _client(self) -> Any:
        """The ``llama_cpp.Llama`` (created on first use; call with the lock held)."""
        if self._llm is None:
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ImportError(
                    "ChatGGUF needs llama-cpp-python (the `demo` extra): "
                    "CMAKE_ARGS=\"-DLLAVA_BUILD=OFF\" pip install 'smoothie-router[demo]'."
                ) from exc
            self._llm = Llama(
                model_path=self.model_path,
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                n_batch=self.n_batch,
                seed=self.seed,
                verbose=False,
            )
        return self._llm

    def load(self) -> None:
        """Load the model now (otherwise the first call does)."""
        with self._lock:
            self._client()

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        unknown = set(kwargs) - {"max_tokens", "temperature"}
        if unknown:
            raise TypeError(
                f"ChatGGUF accepts call-time `max_tokens` and `temperature` only; got {sorted(unknown)}."
            )
        return {
            "messages": [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages],
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "temperature": kwargs.get("temperature", self.temperature),
            "stop": stop if stop is not None else (self.stop or []),
            "seed": self.seed,
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        with self._lock:
            out = self._client().create_chat_completion(**request)
        choice, usage = out["choices"][0], out.get("usage") or {}
        message = AIMessage(
            content=choice["message"].get("content") or "",
            usage_metadata=UsageMetadata(
                input_tokens=usage.get("prompt_tokens", 0),
                output_tokens=usage.get("completion_tokens", 0),
                total_tokens=usage.get("total_tokens", 0),
            ),
            response_metadata={
                "model_name": self.model_name,
                "finish_reason": choice.get("finish_reason"),
                "model_provider": "llama.cpp",
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop, kwargs)
        with self._lock:
            finish: str | None = None
            for part in self._client().create_chat_completion(stream=True, **request):
                choice = part["choices"][0]
                finish = choice.get("finish_reason") or finish
                text = choice.get("delta", {}).get("content")
                if text:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                response_metadata={
                    "model_name": self.model_name,
                    "finish_reason": finish,
                    "model_provider": "llama.cpp",
                },
                chunk_position="last",
            )
        )
