"""The knowledge base as data: approved answers, one YAML file per language.

`locales/<lang>/knowledge.yaml` holds `language`, `stopwords` and `entries` (id, question,
answer, examples, keywords, optional link and program filter). `load_knowledge` returns every
language or raises `KnowledgeFileError` listing each problem, including an entry that exists in
one language and not in another. The bot only ever sends these texts: nothing is generated.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

FILE_NAME = "knowledge.yaml"
_ENTRY_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_ANSWER_CHARS = 600  # three SMS segments after the link, in GSM-7


class KnowledgeFileError(ValueError):
    """Knowledge files with problems; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _entry_id(value: str) -> str:
    if not _ENTRY_ID.fullmatch(value):
        raise ValueError(f"bad id {value!r}: use lowercase letters, digits and _ (max 64)")
    return value


def _https(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError(f"link {value!r} must start with https://")
    return value


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, AfterValidator(_entry_id)]
    question: str = Field(min_length=3)
    answer: str = Field(min_length=10, max_length=MAX_ANSWER_CHARS)
    examples: tuple[str, ...] = Field(default=(), max_length=40)
    keywords: tuple[str, ...] = ()
    link: Annotated[str, AfterValidator(_https)] | None = None
    programs: tuple[str, ...] = ()  # empty: every program

    def applies_to(self, program: str | None) -> bool:
        return not self.programs or program in self.programs


class KnowledgeFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str
    stopwords: tuple[str, ...] = ()
    entries: tuple[Entry, ...] = Field(min_length=1)


def load_knowledge(directory: Path, languages: Sequence[str]) -> dict[str, KnowledgeFile]:
    """Every language's file, validated together; raises with every problem found."""
    problems: list[str] = []
    files: dict[str, KnowledgeFile] = {}
    for language in languages:
        loaded = _load_one(directory / language / FILE_NAME, language, problems)
        if loaded is not None:
            files[language] = loaded
    problems.extend(_cross_language_problems(files))
    if problems:
        raise KnowledgeFileError(problems)
    return files


def _load_one(path: Path, language: str, problems: list[str]) -> KnowledgeFile | None:
    where = f"{path.parent.name}/{path.name}"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = KnowledgeFile.model_validate(raw)
    except OSError as exc:
        problems.append(f"{where}: cannot read: {exc.strerror or exc}")
        return None
    except yaml.YAMLError as exc:
        problems.append(f"{where}: not valid YAML: {exc}")
        return None
    except ValidationError as exc:
        problems.extend(f"{where}: {_location(raw, e['loc'])}{e['msg']}" for e in exc.errors())
        return None
    found = _file_problems(parsed, language)
    problems.extend(f"{where}: {p}" for p in found)
    return None if found else parsed


def _location(raw: object, loc: tuple[object, ...]) -> str:
    """'entry 'login': field 'answer': ' instead of pydantic's tuple of indexes."""
    parts: list[str] = []
    if len(loc) >= 2 and loc[0] == "entries" and isinstance(loc[1], int):
        entries = raw.get("entries") if isinstance(raw, dict) else None
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        name = entry.get("id") if isinstance(entry, dict) else None
        parts.append(f"entry {name!r}" if name else f"entry #{loc[1] + 1}")
        loc = loc[2:]
    if loc:
        parts.append("field " + ".".join(str(x) for x in loc))
    return ": ".join(parts) + ": " if parts else ""


def _file_problems(parsed: KnowledgeFile, language: str) -> list[str]:
    problems = []
    if parsed.language != language:
        problems.append(f"language is {parsed.language!r}, expected {language!r}")
    seen: set[str] = set()
    for entry in parsed.entries:
        if entry.id in seen:
            problems.append(f"entry {entry.id!r}: id given twice")
        seen.add(entry.id)
    return problems


def _cross_language_problems(files: dict[str, KnowledgeFile]) -> list[str]:
    """Every entry must exist in every language, so no student gets a smaller knowledge base."""
    ids = {lang: {e.id for e in f.entries} for lang, f in files.items()}
    every = set().union(*ids.values()) if ids else set()
    return [
        f"{lang}/{FILE_NAME}: entry {missing!r} is missing (present in another language)"
        for lang, have in sorted(ids.items())
        for missing in sorted(every - have)
    ]
