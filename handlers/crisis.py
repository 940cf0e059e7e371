"""Crisis-language detection (suicide, self-harm, abuse, violence), pure and data-driven.

Runs on every inbound message before anything else; a match sends crisis resources and pages
a human, so the bias is to over-escalate. Patterns live in ``locales/<lang>/crisis.yaml``: a
regex over the normalized text (see handlers/crisis_text.py), optional ``unless`` regexes and
inline ``examples``/``not_examples`` that are checked at load, so a broken file never ships.

Exceptions only ever remove the one pattern they belong to, and only where an ``unless`` match
overlaps that pattern's match; any other pattern that matches still fires. An ``unless`` names
another sense or an idiom ("5 kms", "killing myself laughing", "kill him lol"), never a joking
frame around self-harm: "lol gonna kms if i fail" is a crisis. Every language pack runs on
every message (code-mixing); the category is that of the first pattern that matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from handlers.crisis_text import SKELETONS, base_views, fuzzy_view

CATEGORIES = frozenset({"suicide", "self_harm", "abuse", "violence"})
_FILE_KEYS = frozenset({"language", "skeleton", "fuzzy", "define", "patterns"})
_PATTERN_KEYS = frozenset({"id", "category", "regex", "unless", "examples", "not_examples"})
_DEFINE_REF = re.compile(r"\{([a-z_][a-z0-9_]*)\}")  # "{pills}"; "{0,3}" stays a quantifier


class CrisisFileError(ValueError):
    """A crisis.yaml is missing or wrong; ``problems`` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class CrisisMatch:
    category: str  # "suicide" | "self_harm" | "abuse" | "violence"
    pattern_id: str
    language: str  # which language pack matched


@dataclass(frozen=True, slots=True)
class _Pattern:
    id: str
    category: str
    regex: re.Pattern[str]
    unless: tuple[re.Pattern[str], ...]

    def hits(self, views: Sequence[str]) -> bool:
        return any(not self._excused(v, m) for v in views for m in self.regex.finditer(v))

    def _excused(self, view: str, match: re.Match[str]) -> bool:
        return any(
            other.start() < match.end() and match.start() < other.end()
            for rx in self.unless
            for other in rx.finditer(view)
        )


@dataclass(frozen=True)
class _Pack:
    language: str
    skeleton: Callable[[str], str]
    fuzzy: tuple[str, ...]
    patterns: tuple[_Pattern, ...]

    def views(self, base: Sequence[str]) -> list[str]:
        views = [self.skeleton(v) for v in base]
        views += [fuzzy_view(v, self.fuzzy) for v in views]
        return list(dict.fromkeys(views))

    def first_hit(self, base: Sequence[str]) -> _Pattern | None:
        views = self.views(base)
        if not any(self.screen.search(v) for v in views):
            return None  # no pattern can match: most messages stop here, at one regex a view
        return next((p for p in self.patterns if p.hits(views)), None)

    @cached_property
    def screen(self) -> re.Pattern[str]:
        """Every pattern in one alternation: it matches wherever any pattern could."""
        return re.compile("|".join(p.regex.pattern for p in self.patterns) or "(?!)")


class CrisisDetector:
    def __init__(self, packs: Sequence[_Pack]) -> None:
        self._packs = tuple(packs)

    @classmethod
    def load(cls, locales_dir: Path, languages: Sequence[str]) -> CrisisDetector:
        """Read and check locales_dir/<lang>/crisis.yaml; raise listing every problem found."""
        problems: list[str] = []
        packs = [_load_pack(Path(locales_dir), lang, problems) for lang in languages]
        if problems:
            raise CrisisFileError(problems)
        return cls([p for p in packs if p is not None])

    def detect(self, text: str) -> CrisisMatch | None:
        base = base_views(text or "")
        for pack in self._packs:
            hit = pack.first_hit(base)
            if hit is not None:
                return CrisisMatch(hit.category, hit.id, pack.language)
        return None


class _Problems:
    """Collects problems under one prefix, e.g. "crisis.yaml (ru): pattern 'x'"."""

    def __init__(self, sink: list[str], prefix: str) -> None:
        self.sink, self.prefix = sink, prefix

    def add(self, message: str) -> None:
        self.sink.append(f"{self.prefix}: {message}")

    def sub(self, prefix: str) -> _Problems:
        return _Problems(self.sink, f"{self.prefix}: {prefix}")


def _load_pack(locales_dir: Path, lang: str, sink: list[str]) -> _Pack | None:
    problems = _Problems(sink, f"crisis.yaml ({lang})")
    data = _read_yaml(locales_dir / lang / "crisis.yaml", problems)
    if data is None:
        return None
    _check_header(data, lang, problems)
    skeleton = SKELETONS.get(str(data.get("skeleton", "none")), SKELETONS["none"])
    fuzzy = tuple(_strings(data.get("fuzzy", []), "fuzzy", problems))
    defines = _defines(data.get("define", {}), problems)
    raw = data.get("patterns")
    if not isinstance(raw, list) or not raw:
        problems.add("'patterns' must be a non-empty list")
        return None
    built = [(_build(item, defines, problems), item) for item in raw]
    patterns = _unique([p for p, _ in built if p is not None], problems)
    pack = _Pack(lang, skeleton, fuzzy, tuple(patterns))
    for pattern, item in built:
        if pattern is not None:
            _check_examples(pack, pattern, item, problems.sub(f"pattern '{pattern.id}'"))
    return pack


def _read_yaml(path: Path, problems: _Problems) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.add(f"missing file {path}")
        return None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.add(f"bad YAML: {' '.join(str(exc).split())}")
        return None
    if not isinstance(data, dict):
        problems.add("the file must be a mapping with 'language' and 'patterns'")
        return None
    return data


def _check_header(data: dict[str, Any], lang: str, problems: _Problems) -> None:
    for key in sorted(set(data) - _FILE_KEYS):
        problems.add(f"unknown key '{key}'")
    if data.get("language") != lang:
        problems.add(f"'language' is {data.get('language')!r}, expected {lang!r}")
    if str(data.get("skeleton", "none")) not in SKELETONS:
        problems.add(f"unknown skeleton {data.get('skeleton')!r} (known: {sorted(SKELETONS)})")


def _strings(value: Any, what: str, problems: _Problems) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add(f"'{what}' must be a list of strings")
        return []
    return value


def _defines(value: Any, problems: _Problems) -> dict[str, str]:
    """Named regex fragments; each may use the ones defined before it."""
    if not isinstance(value, dict):
        problems.add("'define' must be a mapping of name to regex fragment")
        return {}
    defines: dict[str, str] = {}
    for name, fragment in value.items():
        defines[str(name)] = _expand(str(fragment), defines, problems.sub(f"define '{name}'"))
    return defines


def _expand(regex: str, defines: dict[str, str], problems: _Problems) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) not in defines:
            problems.add(f"unknown define {{{match.group(1)}}}")
            return match.group()
        return f"(?:{defines[match.group(1)]})"

    return _DEFINE_REF.sub(one, regex)


def _build(item: Any, defines: dict[str, str], problems: _Problems) -> _Pattern | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        problems.add(f"every pattern needs a string 'id': {item!r:.60}")
        return None
    problems = problems.sub(f"pattern '{item['id']}'")
    for key in sorted(set(item) - _PATTERN_KEYS):
        problems.add(f"unknown key '{key}'")
    if item.get("category") not in CATEGORIES:
        problems.add(f"unknown category {item.get('category')!r} (known: {sorted(CATEGORIES)})")
    regex = _compile(item.get("regex"), defines, "regex", problems)
    raw = item.get("unless") or []
    raw = raw if isinstance(raw, list) else [raw]  # one unless may be given without a list
    unless = [_compile(u, defines, "unless", problems) for u in raw]
    if regex is None or None in unless or item.get("category") not in CATEGORIES:
        return None
    return _Pattern(item["id"], item["category"], regex, tuple(u for u in unless if u))


def _compile(
    source: Any, defines: dict[str, str], what: str, problems: _Problems
) -> re.Pattern[str] | None:
    if isinstance(source, list) and source and all(isinstance(s, str) for s in source):
        source = "|".join(f"(?:{s})" for s in source)  # long patterns as a list of alternatives
    if not isinstance(source, str) or not source.strip():
        problems.add(f"'{what}' must be a non-empty string or list of strings")
        return None
    try:
        return re.compile(f"(?:{_expand(source, defines, problems)})")
    except re.error as exc:
        problems.add(f"bad {what} {source!r:.80}: {exc}")
        return None


def _unique(patterns: list[_Pattern], problems: _Problems) -> list[_Pattern]:
    seen: set[str] = set()
    for pattern in patterns:
        if pattern.id in seen:
            problems.add(f"duplicate id '{pattern.id}'")
        seen.add(pattern.id)
    return patterns


def _check_examples(
    pack: _Pack, pattern: _Pattern, item: dict[str, Any], problems: _Problems
) -> None:
    examples = item.get("examples")
    if not examples:
        problems.add("needs at least one example")
    examples = _strings(examples or [], "examples", problems)
    for text in examples:
        if not pattern.hits(pack.views(base_views(text))):
            problems.add(f"example does not match: {text!r}")
    for text in _strings(item.get("not_examples", []), "not_examples", problems):
        if pattern.hits(pack.views(base_views(text))):
            problems.add(f"not_example matches: {text!r}")
