"""Deterministic per-campaign holdout buckets, identical in Python, SQLite and PostgreSQL.

bucket = ((person_id * 2654435761 + salt) % 2**32) % 10000, with salt = crc32(campaign id).
Only integer multiplication, addition and modulo of non-negative numbers: for
person_id < 2**31 and salt < 2**32 the product stays below 2**63, so a 64-bit SQL integer never
overflows, and `%` agrees between Python and both engines because nothing is negative.
A person is held out of a campaign when bucket < share * 10000. Salting per campaign keeps the
control groups of different campaigns independent.
"""

from __future__ import annotations

import re
import zlib

HOLDOUT_MULTIPLIER = 2654435761  # Knuth's multiplicative-hash constant, about 2**32 / phi
HOLDOUT_MODULUS = 2**32
HOLDOUT_BUCKETS = 10_000
MAX_PERSON_ID = 2**31 - 1

_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def campaign_salt(campaign_id: str) -> int:
    """Stable unsigned 32-bit salt for a campaign id."""
    return zlib.crc32(campaign_id.encode("utf-8"))


def holdout_bucket(person_id: int, salt: int) -> int:
    """Bucket in [0, HOLDOUT_BUCKETS) for a person under a campaign salt."""
    if not 0 <= person_id <= MAX_PERSON_ID:
        raise ValueError(f"person_id must be in [0, 2**31), got {person_id}")
    return ((person_id * HOLDOUT_MULTIPLIER + salt) % HOLDOUT_MODULUS) % HOLDOUT_BUCKETS


def holdout_threshold(share: float) -> int:
    """Number of buckets (out of HOLDOUT_BUCKETS) that form the control group."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"holdout share must be in [0, 1], got {share}")
    return round(share * HOLDOUT_BUCKETS)


def in_holdout(person_id: int, campaign_id: str, share: float) -> bool:
    """True when the person belongs to the campaign's control group."""
    bucket = holdout_bucket(person_id, campaign_salt(campaign_id))
    return bucket < holdout_threshold(share)


def holdout_bucket_sql(person_column: str, salt: int) -> str:
    """The same bucket as a SQL expression (SQLite and PostgreSQL) over an integer column."""
    if not _COLUMN.fullmatch(person_column):
        raise ValueError(f"not a column reference: {person_column!r}")
    if not 0 <= salt < HOLDOUT_MODULUS:
        raise ValueError(f"salt must be an unsigned 32-bit integer, got {salt}")
    return (
        f"((({person_column}) * {HOLDOUT_MULTIPLIER} + {salt}) % {HOLDOUT_MODULUS})"
        f" % {HOLDOUT_BUCKETS}"
    )
