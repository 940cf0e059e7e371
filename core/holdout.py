"""Deterministic per-campaign holdout buckets, identical in Python, SQLite and PostgreSQL.

bucket = ((person_id * (salt | 1) + salt) % 2**32) % 10000, with salt = crc32(campaign id)
masked to 31 bits. The multiplier differs per campaign: with one shared multiplier and only the
offset salted, every campaign's holdout was a shifted window of the same ordering of people, so
control groups overlapped far more than chance. Only integer multiplication, addition and modulo
of non-negative numbers: person_id < 2**31 and salt < 2**31 keep the sum below 2**62 + 2**31, so a
64-bit SQL integer never overflows, and `%` agrees between Python and both engines because nothing
is negative. A person is held out of a campaign when bucket < share * 10000.
"""

from __future__ import annotations

import re
import zlib

HOLDOUT_MODULUS = 2**32
SALT_MASK = 2**31 - 1
HOLDOUT_BUCKETS = 10_000
MAX_PERSON_ID = 2**31 - 1

_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def campaign_salt(campaign_id: str) -> int:
    """Stable 31-bit salt for a campaign id (masked so the SQL product cannot overflow)."""
    return zlib.crc32(campaign_id.encode("utf-8")) & SALT_MASK


def holdout_bucket(person_id: int, salt: int) -> int:
    """Bucket in [0, HOLDOUT_BUCKETS) for a person under a campaign salt."""
    if not 0 <= person_id <= MAX_PERSON_ID:
        raise ValueError(f"person_id must be in [0, 2**31), got {person_id}")
    if not 0 <= salt <= SALT_MASK:
        raise ValueError(f"salt must be a 31-bit non-negative integer, got {salt}")
    return ((person_id * (salt | 1) + salt) % HOLDOUT_MODULUS) % HOLDOUT_BUCKETS


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
    if not 0 <= salt <= SALT_MASK:
        raise ValueError(f"salt must be a 31-bit non-negative integer, got {salt}")
    return (
        # BIGINT: PostgreSQL multiplies two `integer`s in 32 bits and would overflow.
        f"((CAST({person_column} AS BIGINT) * {salt | 1} + {salt}) % {HOLDOUT_MODULUS})"
        f" % {HOLDOUT_BUCKETS}"
    )
