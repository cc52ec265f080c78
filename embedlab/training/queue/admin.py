"""The admin (the teacher): whoever knows the server's admin token may stop any run.

Tokens are compared with ``hmac.compare_digest``; the queue keeps only SHA-256 hashes of tokens (owners', the admin's).
"""

from __future__ import annotations

import hashlib
import hmac

from embedlab.settings import get_settings

ADMIN_ENV = "EMBEDLAB_ADMIN_TOKEN"  # named in messages; read through embedlab.settings


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def admin_token() -> str:
    """The server's admin token, or "" when none is set."""
    token = get_settings().admin_token
    return token.get_secret_value() if token else ""


def admin_token_matches(typed: str, expected: str | None = None) -> bool:
    """Whether ``typed`` is the server's admin token (never true when none is set)."""
    expected = admin_token() if expected is None else expected
    return bool(expected) and bool(typed) and hmac.compare_digest(typed.encode("utf-8"), expected.encode("utf-8"))
