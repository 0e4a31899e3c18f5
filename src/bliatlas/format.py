"""Norwegian number and date formatting, and plain-text tables for the terminal: the one
place text for users gets its numbers from.

Norwegian style: space (narrow no-break in HTML, plain space in the terminal) as the
thousands separator, decimal comma, the minus sign U+2212 and no ``-0``: 12 345, 3,4,
−1,5. A value that is not there (``None``, NaN) is ``–`` unless the caller names another
word (``missing=``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata

MINUS = "\u2212"
MISSING = "–"


def fmt_num(value: float | None, decimals: int = 1, thousands: str = " ",
            missing: str = MISSING) -> str:
    """``fmt_num(12345.678, 1)`` → ``'12 345,7'``; ``-1.25, 1`` → ``'−1,2'`` (rounded half
    to even, as Python rounds); ``None`` and NaN → ``missing``."""
    if value is None or not math.isfinite(value):
        return missing
    rounded = round(float(value), decimals)
    if rounded == 0:
        rounded = 0.0  # no "-0"
    text = f"{abs(rounded):,.{decimals}f}"
    text = text.replace(",", "\x00").replace(".", ",").replace("\x00", thousands)
    return (MINUS if rounded < 0 else "") + text


def fmt_int(value: float | None, thousands: str = " ", missing: str = MISSING) -> str:
    return fmt_num(value, 0, thousands, missing)


def fmt_signed(value: float | None, decimals: int = 0, missing: str = MISSING) -> str:
    """A change with its sign: ``+3``, ``−1,5``, ``0``."""
    text = fmt_num(value, decimals, missing=missing)
    if value is None or text == missing or text.startswith(MINUS) or round(value, decimals) == 0:
        return text
    return "+" + text


def fmt_percent(value: float | None, decimals: int = 1, missing: str = MISSING) -> str:
    """A value already in percent: ``12.34`` → ``'12,3 %'``."""
    text = fmt_num(value, decimals, missing=missing)
    return text if text == missing else f"{text} %"


def fmt_count(n: int, singular: str, plural: str) -> str:
    """``fmt_count(1, "kommune", "kommuner")`` → ``'1 kommune'``; 2 → ``'2 kommuner'``."""
    return f"{fmt_int(n)} {singular if n == 1 else plural}"


def fmt_share(value: float | None, decimals: int = 1, unit: str = " %",
              missing: str = MISSING) -> str:
    """A fraction in percent: ``0.1234`` → ``'12,3 %'``; ``unit=""`` gives the bare number
    (``'12,3'``, e.g. before "prosentpoeng"); ``-0.05, 0`` → ``'−5 %'``."""
    text = fmt_num(None if value is None else 100 * value, decimals, missing=missing)
    return text if text == missing else text + unit


def fmt_datetime(value: dt.datetime | dt.date | None, missing: str = MISSING) -> str:
    """``2024-05-01 12:30`` (a date alone: ``2024-05-01``), as the CLI's tables show it."""
    if value is None:
        return missing
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def join_nb(items: list[str]) -> str:
    """``['a', 'b', 'c']`` → ``'a, b og c'`` (Norwegian list)."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " og " + items[-1]


def _width(text: str) -> int:
    return sum(0 if unicodedata.combining(c) else 1 for c in text)


def table(headers: list[str], rows: list[list], align: str | None = None) -> str:
    """A plain-text table with a header rule; ``align`` is one 'l'/'r' per column."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    if align is None:
        align = "".join(
            "r" if rows and all(_looks_numeric(r[i]) for r in rows) else "l"
            for i in range(len(headers)))

    def line(row: list[str]) -> str:
        parts = []
        for i, c in enumerate(row):
            pad = " " * (widths[i] - _width(c))
            parts.append(pad + c if align[i] == "r" else c + pad)
        return "  ".join(parts).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells[1:])
    return "\n".join(out)


def _looks_numeric(value) -> bool:
    if isinstance(value, (int, float)):
        return True
    text = str(value).replace(" ", "").replace(",", "").replace("%", "").replace(MISSING, "")
    return text.replace("-", "").replace(MINUS, "").replace("+", "").isdigit()


MONTHS_NB = ("januar", "februar", "mars", "april", "mai", "juni", "juli", "august",
             "september", "oktober", "november", "desember")


def fmt_datetime_nb(when, with_time: bool = True) -> str:
    """A stored UTC timestamp as Norwegians read it, in Norwegian time:
    ``2. desember 2026 kl. 02.27`` (or only the date)."""
    from datetime import UTC
    from zoneinfo import ZoneInfo

    local = when.replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/Oslo"))
    text = f"{local.day}. {MONTHS_NB[local.month - 1]} {local.year}"
    return f"{text} kl. {local:%H.%M}" if with_time else text



_DIGIT_GROUP_SPACE = re.compile(r"(?<=\d) (?=\d{3}(?!\d))")


def keep_digit_groups(value):
    """Text for a page or report: the space between a number's digit groups ("1 000",
    "5 926") made a no-break space, so a line never breaks inside a number. Markup stays
    Markup; other values are returned unchanged (the templates' ``finalize``)."""
    if not isinstance(value, str) or " " not in value:
        return value
    out = _DIGIT_GROUP_SPACE.sub("\u00a0", value)
    return out if type(value) is str else type(value)(out)
