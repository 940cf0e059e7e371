"""SQLModel tables: people, identities, conversations, messages, consent, opt-outs, deliveries."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _utc(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kw))


class Person(SQLModel, table=True):
    __tablename__ = "person"
    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(default="student", index=True)  # student | parent | mentor | admin
    display_name: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    lms_id: str | None = Field(default=None, unique=True)
    program: str | None = Field(default=None, index=True)
    track: str | None = None
    grade: str | None = None
    cohort: str | None = None
    enrolled_at: datetime | None = _utc(nullable=True)
    last_active_at: datetime | None = _utc(nullable=True)
    under_13: bool = False
    phone_e164: str | None = Field(default=None, index=True)
    mentor_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = _utc(nullable=False)
    erased_at: datetime | None = _utc(nullable=True)


class Identity(SQLModel, table=True):
    """How to reach a person on one channel; one person may have several."""

    __tablename__ = "identity"
    __table_args__ = (
        UniqueConstraint("channel", "address", name="uq_identity_channel_address"),
        # Covering for "the person's first reachable identity on a channel" (the planner).
        Index("ix_identity_person_channel", "person_id", "channel", "reachable"),
    )
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id")
    channel: str
    address: str
    reachable: bool = True
    # STOP on a chat channel (Telegram, web chat): no proactive message on this identity.
    # SMS numbers use `opt_out` instead, since everyone who shares a number is covered.
    opted_out: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    paused_until: datetime | None = _utc(nullable=True)
    created_at: datetime = _utc(nullable=False)


class Conversation(SQLModel, table=True):
    __tablename__ = "conversation"
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    flow: str = "onboarding"
    state: str = "start"
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    version: int = 0
    mode: str = "bot"  # bot | human (a mentor holds the conversation)
    updated_at: datetime = _utc(nullable=False)


class MessageLog(SQLModel, table=True):
    """Every message in and out; (channel, external_id) is unique, so a redelivery is a no-op."""

    __tablename__ = "message_log"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_message_channel_extid"),)
    id: int | None = Field(default=None, primary_key=True)
    channel: str
    external_id: str
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    direction: str = "in"
    text: str | None = None
    created_at: datetime = _utc(nullable=False)


class ConsentRecord(SQLModel, table=True):
    """Append-only: the current consent is the latest record per person and purpose."""

    __tablename__ = "consent_record"
    __table_args__ = (Index("ix_consent_person_purpose", "person_id", "purpose", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    purpose: str  # coaching | nudges | parent_updates | parent_sms
    decision: str  # granted | declined | withdrawn
    phone_e164: str | None = None
    phone_hash: str | None = Field(default=None, index=True)
    channel: str | None = None
    text_version: str | None = None
    locale: str | None = None
    source_message_id: str | None = None
    actor: str = "self"
    created_at: datetime = _utc(nullable=False)


class OptOut(SQLModel, table=True):
    """Per phone number: everyone who shares the number is covered."""

    __tablename__ = "opt_out"
    phone_e164: str = Field(primary_key=True)
    opted_out: bool = True
    paused_until: datetime | None = _utc(nullable=True)
    source: str | None = None
    updated_at: datetime = _utc(nullable=False)


UNENGAGED_NUDGE = "kind = 'nudge' AND status = 'sent' AND engaged_at IS NULL"


class Delivery(SQLModel, table=True):
    """The outbox: every outbound message is a row before it is sent."""

    __tablename__ = "delivery"
    __table_args__ = (
        Index("ix_delivery_due", "status", "due_at"),
        Index("ix_delivery_person", "person_id", "created_at"),
        Index("uq_delivery_topic_key", "topic_key", unique=True),
        # Every inbound message looks for the sender's unengaged nudges: keep that lookup small.
        Index(
            "ix_delivery_unengaged_nudge",
            "person_id",
            "sent_at",
            sqlite_where=text(UNENGAGED_NUDGE),
            postgresql_where=text(UNENGAGED_NUDGE),
        ),
        # Partial: most rows have neither (planned nudges, by the hundred thousand, skip them).
        *(Index(f"ix_delivery_{column}", column, sqlite_where=text(f"{column} IS NOT NULL"),
                postgresql_where=text(f"{column} IS NOT NULL"))
          for column in ("external_id", "parent_id")),
    )
    id: int | None = Field(default=None, primary_key=True)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    channel: str
    address: str
    kind: str = "reply"  # reply | nudge | digest | broadcast | relay | system
    purpose: str | None = None  # consent purpose required at send time, if any
    text: str
    choices: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # pending | held -> claimed (leased by a process) -> sending (its provider call started)
    # -> sent | delivered | failed | suppressed | review; see storage/claims.py.
    status: str = Field(default="pending")
    # The process holding the lease while claimed or sending (None: the turn that wrote it).
    lease_owner: str | None = None
    due_at: datetime = _utc(nullable=False)
    expires_at: datetime | None = _utc(nullable=True)
    dedupe_key: str | None = Field(default=None, unique=True)
    attempts: int = 0
    external_id: str | None = None
    error: str | None = None
    segments: int | None = None
    encoding: str | None = None
    campaign_id: str | None = Field(default=None, index=True)
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _utc(nullable=False)
    sent_at: datetime | None = _utc(nullable=True)
    updated_at: datetime = _utc(nullable=False)
    # Nudges (scheduler/planner.py): one topic per person and local day across campaigns.
    topic_key: str | None = None
    segment: str | None = None  # "engagement.performance" when planned; the UTM term
    anchor_event_id: int | None = None  # the learning event that triggered it
    step: int = 0  # 0 for the first send, 1.. for repeats
    parent_id: int | None = None  # cascade follow-ups
    delivered_at: datetime | None = _utc(nullable=True)
    engaged_at: datetime | None = _utc(nullable=True)
    converted_at: datetime | None = _utc(nullable=True)
    outcome: str | None = None  # converted | expired, once the attribution window closes


PENDING_STATUSES = ("planned", "pending", "held")  # not sent yet, and no call started


class LearningEvent(SQLModel, table=True):
    """What happened in the LMS: the nudge planner and parent digests read these."""

    __tablename__ = "learning_event"
    __table_args__ = (
        # Covering for the planner's personas (a scan of the whole index: kept narrow) and for
        # its campaigns' anchors: it reads these indexes only, never the rows with payloads.
        Index("ix_event_person_type_time", "person_id", "type", "occurred_at", "score"),
        Index("ix_event_type_time", "type", "occurred_at", "person_id", "ref"),
        # Social proof per class, assignment or test, and the planner's "nothing since for this
        # class" checks; covering, so both read the index only.
        Index("ix_event_ref_type", "ref", "type", "person_id", "occurred_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True)  # the sender's id: a batch sent twice is stored once
    person_id: int = Field(foreign_key="person.id")
    type: str
    occurred_at: datetime = _utc(nullable=False)
    ref: str | None = None  # which class, assignment, test or milestone
    score: float | None = None
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _utc(nullable=False)


class Guardian(SQLModel, table=True):
    """A parent linked to a student; the parent's digest day is kept per link."""

    __tablename__ = "guardian"
    __table_args__ = (UniqueConstraint("parent_id", "student_id", name="uq_guardian_pair"),)
    id: int | None = Field(default=None, primary_key=True)
    parent_id: int = Field(foreign_key="person.id", index=True)
    student_id: int = Field(foreign_key="person.id", index=True)
    digest_weekday: int = 0  # 0 = Monday, in the parent's local time
    created_at: datetime = _utc(nullable=False)


class SmsInbox(SQLModel, table=True):
    """Inbound SMS stored before the webhook answers, so an accepted message is never lost."""

    __tablename__ = "sms_inbox"
    id: int | None = Field(default=None, primary_key=True)
    message_sid: str = Field(unique=True)
    from_number: str
    to_number: str
    body: str = ""
    received_at: datetime = _utc(nullable=False)
    processed_at: datetime | None = _utc(nullable=True)


class SmsStatusEvent(SQLModel, table=True):
    """Every status callback once (MessageSid + status): a redelivery is a no-op."""

    __tablename__ = "sms_status_event"
    __table_args__ = (UniqueConstraint("message_sid", "status", name="uq_sms_status_sid_status"),)
    id: int | None = Field(default=None, primary_key=True)
    message_sid: str = Field(index=True)
    status: str
    error_code: int | None = None
    delivery_id: int | None = None
    received_at: datetime = _utc(nullable=False)


OPEN_ESCALATION = "status IN ('open', 'offered', 'taken')"


class Escalation(SQLModel, table=True):
    """A student handed to a human: open → offered → taken → released / resolved / expired.

    At most one open escalation per person (a partial unique index): new triggers join it.
    """

    __tablename__ = "escalation"
    __table_args__ = (
        Index(
            "uq_escalation_open_person",
            "person_id",
            unique=True,
            sqlite_where=text(OPEN_ESCALATION),
            postgresql_where=text(OPEN_ESCALATION),
        ),
        Index("ix_escalation_status", "status", "priority", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id")
    status: str = "open"
    priority: str = "normal"  # normal | urgent
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    channel: str | None = None  # where the student last wrote: relays go there
    address: str | None = None
    mentor_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    offered_to: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    passed_by: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    breaches: int = 0  # first-response target missed: 1 re-offered to the pool, 2 admins told
    resolution: str | None = None  # the tag of /resolve TAG, or "idle" for an idle return
    created_at: datetime = _utc(nullable=False)
    updated_at: datetime = _utc(nullable=False)
    due_at: datetime | None = _utc(nullable=True)  # the first-response target
    taken_at: datetime | None = _utc(nullable=True)
    first_response_at: datetime | None = _utc(nullable=True)
    last_activity_at: datetime | None = _utc(nullable=True)
    closed_at: datetime | None = _utc(nullable=True)


class KnowledgeAnswer(SQLModel, table=True):
    """One answer from the knowledge base (or an honest "not sure") and whether it helped."""

    __tablename__ = "knowledge_answer"
    __table_args__ = (Index("ix_knowledge_answer_entry", "entry_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    entry_id: str | None = None  # None: not covered, the bot said it was not sure
    locale: str
    channel: str
    confidence: float
    helpful: bool | None = None  # the "Did this help?" answer, once given
    created_at: datetime = _utc(nullable=False)
    feedback_at: datetime | None = _utc(nullable=True)


class MentorProfile(SQLModel, table=True):
    """What routing needs to know about a mentor: languages, hours in their zone, load."""

    __tablename__ = "mentor_profile"
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    work_start: str = "09:00"  # local time in the mentor's time zone (person.time_zone)
    work_end: str = "17:00"
    work_days: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4], sa_column=Column(JSON, nullable=False)
    )
    capacity: int = 10  # open conversations at most
    available: bool = True
    updated_at: datetime = _utc(nullable=False)


class Invitation(SQLModel, table=True):
    """A single-use, expiring invitation to become a mentor or an admin (only its hash is kept)."""

    __tablename__ = "invitation"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True)
    role: str  # mentor | admin
    name: str
    lms_id: str | None = None
    created_at: datetime = _utc(nullable=False)
    expires_at: datetime = _utc(nullable=False)
    used_at: datetime | None = _utc(nullable=True)
    used_by: int | None = Field(default=None, foreign_key="person.id")


class MentorNote(SQLModel, table=True):
    """A mentor's private note on a student, shown on the next context card."""

    __tablename__ = "mentor_note"
    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="person.id", index=True)
    mentor_id: int = Field(foreign_key="person.id")
    text: str
    created_at: datetime = _utc(nullable=False)


class StudentLink(SQLModel, table=True):
    """A single-use, expiring deep link that ties a chat to a student (only its hash is kept)."""

    __tablename__ = "student_link"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: datetime = _utc(nullable=False)
    expires_at: datetime = _utc(nullable=False)
    used_at: datetime | None = _utc(nullable=True)


class RateLimit(SQLModel, table=True):
    """A fixed-window counter shared by every process (key e.g. "bad_link:telegram:<chat>")."""

    __tablename__ = "rate_limit"
    key: str = Field(primary_key=True)
    window_start: datetime = _utc(nullable=False)
    count: int = 0


class SendSlot(SQLModel, table=True):
    """The next free start time (seconds since the epoch) for a send-rate key: "telegram",
    "telegram:<hash of the chat>", "sms:<sender>"; shared by every process (send_slots.py)."""

    __tablename__ = "send_slot"
    key: str = Field(primary_key=True)
    next_at: float = 0.0


class AuditRecord(SQLModel, table=True):
    """Append-only: every admin action that changes something (command, button or API call)."""

    __tablename__ = "audit_record"
    __table_args__ = (Index("ix_audit_created", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    actor: str  # "person:<id>", "telegram:<chat>" (MENTORBOT_ADMIN_TELEGRAM_IDS) or "api"
    action: str  # e.g. "campaign.pause", "broadcast.send", "person.erase"
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _utc(nullable=False)


class CampaignState(SQLModel, table=True):
    """What admins changed about a campaign at run time (campaigns themselves are a file)."""

    __tablename__ = "campaign_state"
    campaign_id: str = Field(primary_key=True)
    paused: bool = False
    updated_at: datetime = _utc(nullable=False)
    updated_by: int | None = Field(default=None, foreign_key="person.id")


class Broadcast(SQLModel, table=True):
    """An admin's message to a segment, from an approved template: draft → sent (or cancelled).
    Its nudges carry campaign_id "broadcast-<id>", so they have results like a campaign's."""

    __tablename__ = "broadcast"
    id: int | None = Field(default=None, primary_key=True)
    template: str
    segment_kind: str | None = None  # program | cohort | grade | language | persona
    segment_value: str | None = None
    status: str = "draft"
    audience: int = 0  # deliveries queued when it was sent
    created_by: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = _utc(nullable=False)
    sent_at: datetime | None = _utc(nullable=True)


class Goal(SQLModel, table=True):
    """A student's goal for one of their weeks (7 local days from their plan day): active until
    the week ends, then met, missed or carried over into the next week (once)."""

    __tablename__ = "goal"
    __table_args__ = (UniqueConstraint("person_id", "week_start", "kind", name="uq_goal_week"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    week_start: date  # the week's first local day
    kind: str  # attend_all | submit_n | practice_test | study_sessions | own
    target: int = 1
    text: str | None = None  # the student's own words (kind "own")
    status: str = "active"  # active | met | missed | carried
    progress: int = 0  # as counted when the week closed
    carried_from: int | None = None
    checked_in_at: datetime | None = _utc(nullable=True)  # an own goal, checked in as done
    created_at: datetime = _utc(nullable=False)
    closed_at: datetime | None = _utc(nullable=True)


class StudyPlan(SQLModel, table=True):
    """A student's weekly plan: items (activity, local day, hour) proposed on their plan day,
    accepted or moved by them; reviewed when the week ends."""

    __tablename__ = "study_plan"
    __table_args__ = (UniqueConstraint("person_id", "week_start", name="uq_study_plan_week"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    week_start: date
    status: str = "proposed"  # proposed | accepted | reviewed
    # [{"activity": "class", "day": "YYYY-MM-DD", "hour": 18, "done": null|true|false}, ...]
    items: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = _utc(nullable=False)
    accepted_at: datetime | None = _utc(nullable=True)
    reviewed_at: datetime | None = _utc(nullable=True)


class StudyPrefs(SQLModel, table=True):
    """The day a student wants their weekly plan on (their program's day until they choose)."""

    __tablename__ = "study_prefs"
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    plan_weekday: int = 0  # 0 = Monday, in the student's time zone
    updated_at: datetime = _utc(nullable=False)


class Badge(SQLModel, table=True):
    """A badge a student earned: once, ever (the primary key says so)."""

    __tablename__ = "badge"
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    badge: str = Field(primary_key=True)
    earned_at: datetime = _utc(nullable=False)
