"""Send limits shared through PostgreSQL: three worker processes, one bot token, one number.

Each process is configured with the full provider rate (Telegram 30/s per bot, 1/s per chat; the
Twilio number's 10 segments/s), so limits kept per process would break them three times over.
The emulators count every send that breaks a limit (Telegram also answers it with 429).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from bot.messages import Reply
from storage import send_slots
from storage.migrate import upgrade
from storage.outbox import add_replies
from tests.emulators.telegram_api import TelegramEmulator
from tests.emulators.twilio_api import TwilioEmulator
from tests.live_server import free_port
from tests.test_roles_processes import (
    FINAL,
    counts,
    database,
    process_env,
    running,
    sent_counter,
    wait_until,
)

pytestmark = pytest.mark.e2e
CHATS = list(range(70_000, 70_150))
BUSY_CHATS = CHATS[:10]  # three messages each: the per-chat limit is exercised too
PHONES = [f"+1212555{n:04d}" for n in range(60)]
OUR_NUMBER = "+12025550199"


def queue_broadcast(url: str, now: datetime) -> int:
    def write(session: Session) -> int:
        written = 0
        for chat in CHATS:
            texts = ["one", "two", "three"] if chat in BUSY_CHATS else ["news"]
            written += len(add_replies(session, person_id=None, channel="telegram",
                                       address=str(chat), replies=[Reply(t) for t in texts],
                                       now=now))  # fmt: skip
        for phone in PHONES:
            reply = [Reply("Class moved to 5pm")]
            written += len(add_replies(session, person_id=None, channel="sms", address=phone,
                                       replies=reply, now=now))  # fmt: skip
        return written

    with database(url) as db:
        return db.run_sync(write)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_three_workers_keep_the_providers_limits_together(
    database_url: str, tmp_path: Path
) -> None:
    url = database_url
    upgrade(url)
    async with (
        TelegramEmulator(global_rate=30, per_chat_rate=1, enforce_limits=True) as tg,
        TwilioEmulator(rate_per_sender=10, deliver=False) as sms,
    ):
        for chat in CHATS:
            tg.register_chat(chat)
        env = process_env(url, tg, telegram__rate_per_second="30",
                          telegram__per_chat_per_second="1", twilio__account_sid=sms.account_sid,
                          twilio__auth_token=sms.auth_token,
                          twilio__from_number=OUR_NUMBER, twilio__api_base=sms.base_url,
                          twilio__rate_per_second="10",
                          scheduler__claim_batch="10")  # fmt: skip  (the work spreads)
        roles = [("worker", free_port()) for _ in range(3)]
        async with running(roles, env, tmp_path) as workers:
            total = queue_broadcast(url, datetime.now(UTC))
            with database(url) as db:
                await wait_until(lambda: sum(counts(db, "reply").get(s, 0) for s in FINAL)
                                 == total, "every message sent", timeout=120)  # fmt: skip
            per_worker = [sent_counter(w) for w in workers]
    telegram_429s = tg.limiter.violations
    print(f"\nshared limits: sent={total} telegram_busiest={tg.max_rate_seen()} "
          f"telegram_violations={telegram_429s} sms_created={sms.counters['created']} "
          f"sms_rate_violations={sms.counters['rate_violations']} "
          f"telegram_per_worker={per_worker}")  # fmt: skip
    assert min(per_worker) > 0, "all three workers sent"
    assert len(tg.sent) == len(CHATS) + 2 * len(BUSY_CHATS)
    assert sms.counters["created"] == len(PHONES)
    assert telegram_429s == 0 and sms.counters["rate_violations"] == 0
    assert tg.max_rate_seen().overall <= 30 and tg.max_rate_seen().per_chat <= 1


def test_reservations_queue_up_per_key_and_a_busy_chat_moves_the_start(database_url: str) -> None:
    upgrade(database_url)
    with database(database_url) as db:
        def reserve(keys: list[tuple[str, float]], now: float) -> float:
            return db.run_sync(lambda s: send_slots.reserve(s, keys, now))

        bot, chat = ("t", 0.1), ("t:chat", 1.0)
        assert [reserve([bot], 100.0) for _ in range(3)] == pytest.approx([100.0, 100.1, 100.2])
        assert reserve([chat, bot], 100.0) == pytest.approx(100.3)  # the bot's next slot
        # The chat is busy until 101.3: the call starts then, under both keys.
        assert reserve([chat, bot], 100.35) == pytest.approx(101.3)
        assert reserve([bot], 100.4) == pytest.approx(101.4)
        assert reserve([bot], 200.0) == pytest.approx(200.0)  # idle: no burst of old slots
        assert db.run_sync(lambda s: send_slots.forget_idle(s, 200.0 + 3600 + 2)) == 2
