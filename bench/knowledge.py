"""Knowledge-base matching: latency at 500 entries per language, and the accuracy figures.

The shipped entries (about 34 per language) are padded to 500 per language with generated
entries built from the same language's words, so the index has the vocabulary and size of a big
school's knowledge base. Every question of the test tables (tests/data/kb_questions) is matched
against the padded index several times; latency is per question, the whole `answer` call
(normalise, correct typos, stem, BM25, confidence). Accuracy is measured on the shipped entries,
as the tests assert it. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.settings import SUPPORTED_LOCALES, KnowledgeSettings  # noqa: E402
from handlers.knowledge import Entry, KnowledgeFile, load_knowledge  # noqa: E402
from handlers.retrieval import KnowledgeBase  # noqa: E402

TABLES = ROOT / "tests" / "data" / "kb_questions"


def padded(data: KnowledgeFile, size: int, rng: random.Random) -> KnowledgeFile:
    """The real entries plus generated ones drawn from the language's own words."""
    words = sorted({w for e in data.entries for w in " ".join(e.examples).split()})
    extra = []
    for n in range(size - len(data.entries)):
        phrases = [" ".join(rng.sample(words, 5)) + f" topic{n}" for _ in range(7)]
        extra.append(Entry(id=f"generated_{n}", question=phrases[0], answer="Generated answer.",
                           examples=tuple(phrases[1:])))
    return data.model_copy(update={"entries": (*data.entries, *extra)})


def questions(language: str) -> list[dict[str, str | None]]:
    return yaml.safe_load((TABLES / f"{language}.yaml").read_text(encoding="utf-8"))


def accuracy(kb: KnowledgeBase, language: str) -> dict[str, float]:
    covered, uncovered = [], []
    for row in questions(language):
        found = kb.answer(str(row["q"]), language)
        hit = (found.entry.id if found else None) == row["expect"]
        (covered if row["expect"] else uncovered).append(hit)
    return {"top1": round(sum(covered) / len(covered), 3),
            "not_sure": round(sum(uncovered) / len(uncovered), 3)}


def latencies(kb: KnowledgeBase, rounds: int) -> list[float]:
    timings = []
    for language in SUPPORTED_LOCALES:
        texts = [str(r["q"]) for r in questions(language)]
        for text in texts:  # warm the stemmer cache as a running bot would be
            kb.answer(text, language)
        for _ in range(rounds):
            for text in texts:
                start = time.perf_counter()
                kb.answer(text, language)
                timings.append((time.perf_counter() - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    settings = KnowledgeSettings()
    files = load_knowledge(settings.dir, SUPPORTED_LOCALES)
    shipped = KnowledgeBase(files, settings.threshold)
    rng = random.Random(7)
    big_files = {lang: padded(data, args.entries, rng) for lang, data in files.items()}
    started = time.perf_counter()
    big = KnowledgeBase(big_files, settings.threshold)
    build_s = time.perf_counter() - started
    timings = sorted(latencies(big, args.rounds))
    figures = {
        "entries_per_language": min(len(big.entries(lang)) for lang in SUPPORTED_LOCALES),
        "matches": len(timings),
        "index_build_s": round(build_s, 2),
        "p50_ms": round(statistics.median(timings), 3),
        "p99_ms": round(timings[int(len(timings) * 0.99)], 3),
        "accuracy": {lang: accuracy(shipped, lang) for lang in SUPPORTED_LOCALES},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
