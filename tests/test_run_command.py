"""`mentorbot run` as `make run` starts it: embedded defaults, demo cohort, clean Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.live_server import free_port


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mentorbot exited early: {process.stderr.read().decode()}")  # type: ignore[union-attr]
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("mentorbot did not become healthy in time")


def test_run_serves_health_and_chat_then_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENTORBOT_")}
    env["MENTORBOT_HTTP__PORT"] = str(port)
    command = [shutil.which("mentorbot") or "", "run"]
    if not command[0]:
        command = [sys.executable, "-m", "bot", "run"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base + "/healthz", process)
        health = httpx.get(base + "/healthz").json()
        assert health["status"] == "ok" and health["database"] == "sqlite"
        assert "<title>mentorbot" in httpx.get(base + "/chat").text
        people = httpx.get(base + "/chat/api/info").json()["people"]
        assert {"Ana García", "Sam Lee", "Mia Chen"} <= {p["name"] for p in people}
        assert "mentorbot_inbound_messages" in httpx.get(base + "/metrics").text
        assert (tmp_path / "var" / "mentorbot.sqlite3").exists()
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    output = process.stderr.read().decode()  # type: ignore[union-attr]
    assert code == 0, output
    assert "/chat" in output + process.stdout.read().decode()  # type: ignore[union-attr]
