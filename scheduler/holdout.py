"""Holdout buckets, now in `core.holdout` (storage needs the SQL too): imported from here too."""

from core.holdout import (
    HOLDOUT_BUCKETS,
    HOLDOUT_MODULUS,
    MAX_PERSON_ID,
    SALT_MASK,
    campaign_salt,
    holdout_bucket,
    holdout_bucket_sql,
    holdout_threshold,
    in_holdout,
)

__all__ = [
    "HOLDOUT_BUCKETS",
    "HOLDOUT_MODULUS",
    "MAX_PERSON_ID",
    "SALT_MASK",
    "campaign_salt",
    "holdout_bucket",
    "holdout_bucket_sql",
    "holdout_threshold",
    "in_holdout",
]
