"""The HTTP side of the teacher: any OpenAI-compatible chat endpoint (vLLM, SGLang, Ollama,
`transformers serve`, the DeepSeek API), through the official `openai` client.

Transient failures (timeouts, connection errors, 408/409/429, 5xx, malformed bodies) are retried
with exponential backoff through the one retry loop (`core.retry`); what still fails comes back as
a `failed` reply, never as an exception. The API key is scrubbed from every error kept.
"""

from __future__ import annotations

import random
import time
from typing import Callable

from tracekd_ops.core.retry import with_retries
from tracekd_ops.core.secrets import redact, url_secrets
from tracekd_ops.teacher.config import TeacherConfig
from tracekd_ops.teacher.requests import TeacherReply, TeacherRequest


class _Transient(Exception):
    """A failure worth another try."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Permanent(Exception):
    """A failure another try cannot fix (bad request, unknown model, wrong key)."""


class TeacherClient:
    """Sends chat requests with retries; never raises for a failed request (returns a failed reply)."""

    def __init__(self, config: TeacherConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        import openai

        if not config.configured:
            raise ValueError("the teacher needs a base_url and a model")
        self.config = config
        self._secret = config.api_key()
        self._secrets = [self._secret, *url_secrets(config.base_url)]
        self._sleep = sleep
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=self._secret or "not-needed",  # local servers take any key; the client wants one
            max_retries=0,  # retries are ours, so every fault type is retried and counted alike
            timeout=config.timeout_s,
        )

    def close(self) -> None:
        self._client.close()

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
        if outcome.value is not None:
            return outcome.value
        return TeacherReply(request.key, "failed", None, None, outcome.error, outcome.attempts, time.monotonic() - started)

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
        try:
            response = self._client.chat.completions.create(**payload)
        except openai.APIStatusError as fault:
            status = fault.status_code
            message = f"HTTP {status}: {_short(fault.message)}"
            if status in (408, 409, 429) or status >= 500:
                raise _Transient(message, _retry_after(fault.response.headers.get("retry-after"))) from fault
            raise _Permanent(message) from fault
        except openai.APITimeoutError as fault:
            raise _Transient(f"timed out after {self.config.timeout_s:g} s") from fault
        except openai.APIConnectionError as fault:
            raise _Transient(f"connection failed: {_short(str(fault.__cause__ or fault))}") from fault
        except (openai.APIResponseValidationError, ValueError) as fault:
            raise _Transient(f"malformed response: {_short(str(fault))}") from fault
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
            content,
            reasoning if isinstance(reasoning, str) else None,
            None,
            attempt,
            time.monotonic() - started,
            getattr(usage, "prompt_tokens", None),
            getattr(usage, "completion_tokens", None),
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
