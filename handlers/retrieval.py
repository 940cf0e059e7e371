"""Matching a student's question to an approved entry, with an honest confidence.

Per language: BM25 (bm25s) over each entry's question, examples and keywords, with Snowball
stemmers (PyStemmer) and the file's stop words; a query word the index does not know is
corrected to the nearest known word (rapidfuzz, one or two edits) before stemming. Confidence
is the share of the question's meaning the best entry covers: the IDF-weighted fraction of its
words found in that entry, where unknown words weigh as much as the rarest known one (a
question about something we never wrote about is mostly unknown words). Below the threshold the
caller says "I'm not sure" instead of guessing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import bm25s
import numpy as np
import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from core.text import fold_for_matching
from handlers.knowledge import Entry, KnowledgeFile

STEMMERS = {"en": "english", "es": "spanish", "ru": "russian", "hi": "hindi"}
# Languages written in another script: Latin words in them are English loanwords or romanized
# text ("login", "password bhool gaya"), stemmed as English.
OTHER_SCRIPT = frozenset({"ru", "hi"})
_LATIN = re.compile(r"[a-z]+")
_DOUBLED = re.compile(r"(.)\1+")
# Summed IDF of matched words at which a question counts as fully covered (see _confidence).
EVIDENCE_SCALE = 11.0


@dataclass(frozen=True, slots=True)
class Match:
    entry: Entry
    confidence: float


def _hinglish_skeleton(word: str) -> str:
    """One spelling for romanized Hindi: 'bhool'/'bhul', 'kahaan'/'kahan', 'waqt'/'vaqt'."""
    word = word.replace("aa", "a").replace("ee", "i").replace("ii", "i")
    word = word.replace("oo", "u").replace("uu", "u").replace("w", "v")
    return _DOUBLED.sub(r"\1", word)


def _stemmer_for(language: str) -> Callable[[str], str]:
    native = Stemmer.Stemmer(STEMMERS[language])
    english = Stemmer.Stemmer("english")

    @lru_cache(maxsize=65536)
    def stem(word: str) -> str:
        if language in OTHER_SCRIPT and _LATIN.fullmatch(word):
            stemmed = english.stemWord(word)
            return _hinglish_skeleton(stemmed) if language == "hi" else stemmed
        return native.stemWord(word)

    return stem


class LanguageIndex:
    """One language's entries, indexed for matching."""

    def __init__(self, data: KnowledgeFile) -> None:
        self.entries = data.entries
        self._stem = _stemmer_for(data.language)
        self._stop = frozenset(fold_for_matching(w) for w in data.stopwords)
        docs = [self._entry_tokens(e) for e in data.entries]
        self._surface = sorted({w for e in data.entries for w in self._words(_entry_text(e))})
        self._known_surface = frozenset(self._surface)
        self._bm25 = bm25s.BM25()
        self._bm25.index(docs, show_progress=False)
        self._vocab: Mapping[str, int] = self._bm25.vocab_dict
        self._entry_terms = [frozenset(d) for d in docs]
        self._idf = self._document_frequencies(docs)

    def _words(self, text: str) -> list[str]:
        """Folded words, without stop words, numbers and single letters (no topic in them)."""
        return [w for w in fold_for_matching(text, drop_apostrophes=True).split()
                if len(w) > 1 and not w.isdigit() and w not in self._stop]

    def _entry_tokens(self, entry: Entry) -> list[str]:
        return [self._stem(w) for w in self._words(_entry_text(entry))]

    def _document_frequencies(self, docs: list[list[str]]) -> dict[str, float]:
        n = len(docs)
        df: dict[str, int] = {}
        for doc in docs:
            for term in set(doc):
                df[term] = df.get(term, 0) + 1
        # A word no entry has is rarer than any indexed word: its IDF is the formula's at df=0.
        self._unknown_idf = math.log(1 + (n + 0.5) / 0.5)
        return {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    def query_terms(self, text: str) -> list[str]:
        terms = []
        for word in self._words(text)[:60]:  # a pasted essay is not a question
            term = self._stem(word)
            if term not in self._vocab and word not in self._known_surface:
                term = self._stem(self._correct(word))
            terms.append(term)
        return terms

    def _correct(self, word: str) -> str:
        if len(word) < 5:  # short words have too many one-edit neighbours ("quit", "quiz")
            return word
        limit = 1 if len(word) < 9 else 2
        found = process.extractOne(
            word, self._surface, scorer=Levenshtein.distance, score_cutoff=limit
        )
        return found[0] if found else word

    def best(self, text: str, program: str | None) -> Match | None:
        terms = self.query_terms(text)
        known = [t for t in terms if t in self._vocab]
        if not known:
            return None
        scores = self._bm25.get_scores(known)
        for index in np.argsort(-scores)[:5]:
            entry = self.entries[int(index)]
            if scores[index] <= 0:
                return None
            if entry.applies_to(program):
                return Match(entry, self._confidence(terms, self._entry_terms[int(index)]))
        return None

    def _confidence(self, terms: list[str], entry_terms: frozenset[str]) -> float:
        """Coverage of the question; a long question that shares several specific words with
        the entry is confident too, even when its other words are small talk."""
        weights = [(self._idf.get(t, self._unknown_idf), t in entry_terms) for t in set(terms)]
        total = sum(w for w, _ in weights)
        matched = [w for w, hit in weights if hit]
        coverage = sum(matched) / total if total else 0.0
        evidence = min(1.0, sum(matched) / EVIDENCE_SCALE) if len(matched) >= 2 else 0.0
        return max(coverage, evidence)


def _entry_text(entry: Entry) -> str:
    return " ".join((entry.question, *entry.examples, *entry.keywords))


class KnowledgeBase:
    """Every language's index; answers in the student's language only."""

    def __init__(self, files: Mapping[str, KnowledgeFile], threshold: float) -> None:
        self._indexes = {lang: LanguageIndex(data) for lang, data in files.items()}
        self.threshold = threshold

    def languages(self) -> tuple[str, ...]:
        return tuple(self._indexes)

    def best(self, text: str, locale: str, program: str | None = None) -> Match | None:
        """The closest entry with its confidence, however low (None: nothing in common)."""
        index = self._indexes.get(locale)
        return index.best(text, program) if index else None

    def confident(self, match: Match | None) -> bool:
        return match is not None and match.confidence >= self.threshold

    def answer(self, text: str, locale: str, program: str | None = None) -> Match | None:
        """The entry to answer with, or None when not confident enough to answer."""
        found = self.best(text, locale, program)
        return found if self.confident(found) else None

    def entries(self, locale: str) -> tuple[Entry, ...]:
        index = self._indexes.get(locale)
        return index.entries if index else ()

    def entry(self, locale: str, entry_id: str) -> Entry | None:
        index = self._indexes.get(locale)
        return next((e for e in index.entries if e.id == entry_id), None) if index else None
