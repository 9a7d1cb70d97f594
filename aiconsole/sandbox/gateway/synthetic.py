"""The synthetic model behind the gateway: deterministic usage, plausible text, cheap to run.

Usage follows from the request alone so that tests can predict it and limits bite where the
numbers say they should: prompt tokens are estimated as APIM's ``estimate-prompt-tokens`` does
(about four characters per token plus a small per-message overhead), completion tokens are
``max_tokens`` when given and otherwise a size derived from the prompt. The same estimator feeds
the policy engine, so an estimated prompt equals the reported one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

CONTEXT_WINDOW = 16_384
MAX_COMPLETION = 4_096
_WORDS = (
    "the gateway counts tokens per minute and refuses a request once its budget is spent while the "
    "console shows who is throttled and which limit binds them so that an engineer can raise it safely"
).split()


class BadRequest(ValueError):
    """The body is not a valid chat-completions request; answered as the backend would (400)."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param = param
        self.code = code
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"error": {"message": str(self), "type": "invalid_request_error", "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class ChatRequest:
    model: str | None
    prompt_text: str
    messages: int
    max_tokens: int | None
    stream: bool
    include_usage: bool


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif not isinstance(part, dict):
                raise BadRequest("Each content part must be an object.", param="messages")
        return " ".join(parts)
    if content is None:
        return ""
    raise BadRequest("Message content must be a string or a list of parts.", param="messages")


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Validate a chat-completions body; raise ``BadRequest`` with the backend's wording."""
    try:
        data = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("We could not parse the JSON body of your request. Expected a JSON object.") from None
    if not isinstance(data, dict):
        raise BadRequest("We could not parse the JSON body of your request. Expected a JSON object.")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' is a required property and must be a non-empty array.", param="messages")
    texts = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest("Each message must be an object with a 'role'.", param="messages")
        texts.append(_content_text(message.get("content")))
    max_tokens = data.get("max_completion_tokens", data.get("max_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise BadRequest("'max_tokens' must be a positive integer.", param="max_tokens")
    if max_tokens is not None and max_tokens > MAX_COMPLETION:
        raise BadRequest(f"max_tokens is too large: {max_tokens}. This model supports at most {MAX_COMPLETION} completion tokens.", param="max_tokens")
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise BadRequest("'model' must be a string.", param="model")
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean.", param="stream")
    options = data.get("stream_options") or {}
    include_usage = bool(options.get("include_usage")) if isinstance(options, dict) else False
    return ChatRequest(model, "\n".join(texts), len(messages), max_tokens, stream, include_usage)


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """About four characters per token, plus 3 per message and 3 for the reply's priming."""
    return (len(request.prompt_text) + 3) // 4 + 3 * request.messages + 3


def completion_tokens(request: ChatRequest, prompt_tokens: int) -> int:
    if request.max_tokens is not None:
        return request.max_tokens
    return min(256, 16 + prompt_tokens // 4)


def check_context(request: ChatRequest, prompt_tokens: int) -> None:
    """An oversize prompt is refused as the backend refuses it (400 context_length_exceeded)."""
    wanted = prompt_tokens + (request.max_tokens or 0)
    if wanted > CONTEXT_WINDOW:
        raise BadRequest(
            f"This model's maximum context length is {CONTEXT_WINDOW} tokens. However, you requested {wanted} tokens "
            f"({prompt_tokens} in the messages, {request.max_tokens or 0} in the completion). Please reduce the length "
            "of the messages or completion.",
            param="messages",
            code="context_length_exceeded",
        )


def completion_text(seed_text: str, tokens: int) -> str:
    """``tokens`` words, picked deterministically from the prompt (one word per token)."""
    start = int(hashlib.blake2s(seed_text.encode("utf-8"), digest_size=2).hexdigest(), 16)
    return " ".join(_WORDS[(start + i) % len(_WORDS)] for i in range(min(tokens, 2048)))


def latency_seconds(completion: int, scale: float) -> float:
    """A small, size-dependent delay (``scale`` 0 turns it off in tests)."""
    return scale * (0.015 + completion * 0.0002)


def _completion_id(seed_text: str, created: int) -> str:
    return "chatcmpl-" + hashlib.blake2s(f"{created}:{seed_text}".encode(), digest_size=12).hexdigest()


def completion_body(model: str, request: ChatRequest, prompt: int, completion: int, created: int) -> dict[str, Any]:
    finish = "length" if request.max_tokens is not None else "stop"
    return {
        "id": _completion_id(request.prompt_text, created),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_sandbox",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": completion_text(request.prompt_text, completion)},
                "finish_reason": finish,
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }


def stream_events(model: str, request: ChatRequest, prompt: int, completion: int, created: int) -> Iterator[bytes]:
    """Server-sent events for ``stream: true``: role, content in a few chunks, finish, [DONE]."""
    cid = _completion_id(request.prompt_text, created)
    words = completion_text(request.prompt_text, completion).split(" ")

    def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None, choices: bool = True) -> bytes:
        payload: dict[str, Any] = {
            "id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_sandbox",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}] if choices else [],
        }
        if usage is not None:
            payload["usage"] = usage
        return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"

    yield chunk({"role": "assistant", "content": ""})
    step = max(1, len(words) // 8)
    for i in range(0, len(words), step):
        text = " ".join(words[i : i + step])
        yield chunk({"content": (" " if i else "") + text})
    yield chunk({}, "length" if request.max_tokens is not None else "stop")
    if request.include_usage:
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        yield chunk({}, usage=usage, choices=False)
    yield b"data: [DONE]\n\n"


def created_now(clock_time: float | None = None) -> int:
    return int(clock_time if clock_time is not None else time.time())
