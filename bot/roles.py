"""What one `mentorbot run` process does: serve HTTP, work the schedule, or both.

`web` answers HTTP (web chat, APIs, the Telegram and Twilio webhooks) and sends the replies of
the turns it runs at once; `worker` polls Telegram (in polling mode), runs the scheduler's jobs
(planning, sending what is due, timers, digests, retention) and serves only /healthz and
/metrics; `all` is both, in one process (the only choice on SQLite). Several workers on one
PostgreSQL share the work: claims and plans are atomic there (docs/operations.md).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ALL = "all"
    WEB = "web"
    WORKER = "worker"

    def runs(self, part: Role) -> bool:
        """Whether a part meant for `part` (web, worker, or all roles) runs in this role."""
        return Role.ALL in (self, part) or self is part

    @property
    def serves_http(self) -> bool:
        return self.runs(Role.WEB)

    @property
    def works_schedule(self) -> bool:
        return self.runs(Role.WORKER)
