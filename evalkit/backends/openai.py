"""``openai``: any OpenAI-compatible ``/v1/chat/completions`` server.

OpenAI itself, vLLM, Ollama, llama.cpp's server, LM Studio, TGI... Async with bounded
concurrency (the runner keeps ``concurrency`` requests in flight); transient failures are
retried with exponential backoff and jitter, honouring ``Retry-After`` (see ``http.py``).

The API key is read from the environment variable named by ``api_key_env`` at the moment
of each request; it is never stored on the backend, in its options, the cache or any file,
and is blanked out of every message (``evalkit.redact``). A server that needs no key (a
local one) simply gets no ``Authorization`` header.

Each reply keeps the model name the server reports, its token usage and ``finish_reason``;
a completion cut at ``max_tokens`` (``finish_reason="length"``) is kept and scored but
flagged and never cached. The cache key is the exact request body sent (model, messages
rendered from the prompt and the item, sampling options).

    evalkit run -s openai:model=llama3.2,base_url=http://127.0.0.1:11434/v1
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, ClassVar, Optional

from pydantic import Field, field_validator

from evalkit.backends.base import Backend, BackendOptions, Completion
from evalkit.backends.http import Reachability, RetryPolicy, make_client, post_json
from evalkit.backends.prompt import DEFAULT_PROMPT, render, resolve_template
from evalkit.errors import BackendError
from evalkit.records import GoldItem, Usage
from evalkit.redact import redact_text, register_secret


class OpenAI(Backend):
    """Chat-completions client: one user message from the prompt template per article."""

    name = "openai"
    reads = ("article", "title")  # through the prompt template
    #: options that change how fast or how stubbornly we ask, never what the model writes:
    #: they are left out of the cache key
    runtime_options: ClassVar[frozenset[str]] = frozenset(
        {"concurrency", "timeout", "max_retries", "backoff", "max_backoff", "max_retry_after"}
    )

    class Options(BackendOptions):
        model: str = Field(min_length=1, description="model name the server knows, e.g. gpt-4o-mini, llama3.2")
        base_url: str = Field("https://api.openai.com/v1", description="server root, up to /v1")
        prompt: Optional[str] = Field(None, description="template with {article} and {title}, or a file holding one")
        system: Optional[str] = Field(None, description="optional system message")
        temperature: float = Field(0.0, ge=0.0, le=2.0, description="sampling temperature (0: near-greedy)")
        max_tokens: int = Field(512, ge=1, description="longest completion in tokens")
        top_p: Optional[float] = Field(None, gt=0.0, le=1.0, description="nucleus sampling (sent only if set)")
        seed: Optional[int] = Field(None, description="sent to servers that support reproducible sampling")
        api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")
        concurrency: int = Field(8, ge=1, le=512, description="requests in flight at once")
        timeout: float = Field(60.0, gt=0, description="seconds per attempt: connect, send and read the whole reply")
        max_retries: int = Field(5, ge=0, description="retries of 429/5xx/timeouts/connection errors")
        backoff: float = Field(1.0, ge=0, description="first retry wait in seconds (doubles, jittered)")
        max_backoff: float = Field(60.0, ge=0, description="cap of the exponential retry wait")
        max_retry_after: float = Field(300.0, ge=0, description="longest Retry-After worth waiting for")

        @field_validator("base_url")
        @classmethod
        def _http_url(cls, v: str) -> str:
            v = v.strip().rstrip("/")
            if not v.startswith(("http://", "https://")):
                raise ValueError("must start with http:// or https://")
            if v.endswith("/chat/completions"):
                v = v[: -len("/chat/completions")]
            return v

    options: Options

    def __init__(self, options: Options | None = None):
        super().__init__(options)
        self.template = resolve_template(self.options.prompt) if self.options.prompt else DEFAULT_PROMPT
        self.concurrency = self.options.concurrency
        self.url = f"{self.options.base_url}/chat/completions"
        self.policy = RetryPolicy(
            max_retries=self.options.max_retries,
            backoff=self.options.backoff,
            max_backoff=self.options.max_backoff,
            max_retry_after=self.options.max_retry_after,
        )
        self._client = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._reach = Reachability()

    def prompt_text(self) -> str:
        return self.template if self.options.system is None else f"[system]\n{self.options.system}\n[user]\n{self.template}"

    def request_body(self, item: GoldItem) -> dict[str, Any]:
        o = self.options
        messages = [{"role": "system", "content": o.system}] if o.system else []
        messages.append({"role": "user", "content": render(self.template, item)})
        body: dict[str, Any] = {"model": o.model, "messages": messages, "temperature": o.temperature,
                                "max_tokens": o.max_tokens}
        if o.top_p is not None:
            body["top_p"] = o.top_p
        if o.seed is not None:
            body["seed"] = o.seed
        return body

    def cache_inputs(self, item: GoldItem) -> dict[str, Any]:
        return {"request": self.request_body(item)}

    async def asummarize(self, item: GoldItem) -> Completion:
        key = os.environ.get(self.options.api_key_env) or None
        register_secret(key)
        headers = {"Authorization": f"Bearer {key}"} if key else None
        data = await post_json(
            self._client_here(), self.url, self.request_body(item), policy=self.policy,
            timeout=self.options.timeout, headers=headers, secrets=[key], reach=self._reach,
        )
        return completion(data, secrets=[key])

    def summarize(self, item: GoldItem) -> Completion:
        """One item without the runner (a fresh event loop and client)."""

        async def once() -> Completion:
            try:
                return await self.asummarize(item)
            finally:
                await self.aclose()

        return asyncio.run(once())

    def _client_here(self):
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = make_client(base_url=self.url, timeout=self.options.timeout,
                                       concurrency=self.concurrency)
            self._loop = loop
            self._reach = Reachability()  # a new run asks the server anew
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client inside the event loop that used it (the runner calls this)."""
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.aclose()

    def close(self) -> None:
        # A client left over from a finished event loop cannot be awaited any more; its
        # sockets were closed with that loop. Drop the reference.
        self._client, self._loop = None, None


def completion(data: Any, secrets: list[Optional[str]] | None = None) -> Completion:
    """``choices[0].message.content`` of a chat-completions reply with the model the server
    reports, its token usage and ``finish_reason``; or a clear (redacted) BackendError."""
    try:
        choice = data["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        try:
            shown = json.dumps(data, ensure_ascii=False)
        except (TypeError, ValueError):
            shown = str(data)
        raise BackendError(f"reply has no choices[0].message.content: {redact_text(shown, secrets or [])[:200]}") from None
    reason = choice.get("finish_reason") if isinstance(choice, dict) else None
    if not isinstance(content, str) or not content.strip():
        raise BackendError(f"empty completion (finish_reason={reason})")
    usage = data.get("usage") if isinstance(data, dict) else None
    counts = {}
    if isinstance(usage, dict):
        counts = {k: usage[k] for k in ("prompt_tokens", "completion_tokens")
                  if isinstance(usage.get(k), int) and not isinstance(usage.get(k), bool) and usage[k] >= 0}
    model = data.get("model") if isinstance(data.get("model"), str) else None
    return Completion(content.strip(), model=model, usage=Usage(**counts) if counts else None,
                      finish_reason=reason if isinstance(reason, str) else None)


def completion_text(data: Any) -> str:
    """The text alone (see ``completion``)."""
    return completion(data).text
