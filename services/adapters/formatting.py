"""Russian numbers, money, percentages and dates, all through Babel's ru_RU locale.

One module so the pages, the emails, the XLSX and the PDF say "3 500,0", "96,3 %" and
"20 февраля 2017 г." the same way. Babel separates thousands with U+00A0 (no-break space),
so a number never breaks across lines. Every function takes what the database or a
report's JSON holds (int, float, Decimal, str, None) and answers "—" for nothing.
"""
from __future__ import annotations

from datetime import date, datetime, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel import dates as babel_dates
from babel import numbers as babel_numbers

LOCALE = "ru_RU"
NOTHING = "—"
CURRENCY = "RUB"


def _decimal(value) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def format_number(value, places: int | None = None) -> str:
    """1234567.5 -> '1 234 567,5'; ``places`` fixes the digits after the comma."""
    number = _decimal(value)
    if number is None:
        return NOTHING if value in (None, "") else str(value)
    if places is None:
        exponent = number.normalize().as_tuple().exponent
        shown = max(0, -exponent) if isinstance(exponent, int) else 0
        pattern = "#,##0" + ("." + "#" * shown if shown else "")
        return babel_numbers.format_decimal(number, format=pattern, locale=LOCALE)
    number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)  # 0,25 -> 0,3 as people round
    return babel_numbers.format_decimal(number, format="#,##0" + ("." + "0" * places if places else ""),
                                        locale=LOCALE)


def format_amount(value) -> str:
    """A budget figure in thousands of roubles, as the program's tables print it: '3 500,0'."""
    return format_number(value, 1)


def format_size(size: int | None) -> str:
    """A file's size as people read it: '812 байт', '14,6 КБ', '2,3 МБ'."""
    if size is None:
        return NOTHING
    if size < 1024:
        return f"{format_number(size)} байт"
    if size < 1024 * 1024:
        return f"{format_number(Decimal(size) / 1024, 1)} КБ"
    return f"{format_number(Decimal(size) / (1024 * 1024), 1)} МБ"


def format_money(value, currency: str = CURRENCY) -> str:
    """Roubles with their sign: '3 500,00 ₽'."""
    number = _decimal(value)
    if number is None:
        return NOTHING if value in (None, "") else str(value)
    return babel_numbers.format_currency(number, currency, locale=LOCALE)


def format_percent(ratio, places: int = 1) -> str:
    """A ratio as a percentage: 0.9628 -> '96,3 %'."""
    number = _decimal(ratio)
    if number is None:
        return NOTHING if ratio in (None, "") else str(ratio)
    number = (number * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP) / 100
    pattern = "#,##0" + ("." + "0" * places if places else "") + "\u00a0%"
    return babel_numbers.format_percent(number, format=pattern, locale=LOCALE)


def _as_date(value, tz: tzinfo | None):
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return aware.astimezone(tz).date() if tz else aware.date()
    return value if isinstance(value, date) else None


def format_date(value, tz: tzinfo | None = None) -> str:
    """'20.02.2017'; a datetime is first put into ``tz`` (the municipality's zone)."""
    if value in (None, ""):
        return NOTHING
    day = _as_date(value, tz)
    if day is None:
        return str(value)
    return babel_dates.format_date(day, format="dd.MM.yyyy", locale=LOCALE)


def format_date_long(value, tz: tzinfo | None = None) -> str:
    """'20 февраля 2017 г.', for the date of a document."""
    if value in (None, ""):
        return NOTHING
    day = _as_date(value, tz)
    if day is None:
        return str(value)
    return babel_dates.format_date(day, format="long", locale=LOCALE)


def format_datetime(value, tz: tzinfo | None = None) -> str:
    """'20.02.2017 14:05' in ``tz``; a naive datetime is taken as UTC, as the database stores it."""
    if value in (None, ""):
        return NOTHING
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return format_date(value, tz)
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    local = aware.astimezone(tz) if tz else aware
    return babel_dates.format_datetime(local, format="dd.MM.yyyy HH:mm", tzinfo=local.tzinfo, locale=LOCALE)


def format_month(value, short: bool = False) -> str:
    """A month 'YYYY-MM' (or a date) as people name it: 'март 2016'; ``short``: 'февр.' (no year)."""
    if value in (None, ""):
        return NOTHING
    if isinstance(value, str):
        try:
            value = date(int(value[:4]), int(value[5:7]), 1)
        except ValueError:
            return value
    return babel_dates.format_date(value, format="LLL" if short else "LLLL yyyy", locale=LOCALE)
