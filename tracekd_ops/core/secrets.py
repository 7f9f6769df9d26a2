"""Secrets (API keys, Hub tokens, credentials inside URLs) come from the environment and must
never be stored or logged: every error text that may carry one passes through `redact` first,
with every form the secret can take on the wire (as given, URL-quoted, and inside a Basic-auth
header as base64)."""

from __future__ import annotations

import base64
from urllib.parse import quote, unquote, urlsplit


def _forms(secret: str) -> set[str]:
    forms = {secret, unquote(secret), quote(secret, safe=""), quote(unquote(secret), safe="")}
    forms.add(base64.b64encode(unquote(secret).encode()).decode())
    return {f for f in forms if f}


def url_secrets(url: str | None) -> list[str]:
    """The credentials inside a URL's user info (`https://user:key@host/`): the user, the
    password, and `user:password` (what a client sends, base64-encoded, as Basic auth)."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [p for p in (parts.username, parts.password) if p]
    if parts.username and parts.password:
        found.append(f"{unquote(parts.username)}:{unquote(parts.password)}")
    return found


def redact(text: str, *secrets: str | None) -> str:
    """`text` with every form of every secret replaced by `***` (longest first, so a secret's
    parts cannot leave a longer form half-visible)."""
    forms = sorted({form for secret in secrets if secret for form in _forms(secret)}, key=len, reverse=True)
    for form in forms:
        text = text.replace(form, "***")
    return text
