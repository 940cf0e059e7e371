"""What is kept of a phone number once the number itself must go."""

from __future__ import annotations

import hashlib


def phone_hash(e164: str) -> str:
    """What consent records keep after erasure: enough to answer "did this number consent?"."""
    return hashlib.sha256(e164.encode()).hexdigest()
