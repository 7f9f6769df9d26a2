"""The HTTP side of the teacher: any OpenAI-compatible chat endpoint (vLLM, SGLang, Ollama,
`transformers serve`, the DeepSeek API), through the official `openai` client; one endpoint, or
several replicas of the same model (`extra_urls`), each try sent to the least busy one with at
most `max_concurrency` requests in flight per endpoint.

Transient failures (timeouts, connection errors, 408/409/429, 5xx, malformed bodies) are retried
with exponential backoff through the one retry loop (`core.retry`); what still fails comes back as
a `failed` reply, never as an exception. The API key is scrubbed from every error kept.
"""

from __future__ import annotations

import random
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from tracekd_ops.core.retry import with_retries
from tracekd_ops.core.secrets import redact, url_secrets
from tracekd_ops.teacher.config import TeacherConfig, public_url
from tracekd_ops.teacher.requests import TeacherReply, TeacherRequest


class _Transient(Exception):
    """A failure worth another try."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Permanent(Exception):
    """A failure another try cannot fix (bad request, unknown model, wrong key)."""


class _Endpoint:
    """One endpoint: its client, a slot per request it may hold at once, and how many it holds."""

    def __init__(self, url: str, client: Any, slots: int) -> None:
        self.url, self.public, self.client = url, public_url(url), client
        self.slots = threading.BoundedSemaphore(slots)
        self.in_flight = 0


class TeacherClient:
    """Sends chat requests with retries; never raises for a failed request (returns a failed reply)."""

    def __init__(self, config: TeacherConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        import openai

        if not config.configured:
            raise ValueError("the teacher needs a base_url and a model")
        self.config = config
        self._secret = config.api_key()
        self._secrets = [self._secret, *(s for url in config.endpoints for s in url_secrets(url))]
        self._sleep = sleep
        self._lock = threading.Lock()
        self._turn = 0
        self._last_endpoint: dict[str, str | None] = {}
        self._endpoints = [
            _Endpoint(url, openai.OpenAI(
                base_url=url,
                api_key=self._secret or "not-needed",  # local servers take any key; the client wants one
                max_retries=0,  # retries are ours, so every fault type is retried and counted alike
                timeout=config.timeout_s,
            ), config.max_concurrency)
            for url in config.endpoints
        ]  # fmt: skip

    @property
    def capacity(self) -> int:
        """Requests that can be in flight at once, over all endpoints."""
        return self.config.max_concurrency * len(self._endpoints)

    @contextmanager
    def _endpoint(self, avoid: str | None) -> Iterator[_Endpoint]:
        """The least busy endpoint (ties in turn), other than `avoid` (the one whose try just failed)
        when there is another, holding one of its slots for one try."""
        with self._lock:
            self._turn += 1
            n = len(self._endpoints)
            candidates = [i for i in range(n) if self._endpoints[i].public != avoid] or list(range(n))
            chosen = min(candidates, key=lambda i: (self._endpoints[i].in_flight, (i - self._turn) % n))
            endpoint = self._endpoints[chosen]
            endpoint.in_flight += 1
        endpoint.slots.acquire()
        try:
            yield endpoint
        finally:
            endpoint.slots.release()
            with self._lock:
                endpoint.in_flight -= 1

    def close(self) -> None:
        for endpoint in self._endpoints:
            endpoint.client.close()

    def complete(self, request: TeacherRequest) -> TeacherReply:
        started = time.monotonic()
        outcome = with_retries(
            lambda attempt: self._once(request, attempt, started),
            self.config.max_attempts,
            self._backoff,
            lambda fault: redact(str(fault), *self._secrets),
            sleep=self._sleep,
            catch=(_Transient, _Permanent),
        )
        last = self._last_endpoint.pop(request.key, None)  # only needed while the request is being tried
        if outcome.value is not None:
            return outcome.value
        return TeacherReply(request.key, "failed", None, None, outcome.error, outcome.attempts, time.monotonic() - started, endpoint=last)

    def _clean(self, text: str) -> str:
        """Server text with every form of every secret (the key, URL credentials; as given,
        URL-quoted, base64) removed: applied where the text enters, before anything cuts it short,
        so no part of a secret survives a truncation either."""
        return redact(text, *self._secrets)

    def _backoff(self, attempt: int, fault: Exception) -> float | None:
        """Seconds before the next try: the server's Retry-After, else jittered exponential
        backoff; None for a permanent fault."""
        if not isinstance(fault, _Transient):
            return None
        if fault.retry_after is not None:
            return min(fault.retry_after, self.config.backoff_max_s)
        delay = self.config.backoff_s * 2 ** (attempt - 1)
        return min(delay * (0.5 + random.random() / 2), self.config.backoff_max_s)

    def _once(self, request: TeacherRequest, attempt: int, started: float) -> TeacherReply:
        import openai

        payload = request.payload()
        with self._endpoint(avoid=self._last_endpoint.get(request.key) if attempt > 1 else None) as endpoint:
            self._last_endpoint[request.key] = endpoint.public
            return self._ask(endpoint, payload, request, attempt, started)

    def _ask(self, endpoint: _Endpoint, payload: dict[str, Any], request: TeacherRequest, attempt: int, started: float) -> TeacherReply:
        import openai

        clean = self._clean
        try:
            response = endpoint.client.chat.completions.create(**payload)
        except openai.APIStatusError as fault:
            status = fault.status_code
            message = f"HTTP {status}: {_short(clean(fault.message))}"
            if status in (408, 409, 429) or status >= 500:
                raise _Transient(message, _retry_after(fault.response.headers.get("retry-after"))) from fault
            raise _Permanent(message) from fault
        except openai.APITimeoutError as fault:
            raise _Transient(f"timed out after {self.config.timeout_s:g} s") from fault
        except openai.APIConnectionError as fault:
            raise _Transient(f"connection failed: {_short(clean(str(fault.__cause__ or fault)))}") from fault
        except (openai.APIResponseValidationError, ValueError) as fault:
            raise _Transient(f"malformed response: {_short(clean(str(fault)))}") from fault
        try:
            message = response.choices[0].message
            content = message.content
            reasoning = (message.model_extra or {}).get("reasoning_content") or (message.model_extra or {}).get("reasoning")
            usage = response.usage
        except (AttributeError, IndexError, TypeError, KeyError) as fault:
            raise _Transient(f"malformed response: no choices[0].message ({type(fault).__name__})") from fault
        if content is None and not reasoning:
            raise _Transient("malformed response: the message has no content")
        return TeacherReply(
            request.key,
            "ok",
            clean(content) if content is not None else None,  # a server that echoes the request's headers must not store the key
            clean(reasoning) if isinstance(reasoning, str) else None,
            None,
            attempt,
            time.monotonic() - started,
            getattr(usage, "prompt_tokens", None),
            getattr(usage, "completion_tokens", None),
            endpoint.public,
        )


def failure_kind(error: str | None) -> str:
    """The kind of a failure ("HTTP 500", "malformed response", ...) for counting, without details."""
    return (error or "unknown").split(":")[0]


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
