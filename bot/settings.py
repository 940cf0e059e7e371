"""Typed settings read from the environment (prefix MENTORBOT_, nested with __) and `.env`."""

from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.locales import SUPPORTED_LOCALES as SUPPORTED_LOCALES
from scheduler.quiet_hours import SendWindow

DEFAULT_DATABASE_URL = "sqlite:///var/mentorbot.sqlite3"
_PLACEHOLDER_SECRETS = {"changeme", "changethis", "secret", "token"}


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000


class TelegramSettings(BaseModel):
    token: SecretStr | None = None
    api_base: str = "https://api.telegram.org"
    mode: str = Field(default="polling", pattern="^(polling|webhook)$")
    webhook_secret: SecretStr | None = None
    rate_per_second: float = 25.0
    per_chat_per_second: float = 1.0
    username: str | None = None  # for deep links; asked from getMe when unset
    # How long a student's deep link can be opened (once). The former LINK_SECRET is not read
    # any more: links are random tokens stored as hashes, so an old value is simply ignored.
    link_ttl_days: float = Field(default=7, gt=0)
    request_timeout: float = 30.0  # seconds per Bot API call (a send that times out is not resent)


class TwilioSettings(BaseModel):
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: str | None = None
    messaging_service_sid: str | None = None
    api_base: str = "https://api.twilio.com"
    rate_per_second: float = 1.0  # segments per second, per sender (the number's MPS)
    # Local send window for proactive texts; SendWindow refuses anything wider than 8-21.
    send_window_start: time = time(9)
    send_window_end: time = time(20)
    timeout_seconds: float = 10.0  # per API call: twilio's async client has none of its own
    backoff_seconds: float = 1.0  # first wait after a 429; doubles each time, with jitter
    max_throttle_retries: int = 3
    reply_validity_seconds: int = Field(default=4 * 3600, ge=1, le=36000)
    pause_days: int = 14
    inbox_sweep_seconds: float = 30.0  # re-run inbound a crash left unprocessed
    parent_link: str | None = None  # the parents' page linked from digests; unset: no link

    @model_validator(mode="after")
    def _window_is_legal(self) -> TwilioSettings:
        self.send_window()
        return self

    def send_window(self) -> SendWindow:
        return SendWindow(self.send_window_start, self.send_window_end)


class ConsentSettings(BaseModel):
    """Who may be offered coaching (the edX rule by default)."""

    eligible_tracks: list[str] = ["verified"]
    eligible_programs: list[str] = ["microbachelors-cs", "microbachelors-it"]
    active_within_days: int = 90
    text_version: str = "coaching-2026-11"


class SchedulerSettings(BaseModel):
    enabled: bool = True
    tick_seconds: float = 5.0
    # Deliveries one drain leases; with several workers, smaller batches spread the work.
    claim_batch: int = Field(default=500, ge=1)
    # A process taken for dead: its leased rows are due again after claim_lease_seconds, its
    # rows in flight (a call may have gone out) after send_lease_seconds; the latter must
    # stay well above every provider call's timeout (storage/claims.py).
    claim_lease_seconds: float = Field(default=300.0, gt=0)
    send_lease_seconds: float = Field(default=120.0, gt=0)


class NudgeSettings(BaseModel):
    """Nudges: the campaigns file (read at start-up; a broken file stops the start), links, cap."""

    campaigns_file: Path = Path(__file__).resolve().parent.parent / "scheduler" / "campaigns.yaml"
    link_secret: SecretStr = SecretStr("mentorbot-dev-links")  # set your own in production
    link_base: str = "https://learn.example.edu/"  # where tracked links lead (UTM added)
    daily_cap: int = Field(default=2, ge=1)  # nudges per person per local day
    plan_seconds: float = 60.0
    lifecycle_seconds: float = 300.0


class KnowledgeSettings(BaseModel):
    """Approved answers: `<dir>/<lang>/knowledge.yaml`, read and checked at start-up."""

    dir: Path = Path(__file__).resolve().parent.parent / "locales"
    # Share of a question's meaning the best entry must cover before the bot answers with it.
    threshold: float = Field(default=0.45, gt=0.0, le=1.0)


class EscalationSettings(BaseModel):
    """Human mentors: first-response targets per priority and when an idle hold ends."""

    urgent_target_minutes: float = Field(default=15, gt=0)
    normal_target_hours: float = Field(default=4, gt=0)  # working hours of the mentor pool
    idle_hours: float = Field(default=24, gt=0)
    invitation_days: float = Field(default=7, gt=0)


class RetentionSettings(BaseModel):
    """How long message texts are kept; see storage/retention.py."""

    message_days: int = Field(default=365, ge=1)
    consent_years: int = Field(default=4, ge=4)  # consent proof: four years at least
    seconds: float = 3600.0  # how often the purge runs


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MENTORBOT_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        env_ignore_empty=True,
    )

    environment: str = Field(default="development", pattern="^(development|test|production)$")
    database_url: str = DEFAULT_DATABASE_URL
    public_url: str = "http://127.0.0.1:8000"
    default_locale: str = "en"
    default_time_zone: str = "America/New_York"
    locales_dir: Path = Path(__file__).resolve().parent.parent / "locales"
    api_token: SecretStr | None = None
    admin_telegram_ids: list[int] = []
    demo_seed: bool = True
    # Lets a web chat visitor pick a demo person to chat as; None: on for the embedded database.
    demo_chat: bool | None = None
    http: HttpSettings = HttpSettings()
    telegram: TelegramSettings = TelegramSettings()
    twilio: TwilioSettings = TwilioSettings()
    consent: ConsentSettings = ConsentSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    nudges: NudgeSettings = NudgeSettings()
    knowledge: KnowledgeSettings = KnowledgeSettings()
    escalations: EscalationSettings = EscalationSettings()
    retention: RetentionSettings = RetentionSettings()

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        secrets = [self.api_token, self.telegram.token, self.twilio.auth_token]
        for secret in secrets:
            if secret and secret.get_secret_value().lower() in _PLACEHOLDER_SECRETS:
                raise ValueError("a placeholder secret is set; refusing to start in production")
        return self

    @property
    def uses_default_database(self) -> bool:
        return self.database_url == DEFAULT_DATABASE_URL

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram.token is not None

    @property
    def sms_enabled(self) -> bool:
        tw = self.twilio
        sender = tw.from_number or tw.messaging_service_sid
        return bool(tw.account_sid and tw.auth_token and sender)
