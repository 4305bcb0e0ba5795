"""ChatGGUF over a fake llama.cpp ``Llama`` (no weights, no llama-cpp-python needed)."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_tests.unit_tests import ChatModelUnitTests

from smoothie_demo import ChatGGUF


class FakeLlama:
    """Answers ``"echo: <last user message>"``; records requests; detects overlapping calls."""

    def __init__(self, delay: float = 0.0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.delay = delay
        self.busy = False
        self.overlaps = 0

    def create_chat_completion(self, stream: bool = False, **request: Any) -> Any:
        if self.busy:
            self.overlaps += 1
        self.busy = True
        try:
            time.sleep(self.delay)
            self.requests.append(request)
            text = "echo: " + request["messages"][-1]["content"]
            words = text.split(" ")
            if stream:
                return self._stream(words)
            return {
                "choices": [
                    {"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": 7,
                    "completion_tokens": len(words),
                    "total_tokens": 7 + len(words),
                },
            }
        finally:
            self.busy = False

    def _stream(self, words: list[str]) -> Any:
        yield {"choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]}
        for i, w in enumerate(words):
            yield {
                "choices": [{"delta": {"content": w if i == 0 else " " + w}, "finish_reason": None}]
            }
        yield {"choices": [{"delta": {}, "finish_reason": "length"}]}


def _chat(**kwargs: Any) -> tuple[ChatGGUF, FakeLlama]:
    fake = FakeLlama(delay=kwargs.pop("delay", 0.0))
    chat = ChatGGUF(model_path="unused.gguf", model="tiny", **kwargs)
    chat._llm = fake
    return chat, fake


def test_invoke_maps_roles_and_reports_usage() -> None:
    chat, fake = _chat(max_tokens=16, stop=["\n\n"])
    msg = chat.invoke(
        [SystemMessage("Be brief."), HumanMessage("hi"), AIMessage("yo"), HumanMessage("Capital?")]
    )
    assert msg.content == "echo: Capital?"
    assert msg.usage_metadata == {"input_tokens": 7, "output_tokens": 2, "total_tokens": 9}
    assert msg.response_metadata["finish_reason"] == "stop"
    assert msg.response_metadata["model_name"] == "tiny"
    req = fake.requests[0]
    assert [m["role"] for m in req["messages"]] == ["system", "user", "assistant", "user"]
    assert (req["max_tokens"], req["temperature"], req["stop"]) == (16, 0.0, ["\n\n"])


def test_call_time_parameters() -> None:
    chat, fake = _chat()
    chat.invoke("x", max_tokens=5, temperature=0.7, stop=["."])
    assert (fake.requests[0]["max_tokens"], fake.requests[0]["temperature"]) == (5, 0.7)
    assert fake.requests[0]["stop"] == ["."]
    with pytest.raises(TypeError, match=r"`max_tokens` and `temperature` only; got \['top_k'\]"):
        chat.invoke("x", top_k=3)


def test_stream_yields_tokens_and_finish_reason() -> None:
    chat, _ = _chat()
    chunks = list(chat.stream("one two"))
    assert "".join(str(c.content) for c in chunks) == "echo: one two"
    assert len(chunks) >= 4
    assert chunks[-1].response_metadata["finish_reason"] == "length"
    assert chunks[-1].chunk_position == "last"


async def test_async_through_the_base_class() -> None:
    chat, _ = _chat()
    assert (await chat.ainvoke("hello")).content == "echo: hello"
    assert "".join([str(c.content) async for c in chat.astream("a b")]) == "echo: a b"


def test_concurrent_calls_take_turns() -> None:
    chat, fake = _chat(delay=0.02)
    out = chat.batch([f"q{i}" for i in range(6)], config={"max_concurrency": 6})
    assert [m.content for m in out] == [f"echo: q{i}" for i in range(6)]
    threads = [threading.Thread(target=lambda: list(chat.stream("s"))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fake.overlaps == 0
    assert len(fake.requests) == 9


def test_missing_llama_cpp_says_which_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    chat = ChatGGUF(model_path="unused.gguf")
    with pytest.raises(ImportError, match=r"llama-cpp-python \(the `demo` extra\)"):
        chat.invoke("hi")


def test_identifying_and_tracing_params() -> None:
    chat, _ = _chat(max_tokens=12)
    assert chat._llm_type == "llama-cpp-gguf"
    params = chat._get_ls_params()
    assert params["ls_provider"] == "llama.cpp"
    assert params["ls_model_name"] == "tiny"
    assert params["ls_max_tokens"] == 12


class TestChatGGUFStandardUnit(ChatModelUnitTests):
    """langchain-tests' standard unit suite (the model is never loaded by these tests)."""

    @property
    def chat_model_class(self) -> type[ChatGGUF]:
        return ChatGGUF

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model_path": "unused.gguf", "model": "tiny"}

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False
