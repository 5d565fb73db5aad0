"""A time zone said in words on pages and in deadline notes: 'время московское', not 'Europe/Moscow'.

Russia's zones are named after a city; the adjective is kept in two cases, the nominative
('время московское') and the dative ('по московскому времени'). A zone not in the table is
described by its UTC offset, never by its IANA key.
"""
from __future__ import annotations

from datetime import datetime, tzinfo

# IANA key -> (nominative neuter adjective, dative); the zones the service is configured with in practice.
_ADJECTIVES: dict[str, tuple[str, str]] = {
    "Europe/Kaliningrad": ("калининградское", "калининградскому"),
    "Europe/Moscow": ("московское", "московскому"),
    "Europe/Simferopol": ("московское", "московскому"),
    "Europe/Kirov": ("московское", "московскому"),
    "Europe/Volgograd": ("московское", "московскому"),
    "Europe/Samara": ("самарское", "самарскому"),
    "Europe/Ulyanovsk": ("самарское", "самарскому"),
    "Europe/Saratov": ("самарское", "самарскому"),
    "Europe/Astrakhan": ("самарское", "самарскому"),
    "Asia/Yekaterinburg": ("екатеринбургское", "екатеринбургскому"),
    "Asia/Omsk": ("омское", "омскому"),
    "Asia/Novosibirsk": ("красноярское", "красноярскому"),
    "Asia/Barnaul": ("красноярское", "красноярскому"),
    "Asia/Tomsk": ("красноярское", "красноярскому"),
    "Asia/Novokuznetsk": ("красноярское", "красноярскому"),
    "Asia/Krasnoyarsk": ("красноярское", "красноярскому"),
    "Asia/Irkutsk": ("иркутское", "иркутскому"),
    "Asia/Chita": ("якутское", "якутскому"),
    "Asia/Yakutsk": ("якутское", "якутскому"),
    "Asia/Vladivostok": ("владивостокское", "владивостокскому"),
    "Asia/Magadan": ("магаданское", "магаданскому"),
    "Asia/Sakhalin": ("магаданское", "магаданскому"),
    "Asia/Kamchatka": ("камчатское", "камчатскому"),
    "UTC": ("всемирное координированное (UTC)", "всемирному координированному (UTC)"),
    "Etc/UTC": ("всемирное координированное (UTC)", "всемирному координированному (UTC)"),
}


def _key(tz: tzinfo | str) -> str:
    return tz if isinstance(tz, str) else (getattr(tz, "key", None) or str(tz))


def _offset(tz: tzinfo | str) -> str:
    if isinstance(tz, str):
        return "UTC"
    delta = datetime.now(tz).utcoffset()
    if delta is None:
        return "UTC"
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def time_in_words(tz: tzinfo | str) -> str:
    """'время московское'; an unknown zone: 'местное время (UTC+5)'."""
    known = _ADJECTIVES.get(_key(tz))
    return f"время {known[0]}" if known else f"местное время ({_offset(tz)})"


def by_time_in_words(tz: tzinfo | str) -> str:
    """'по московскому времени'; an unknown zone: 'по местному времени (UTC+5)'."""
    known = _ADJECTIVES.get(_key(tz))
    return f"по {known[1]} времени" if known else f"по местному времени ({_offset(tz)})"
