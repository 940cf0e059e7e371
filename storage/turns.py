"""What one turn reads, in one round trip: the person, their conversation, their consent."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import bindparam, literal_column, select, text
from sqlmodel import Session

from storage.conversations import ConversationState
from storage.people import PersonRow
from storage.tables import UNENGAGED_NUDGE, ConsentRecord, Conversation, Delivery, Identity, Person

_PERSON = Person.__table__
_IDENTITY = Identity.__table__
_CONVERSATION = Conversation.__table__
_CONSENT = ConsentRecord.__table__
_CONVERSATION_COLUMNS = ("flow", "state", "data", "version", "mode")

_DELIVERY = Delivery.__table__
# Whether a reply from this person has any sent, unengaged nudge to engage (partial index).
_HAS_UNENGAGED = (
    select(literal_column("1"))
    .select_from(_DELIVERY)
    .where(_DELIVERY.c.person_id == _PERSON.c.id, text(UNENGAGED_NUDGE))
    .exists()
    .label("has_unengaged_nudges")
)

_LOAD = (
    select(
        _PERSON,
        _HAS_UNENGAGED,
        _IDENTITY.c.reachable.label("identity_reachable"),
        *(_CONVERSATION.c[name].label(f"conv_{name}") for name in _CONVERSATION_COLUMNS),
        _CONSENT.c.purpose,
        _CONSENT.c.decision,
    )
    .select_from(
        _IDENTITY.join(_PERSON, _PERSON.c.id == _IDENTITY.c.person_id)
        .outerjoin(_CONVERSATION, _CONVERSATION.c.person_id == _PERSON.c.id)
        .outerjoin(_CONSENT, _CONSENT.c.person_id == _PERSON.c.id)
    )
    .where(
        _IDENTITY.c.channel == bindparam("channel"), _IDENTITY.c.address == bindparam("address")
    )
    .order_by(_CONSENT.c.id)
)


@dataclass(slots=True)
class TurnState:
    person: PersonRow
    conversation: ConversationState | None
    consent: dict[str, str] = field(default_factory=dict)
    created: bool = False  # the person was created in this very transaction
    unengaged_nudges: bool = False  # a reply now would engage a nudge sent earlier
    was_unreachable: bool = False  # the channel had refused us (blocked bot, dead number)


def load_turn(session: Session, channel: str, address: str) -> TurnState | None:
    rows = session.connection().execute(_LOAD, {"channel": channel, "address": address}).all()
    if not rows:
        return None
    first = rows[0]
    conversation = None
    if first.conv_flow is not None:
        conversation = ConversationState(
            first.conv_flow,
            first.conv_state,
            dict(first.conv_data),
            first.conv_version,
            first.conv_mode,
        )
    consent = {row.purpose: row.decision for row in rows if row.purpose is not None}
    return TurnState(
        PersonRow.from_row(first),
        conversation,
        consent,
        unengaged_nudges=bool(first.has_unengaged_nudges),
        was_unreachable=not first.identity_reachable,
    )
