"""Secrets (API keys, Hub tokens) come from the environment and must never be stored or logged:
every error text that may carry one passes through `redact` first."""

from __future__ import annotations


def redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text
