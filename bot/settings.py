"""Typed settings read from the environment (prefix MENTORBOT_, nested with __) and `.env`."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/mentorbot.sqlite3"
SUPPORTED_LOCALES = ("en", "es", "hi", "ru")
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
    link_secret: SecretStr | None = None


class TwilioSettings(BaseModel):
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: str | None = None
    messaging_service_sid: str | None = None
    api_base: str = "https://api.twilio.com"
    rate_per_second: float = 1.0


class ConsentSettings(BaseModel):
    """Who may be offered coaching (the edX rule by default)."""

    eligible_tracks: list[str] = ["verified"]
    eligible_programs: list[str] = ["microbachelors-cs", "microbachelors-it"]
    active_within_days: int = 90
    text_version: str = "coaching-2026-11"


class SchedulerSettings(BaseModel):
    enabled: bool = True
    tick_seconds: float = 5.0


class NudgeSettings(BaseModel):
    """Nudges: the campaigns file (read at start-up; a broken file stops the start), links, cap."""

    campaigns_file: Path = Path(__file__).resolve().parent.parent / "scheduler" / "campaigns.yaml"
    link_secret: SecretStr = SecretStr("mentorbot-dev-links")  # set your own in production
    link_base: str = "https://learn.example.edu/"  # where tracked links lead (UTM added)
    daily_cap: int = Field(default=2, ge=1)  # nudges per person per local day
    plan_seconds: float = 60.0
    lifecycle_seconds: float = 300.0


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
    http: HttpSettings = HttpSettings()
    telegram: TelegramSettings = TelegramSettings()
    twilio: TwilioSettings = TwilioSettings()
    consent: ConsentSettings = ConsentSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    nudges: NudgeSettings = NudgeSettings()

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
