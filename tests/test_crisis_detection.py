"""Crisis-language detection (handlers/crisis.py) against the per-language test tables.

Gates: recall 100% per language (every must-catch message is caught) and a false-positive rate
of at most 2% on ordinary student messages, per language and overall. Run with ``-s`` to see
the per-language figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from handlers.crisis import CrisisDetector, CrisisFileError

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "locales"
CASES = Path(__file__).resolve().parent / "data" / "crisis_cases"
LANGUAGES = ("en", "es", "hi", "ru")
MAX_FPR = 0.02


@dataclass
class Score:
    missed: list[str]
    false_alarms: list[str]
    positives: int
    negatives: int

    @property
    def recall(self) -> float:
        return (self.positives - len(self.missed)) / self.positives

    @property
    def fpr(self) -> float:
        return len(self.false_alarms) / self.negatives


@pytest.fixture(scope="module")
def detector() -> CrisisDetector:
    return CrisisDetector.load(LOCALES, LANGUAGES)


def load_cases(lang: str) -> list[dict[str, Any]]:
    cases = yaml.safe_load((CASES / f"{lang}.yaml").read_text(encoding="utf-8"))
    assert isinstance(cases, list)
    for case in cases:
        assert set(case) == {"text", "crisis", "category", "tags"}, case
        assert isinstance(case["crisis"], bool), case
        assert (case["category"] is not None) == case["crisis"], case
    return cases


def score(detector: CrisisDetector, cases: list[dict[str, Any]]) -> Score:
    result = Score([], [], 0, 0)
    for case in cases:
        found = detector.detect(case["text"]) is not None
        if case["crisis"]:
            result.positives += 1
            if not found:
                result.missed.append(case["text"])
        else:
            result.negatives += 1
            if found:
                result.false_alarms.append(case["text"])
    return result


def report(lang: str, s: Score) -> str:
    tp, fp = s.positives - len(s.missed), len(s.false_alarms)
    return (
        f"{lang}: recall {s.recall:.3f} (TP {tp}, FN {len(s.missed)}), "
        f"FPR {s.fpr:.3f} (FP {fp}, TN {s.negatives - fp})"
    )


def all_messages() -> Iterator[str]:
    for lang in LANGUAGES:
        yield from (case["text"] for case in load_cases(lang))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_table_size(lang: str) -> None:
    cases = load_cases(lang)
    assert sum(c["crisis"] for c in cases) >= 40
    assert sum(not c["crisis"] for c in cases) >= 50


def test_enough_ordinary_messages_overall() -> None:
    assert sum(not c["crisis"] for lang in LANGUAGES for c in load_cases(lang)) >= 200


def test_recall_and_false_positive_rate(detector: CrisisDetector) -> None:
    scores = {lang: score(detector, load_cases(lang)) for lang in LANGUAGES}
    print()
    for lang, s in scores.items():
        print(report(lang, s))
    total = Score(
        [t for s in scores.values() for t in s.missed],
        [t for s in scores.values() for t in s.false_alarms],
        sum(s.positives for s in scores.values()),
        sum(s.negatives for s in scores.values()),
    )
    print(report("all", total))
    failures = [f"{lang}: missed {s.missed}" for lang, s in scores.items() if s.recall < 1.0] + [
        f"{lang}: false alarms {s.false_alarms}" for lang, s in scores.items() if s.fpr > MAX_FPR
    ]
    assert not failures, "\n".join(failures)
    assert total.fpr <= MAX_FPR, f"overall false alarms: {total.false_alarms}"


def test_match_names_language_and_category(detector: CrisisDetector) -> None:
    match = detector.detect("me quiero morir")
    assert match is not None
    assert (match.language, match.category) == ("es", "suicide")
    assert detector.detect("") is None


BROKEN = """\
language: en
patterns:
  - id: bad_regex
    category: suicide
    regex: '(unclosed'
    examples: ["anything"]
  - id: bad_category
    category: sadness
    regex: '\\bsad\\b'
    examples: ["i am sad"]
  - id: example_misses
    category: suicide
    regex: '\\bwant to die\\b'
    examples: ["i want to die", "i wanna die"]
    not_examples: ["i want to die"]
"""


def test_broken_crisis_file_lists_every_problem(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "crisis.yaml").write_text(BROKEN, encoding="utf-8")
    with pytest.raises(CrisisFileError) as caught:
        CrisisDetector.load(tmp_path, ("en", "es"))
    problems = caught.value.problems
    text = "\n".join(problems)
    assert any(p.startswith("crisis.yaml (en): pattern 'bad_regex': bad regex") for p in problems)
    assert "pattern 'bad_category': unknown category 'sadness'" in text
    assert "pattern 'example_misses': example does not match: 'i wanna die'" in text
    assert "pattern 'example_misses': not_example matches: 'i want to die'" in text
    assert any(p.startswith("crisis.yaml (es): missing file") for p in problems)
    assert len(problems) == 5, text


def test_unknown_keys_and_duplicate_ids_are_reported(tmp_path: Path) -> None:
    (tmp_path / "ru").mkdir()
    (tmp_path / "ru" / "crisis.yaml").write_text(
        "language: ru\nextra: 1\npatterns:\n"
        "  - {id: a, category: suicide, regex: 'x', examples: [x], note: hi}\n"
        "  - {id: a, category: suicide, regex: 'y', examples: [y]}\n",
        encoding="utf-8",
    )
    with pytest.raises(CrisisFileError) as caught:
        CrisisDetector.load(tmp_path, ("ru",))
    assert caught.value.problems == [
        "crisis.yaml (ru): unknown key 'extra'",
        "crisis.yaml (ru): pattern 'a': unknown key 'note'",
        "crisis.yaml (ru): duplicate id 'a'",
    ]


def test_bad_yaml_and_wrong_language_are_reported(tmp_path: Path) -> None:
    (tmp_path / "es").mkdir()
    (tmp_path / "es" / "crisis.yaml").write_text("language: es\npatterns: [\n", encoding="utf-8")
    (tmp_path / "hi").mkdir()
    (tmp_path / "hi" / "crisis.yaml").write_text(
        "language: en\npatterns:\n  - {id: a, category: suicide, regex: 'x', examples: [x]}\n",
        encoding="utf-8",
    )
    with pytest.raises(CrisisFileError) as caught:
        CrisisDetector.load(tmp_path, ("es", "hi"))
    problems = caught.value.problems
    assert problems[0].startswith("crisis.yaml (es): bad YAML:")
    assert problems[1:] == ["crisis.yaml (hi): 'language' is 'en', expected 'hi'"]


def test_whole_table_runs(detector: CrisisDetector) -> None:
    messages = list(all_messages())
    assert len(messages) >= 400
    hits = [detector.detect(text) for text in messages]
    assert any(hits) and not all(hits)
