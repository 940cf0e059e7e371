"""Holdout buckets: right share, stable, and the same number in SQL as in Python."""

from __future__ import annotations

import zlib

import pytest
from sqlalchemy import text

from scheduler.holdout import (
    HOLDOUT_BUCKETS,
    campaign_salt,
    holdout_bucket,
    holdout_bucket_sql,
    holdout_threshold,
    in_holdout,
)
from storage.database import create_db_engine

IDS = range(1, 10_001)


def test_salt_is_crc32_of_the_id_masked_to_31_bits() -> None:
    assert campaign_salt("test_abandoned") == zlib.crc32(b"test_abandoned") & (2**31 - 1)
    assert all(0 <= campaign_salt(c) < 2**31 for c in ("x", "welcome", "reengage_lapsed"))


def test_bucket_follows_the_published_formula() -> None:
    assert holdout_bucket(1, 0) == 1
    salt = campaign_salt("welcome")
    assert holdout_bucket(42, salt) == ((42 * (salt | 1) + salt) % 2**32) % 10_000


def test_largest_inputs_stay_inside_a_signed_64_bit_integer() -> None:
    assert (2**31 - 1) * (2**31 - 1) + (2**31 - 1) < 2**63


@pytest.mark.parametrize("pair", [("welcome", "test_abandoned"), ("next_test", "inactive_week"),
                                  ("class_missed_regular", "class_missed_lapsed")])
def test_control_groups_of_two_campaigns_overlap_only_by_chance(pair: tuple[str, str]) -> None:
    a, b = ({pid for pid in IDS if in_holdout(pid, c, 0.1)} for c in pair)
    # Independent 10% groups of 10,000 share about 100 people (sd about 9.5).
    assert 50 <= len(a & b) <= 150


@pytest.mark.parametrize("campaign", ["welcome", "test_abandoned", "reengage_lapsed"])
@pytest.mark.parametrize("share", [0.01, 0.05, 0.10, 0.25, 0.5])
def test_about_share_of_ten_thousand_ids_are_held_out(campaign: str, share: float) -> None:
    held = sum(in_holdout(pid, campaign, share) for pid in IDS)
    assert abs(held - share * len(IDS)) <= 0.01 * len(IDS)


def test_membership_is_stable() -> None:
    first = [in_holdout(pid, "welcome", 0.1) for pid in IDS]
    assert first == [in_holdout(pid, "welcome", 0.1) for pid in IDS]


def test_a_larger_share_keeps_everyone_already_held_out() -> None:
    small = {pid for pid in IDS if in_holdout(pid, "welcome", 0.05)}
    large = {pid for pid in IDS if in_holdout(pid, "welcome", 0.10)}
    assert small < large


def test_campaigns_get_different_control_groups() -> None:
    a = {pid for pid in IDS if in_holdout(pid, "welcome", 0.1)}
    b = {pid for pid in IDS if in_holdout(pid, "test_abandoned", 0.1)}
    assert a != b


def test_zero_and_full_share() -> None:
    assert not any(in_holdout(pid, "welcome", 0.0) for pid in IDS)
    assert all(in_holdout(pid, "welcome", 1.0) for pid in IDS)
    assert holdout_threshold(0.1) == HOLDOUT_BUCKETS // 10


@pytest.mark.parametrize("bad", [-1, 2**31])
def test_person_ids_outside_the_overflow_safe_range_are_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="person_id"):
        holdout_bucket(bad, 0)


def test_share_outside_zero_one_is_refused() -> None:
    with pytest.raises(ValueError, match="share"):
        in_holdout(1, "welcome", 1.5)


def test_sql_computes_the_same_buckets_on_both_databases(database_url: str) -> None:
    """SQLite and PostgreSQL, over an `integer` column like person.id (32 bits on PostgreSQL)."""
    ids = [0, 1, 2, 7, 9_999, 123_456_789, 2**31 - 1]
    salts = [0, 1, campaign_salt("welcome"), 2**31 - 1]
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE person (id INTEGER PRIMARY KEY)"))
            conn.execute(text("INSERT INTO person (id) VALUES (:id)"), [{"id": i} for i in ids])
            for salt in salts:
                sql = f"SELECT id, {holdout_bucket_sql('person.id', salt)} FROM person ORDER BY id"
                found = [(int(i), int(b)) for i, b in conn.execute(text(sql))]
                assert found == [(i, holdout_bucket(i, salt)) for i in ids], salt
    finally:
        engine.dispose()


def test_sql_expression_refuses_anything_but_a_column() -> None:
    with pytest.raises(ValueError, match="column"):
        holdout_bucket_sql("id); DROP TABLE person; --", 1)
    with pytest.raises(ValueError, match="salt"):
        holdout_bucket_sql("id", -1)
    with pytest.raises(ValueError, match="salt"):
        holdout_bucket_sql("id", 2**31)
