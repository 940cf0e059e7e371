"""Bot settings methods of the Telegram emulator: command menus and the webhook."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

import telegram

from tests.emulators.telegram_methods import BotApiCore, Described
from tests.emulators.telegram_wire import bad_request, bool_param, int_param

_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class BotSettings(BotApiCore):
    """setMyCommands & co. (keyed by scope JSON + language code) and the webhook methods."""

    API_METHODS: ClassVar[dict[str, str]] = {
        "setMyCommands": "set_my_commands", "getMyCommands": "get_my_commands",
        "deleteMyCommands": "delete_my_commands", "setWebhook": "set_webhook",
        "deleteWebhook": "delete_webhook", "getWebhookInfo": "get_webhook_info",
    }

    def _commands_key(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise bad_request("can't parse BotCommandScope JSON object")
        if "chat_id" in scope:  # the chat must exist; the key uses its numeric id
            scope = {**scope, "chat_id": self._target_chat({"chat_id": scope["chat_id"]}).id}
        key = json.dumps(scope, sort_keys=True, separators=(",", ":"))
        return key, str(params.get("language_code") or "")

    async def set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        for item in commands:
            if not isinstance(item, dict) or not _COMMAND.match(str(item.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(item.get("description", "")).strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands]
        return True

    async def get_my_commands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        return self.commands.get(self._commands_key(params), [])

    async def delete_my_commands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def set_webhook(self, params: dict[str, Any]) -> Described:
        url = str(params.get("url") or "")
        if not url:
            return await self.delete_webhook(params)
        secret = params.get("secret_token") or None
        if secret is not None and not _SECRET.match(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = int_param(params, "max_connections", 40)
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        if bool_param(params, "drop_pending_updates"):
            self.pending.clear()
        self.webhook_url, self.webhook_secret = url, secret
        self.webhook_max_connections = max_connections
        self.webhook_allowed_updates = params.get("allowed_updates")
        self.choose_updates(params)
        self.wake_pollers()
        self.on_webhook_set()
        return Described(True, "Webhook was set")

    async def delete_webhook(self, params: dict[str, Any]) -> Described:
        if bool_param(params, "drop_pending_updates"):
            self.pending.clear()
        was_set, self.webhook_url, self.webhook_secret = bool(self.webhook_url), "", None
        return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    async def get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        error = self.webhook_last_error if self.webhook_url else None
        return telegram.WebhookInfo(
            url=self.webhook_url, has_custom_certificate=False,
            pending_update_count=len(self.pending),
            max_connections=self.webhook_max_connections if self.webhook_url else None,
            allowed_updates=self.webhook_allowed_updates if self.webhook_url else None,
            last_error_date=error[0] if error else None,
            last_error_message=error[1] if error else None,
        ).to_dict()
