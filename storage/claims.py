"""Claiming deliveries for sending, and the facts the send-time policy needs about them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlmodel import Session

from core.delivery import DeliveryFacts
from storage.people import PersonRow
from storage.sms import opt_outs_for
from storage.tables import ConsentRecord, Conversation, Delivery, Identity, OptOut, Person

DUE_STATUSES = ("pending", "held")
CLAIMED, SENDING = "claimed", "sending"
# A process that claimed rows starts their calls well within this (a claim is at most one
# batch, paced); past it the process is taken for dead and the rows are due again.
CLAIM_LEASE = timedelta(minutes=5)
# Every provider call times out long before this: a row still in flight after it was being
# sent by a process that died.
SEND_LEASE = timedelta(minutes=2)
# meta key on a row whose call may have gone out: when that call started (ISO time).
IN_DOUBT = "in_doubt_since"


@dataclass(frozen=True, slots=True)
class IdentityFacts:
    """What the identity a delivery goes to says: reachable, and a chat's STOP and PAUSE
    (a number's are in `opt_out` instead, for everyone who shares it)."""

    reachable: bool = True
    opted_out: bool = False
    paused_until: datetime | None = None


UNKNOWN_IDENTITY = IdentityFacts()


def _under_13(person: PersonRow | Person | None) -> bool:
    """A student under 13; their parents are other people, with numbers of their own."""
    return person is not None and person.role == "student" and bool(person.under_13)


def _later(*moments: datetime | None) -> datetime | None:
    found = [m for m in moments if m is not None]
    return max(found) if found else None


def claim_due(
    session: Session, now: datetime, limit: int, channels: Sequence[str], owner: str
) -> list[Delivery]:
    """Lease due rows to this process: SKIP LOCKED on PostgreSQL, the one writer on SQLite."""
    query = (
        select(Delivery)
        .where(
            Delivery.status.in_(DUE_STATUSES),
            Delivery.due_at <= now,  # type: ignore[attr-defined]
            Delivery.channel.in_(channels),
        )  # type: ignore[attr-defined]
        .order_by(Delivery.due_at, Delivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.execute(query).scalars())
    ids = [r.id or 0 for r in rows]
    if ids:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))  # type: ignore[union-attr]
            .values(status=CLAIMED, lease_owner=owner, updated_at=now)
        )
    return rows


def claim_ids(session: Session, ids: Sequence[int], now: datetime, owner: str) -> set[int]:
    """Lease specific pending rows (the reply fast path); a row someone else took is skipped."""
    if not ids:
        return set()
    claimed = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == "pending")  # type: ignore[union-attr]
        .values(status=CLAIMED, lease_owner=owner, updated_at=now)
        .returning(Delivery.id)
    )
    return {int(i) for i in claimed.scalars()}


def start_sending(session: Session, ids: Sequence[int], now: datetime, owner: str) -> set[int]:
    """Mark leased rows as in flight, just before their provider calls: only these can be in
    doubt after a crash. A row whose lease lapsed and was taken up elsewhere is not returned
    (its sender must not call). Rows a turn leased carry no owner yet: its process takes them."""
    if not ids:
        return set()
    started = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), *_leased_to(owner))  # type: ignore[union-attr]
        .values(status=SENDING, lease_owner=owner, updated_at=now)
        .returning(Delivery.id)
    )
    return {int(i) for i in started.scalars()}


def _leased_to(owner: str) -> tuple[Any, Any]:
    """Leased and not yet started, by `owner` or by a turn of this process (no owner yet)."""
    mine = or_(Delivery.lease_owner.is_(None), Delivery.lease_owner == owner)  # type: ignore[union-attr]
    return Delivery.status == CLAIMED, mine


def leased_to(row: Delivery, owner: str) -> bool:
    return row.status == CLAIMED and row.lease_owner in (None, owner)


def release(session: Session, ids: Sequence[int], now: datetime, owner: str) -> int:
    """Leased rows whose call never started (shutting down): due again at once."""
    if not ids:
        return 0
    result = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), *_leased_to(owner))  # type: ignore[union-attr]
        .values(status="pending", lease_owner=None, updated_at=now)
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Recovered:
    """Rows taken back from a process that died: never started (`unstarted`), or whose provider
    call may have gone out (`in_doubt`: SMS looks before it resends, Telegram resends)."""

    unstarted: int = 0
    in_doubt: int = 0


def recover_abandoned(
    session: Session,
    now: datetime,
    *,
    started_before: datetime | None = None,
    claim_lease: timedelta = CLAIM_LEASE,
    send_lease: timedelta = SEND_LEASE,
) -> Recovered:
    """Take back the rows of processes that died.

    On PostgreSQL (`started_before` None) a lease is abandoned once it lapsed: claimed rows
    after `claim_lease`, rows in flight after `send_lease` (any provider call has timed out
    by then). On SQLite one process sends, so at its start-up every row leased before it started
    (`started_before`) is abandoned at once."""
    claimed_by = started_before or now - claim_lease
    sending_by = started_before or now - send_lease
    unstarted = session.execute(
        update(Delivery)
        .where(Delivery.status == CLAIMED, Delivery.updated_at < claimed_by)
        .values(status="pending", lease_owner=None, updated_at=now)
    ).rowcount or 0  # type: ignore[attr-defined]
    doubtful = session.execute(
        select(Delivery.id, Delivery.meta, Delivery.updated_at).where(
            Delivery.status == SENDING, Delivery.updated_at < sending_by
        )
    ).all()
    for delivery_id, meta, call_started in doubtful:
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == SENDING)
            .values(
                status="pending",
                lease_owner=None,
                due_at=now,
                meta={**meta, IN_DOUBT: call_started.isoformat()},
                error="interrupted while sending: outcome unknown",
                updated_at=now,
            )
        )
    return Recovered(int(unstarted), len(doubtful))


def hold(
    session: Session, delivery_id: int, now: datetime, until: datetime | None, reason: str
) -> None:
    status, due = ("held", until) if until is not None else ("review", now)
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(status=status, due_at=due, error=reason, updated_at=now)
    )


def suppress(session: Session, delivery_id: int, now: datetime, reason: str) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(status="suppressed", error=reason, updated_at=now)
    )


def reply_facts(
    session: Session,
    person: PersonRow,
    consent: dict[str, str],
    channel: str,
    address: str,
    kind: str = "reply",
) -> DeliveryFacts:
    """Facts for a turn's own replies: the turn already knows the person and their consent.

    These answer the person's own message, never proactive: a chat's STOP or PAUSE does not
    concern them, so the chat's identity is not read here."""
    opt = opt_outs_for(session, [address]).get(address) if channel == "sms" else None
    return DeliveryFacts(
        kind=kind,
        channel=channel,
        address=address,
        time_zone=person.time_zone,
        consent=consent,
        opted_out=opt is not None and opt.opted_out,
        paused_until=opt.paused_until if opt else None,
        under_13=_under_13(person),
    )


def facts_for(
    session: Session, rows: Iterable[Delivery], now: datetime | None = None
) -> dict[int, DeliveryFacts]:
    """Everything the policy checks, for a batch of deliveries, in a handful of queries."""
    rows = list(rows)
    person_ids = {r.person_id for r in rows if r.person_id is not None}
    people = _people(session, person_ids)
    consents = _consents(session, person_ids | _student_ids(rows))
    phones = {r.address for r in rows if r.channel == "sms"}
    phones |= {p.phone_e164 for p in people.values() if p.phone_e164}
    opt_outs = opt_outs_for(session, phones)
    identities = _identities(session, rows)
    human = _mentor_held(session, person_ids)
    facts = {
        r.id or 0: _facts(r, people.get(r.person_id or -1), consents, opt_outs, identities, human)
        for r in rows
    }
    if now is not None:
        _add_nudge_counts(session, rows, people, facts, now)
    return facts


def _add_nudge_counts(
    session: Session,
    rows: list[Delivery],
    people: dict[int, Person],
    facts: dict[int, DeliveryFacts],
    now: datetime,
) -> None:
    """Nudges already sent today in each recipient's zone (for the frequency cap)."""
    nudges = [r for r in rows if r.kind == "nudge" and r.person_id is not None]
    if not nudges:
        return
    counts = nudges_sent_today(session, people, {r.person_id or 0 for r in nudges}, now)
    for row in nudges:
        facts[row.id or 0] = replace(
            facts[row.id or 0],
            nudges_today=counts.get(row.person_id or 0, 0),
            cap_exempt=bool(row.meta.get("cap_exempt")) or row.parent_id is not None,
        )


def nudges_sent_today(
    session: Session, people: dict[int, Person], person_ids: set[int], now: datetime
) -> dict[int, int]:
    """Capped nudges (not exempt, not cascade follow-ups) sent on each person's local day."""
    found = session.execute(
        select(Delivery.person_id, Delivery.sent_at, Delivery.meta).where(
            Delivery.person_id.in_(person_ids),  # type: ignore[union-attr]
            Delivery.kind == "nudge",
            Delivery.status == "sent",
            Delivery.parent_id.is_(None),  # type: ignore[union-attr]
            Delivery.sent_at >= now - timedelta(hours=30),  # type: ignore[operator]
        )
    )
    counts: dict[int, int] = {}
    for person_id, sent_at, meta in found:
        person = people.get(person_id)
        zone = ZoneInfo(person.time_zone) if person and person.time_zone else UTC
        if (
            not meta.get("cap_exempt")
            and sent_at.astimezone(zone).date() == now.astimezone(zone).date()
        ):
            counts[person_id] = counts.get(person_id, 0) + 1
    return counts


def _facts(
    row: Delivery,
    person: Person | None,
    consents: dict[int, dict[str, str]],
    opt_outs: dict[str, OptOut],
    identities: dict[tuple[str, str], IdentityFacts],
    human: set[int],
) -> DeliveryFacts:
    sms = row.channel == "sms"
    phone = row.address if sms else (person.phone_e164 if person else None)
    opt = opt_outs.get(phone or "")
    identity = identities.get((row.channel, row.address), UNKNOWN_IDENTITY)
    # A number's PAUSE pauses the person's other channels too; a chat's covers that chat only.
    paused = _later(opt.paused_until if opt else None, None if sms else identity.paused_until)
    return DeliveryFacts(
        kind=row.kind,
        channel=row.channel,
        address=row.address,
        purpose=row.purpose,
        expires_at=row.expires_at,
        time_zone=person.time_zone if person else None,
        consent=consents.get(row.person_id or -1, {}),
        opted_out=(opt is not None and opt.opted_out) if sms else identity.opted_out,
        paused_until=paused,
        under_13=_under_13(person),
        reachable=identity.reachable,
        mentor_holds=(row.person_id or -1) in human,
        student_consent=_student_consent(row, consents),
    )


def _student_ids(rows: list[Delivery]) -> set[int]:
    """Students a parent's message is about (`meta["student_id"]`)."""
    return {int(r.meta["student_id"]) for r in rows if str(r.meta.get("student_id", "")).isdigit()}


def _student_consent(row: Delivery, consents: dict[int, dict[str, str]]) -> dict[str, str] | None:
    student = str(row.meta.get("student_id", ""))
    return consents.get(int(student), {}) if student.isdigit() else None


def _people(session: Session, ids: set[int]) -> dict[int, Person]:
    if not ids:
        return {}
    found = session.execute(select(Person).where(Person.id.in_(ids))).scalars()  # type: ignore[union-attr]
    return {p.id or 0: p for p in found}


def _consents(session: Session, ids: set[int]) -> dict[int, dict[str, str]]:
    result: dict[int, dict[str, str]] = {}
    if not ids:
        return result
    rows = session.execute(
        select(ConsentRecord.person_id, ConsentRecord.purpose, ConsentRecord.decision)
        .where(ConsentRecord.person_id.in_(ids))
        .order_by(ConsentRecord.id)
    )  # type: ignore[union-attr]
    for person_id, purpose, decision in rows:
        result.setdefault(person_id, {})[purpose] = decision
    return result


def _identities(session: Session, rows: list[Delivery]) -> dict[tuple[str, str], IdentityFacts]:
    """Reachability, a chat's STOP and its PAUSE, for every address in one query."""
    addresses = {r.address for r in rows}
    if not addresses:
        return {}
    found = session.execute(
        select(
            Identity.channel,
            Identity.address,
            Identity.reachable,
            Identity.opted_out,
            Identity.paused_until,
        ).where(Identity.address.in_(addresses))  # type: ignore[attr-defined]
    )
    return {
        (channel, address): IdentityFacts(bool(ok), bool(out), paused)
        for channel, address, ok, out, paused in found
    }


def _mentor_held(session: Session, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    found = session.execute(
        select(Conversation.person_id).where(
            Conversation.person_id.in_(ids), Conversation.mode == "human"
        )
    )  # type: ignore[attr-defined]
    return {int(i) for i in found.scalars()}
