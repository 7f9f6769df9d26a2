"""Where the teacher is and how it is asked. The API key itself is never part of the config: only
the name of the environment variable holding it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class TeacherConfig:
    """Where the teacher is and how it is asked. The key itself is never part of the config: only
    the name of the environment variable holding it."""

    base_url: str | None = None
    model: str | None = None
    extra_urls: tuple[str, ...] = ()
    """More endpoints serving the same model (replicas): each request goes to the least busy one,
    each endpoint takes at most `max_concurrency` at once, and a retry may land on another."""
    summary_model: str | None = None
    api_key_env: str = "TRACEKD_TEACHER_API_KEY"
    max_concurrency: int = 4
    max_attempts: int = 4
    timeout_s: float = 120.0
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 1024
    seed: int | None = 0
    flush_every_s: float = 2.0
    """How often replies are written to the cache: a killed run loses at most this much work."""
    max_questions: int | None = None
    """Ask about at most this many training questions (a seeded sample), e.g. for a slow local
    teacher; the others are left out of the teacher conditions' trace sets, and counted."""
    worked_example: bool = False
    """Show the teacher one solved training question first (its supporting facts quoted, the
    answer in tags), for a small model that does not follow the instruction alone. That question
    is then not asked, and the teacher's traces tend to copy the example's form."""

    def __post_init__(self) -> None:
        if self.base_url:
            check_endpoint(self.base_url)
        if self.extra_urls and not self.base_url:
            raise ValueError("teacher extra_urls need a base_url (the first endpoint)")
        for url in self.extra_urls:
            check_endpoint(url)
        if len(set(self.endpoints)) != len(self.endpoints):
            raise ValueError("teacher endpoints must differ: " + ", ".join(str(public_url(u)) for u in self.endpoints))
        numbers = {"max_concurrency": self.max_concurrency, "max_attempts": self.max_attempts, "max_tokens": self.max_tokens,
                   "max_questions": self.max_questions if self.max_questions is not None else 1}  # fmt: skip
        for name, value in numbers.items():
            if value < 1:
                raise ValueError(f"teacher {name} must be 1 or more; got {value}")
        if self.timeout_s <= 0 or self.flush_every_s < 0:
            raise ValueError("teacher timeout_s must be positive and flush_every_s 0 or more")

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.model)

    @property
    def endpoints(self) -> tuple[str, ...]:
        return (self.base_url, *self.extra_urls) if self.base_url else ()

    def sampling(self) -> dict[str, Any]:
        params: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}
        if self.seed is not None:
            params["seed"] = self.seed
        return params

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None


def public_url(url: str | None) -> str | None:
    """The endpoint without user info or query string, safe to store and show."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_endpoint(url: str) -> None:
    """A teacher endpoint is an http(s) URL with a host; anything else is a configuration error,
    said at once (not retried as if the network were down)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as error:
        raise ValueError(f"teacher base_url is not a valid URL: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"teacher base_url must be an http(s) URL with a host, e.g. http://localhost:8000/v1; got {public_url(url)!r}")
