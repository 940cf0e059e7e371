"""The admins' HTTP API key: `Authorization: Bearer <MENTORBOT_API_TOKEN>` on every call."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import HTTPException


def require_api_token(runtime: Any, authorization: str | None) -> None:
    """401 unless the header carries the configured token (no token configured: always 401)."""
    token = runtime.settings.api_token
    scheme, _, given = (authorization or "").partition(" ")
    if token is None or scheme.lower() != "bearer" or not hmac.compare_digest(
        given.encode(), token.get_secret_value().encode()
    ):
        raise HTTPException(401, "a valid bearer token is required",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
