"""The normalised text the lists search in, written with the row (see services/lists.py for why).

Python's ``casefold`` folds Cyrillic the same on every database (SQLite's ``lower()`` is ASCII-only,
PostgreSQL's depends on the database's LC_CTYPE), and "ё" is folded to "е" because Russian text
writes either for the same letter: "ОТЧЁТ", "отчет" and "Отчёт" are one word to a reader.
"""
from __future__ import annotations


def search_key(*parts: str | None) -> str:
    return " ".join(p for p in parts if p).casefold().replace("ё", "е")
