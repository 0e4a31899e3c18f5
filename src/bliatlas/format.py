"""Norwegian number formatting and plain-text tables for the terminal.

Norwegian style: space (narrow no-break in HTML, plain space in the terminal) as the
thousands separator and decimal comma: 12 345 and 3,4.
"""

from __future__ import annotations

import unicodedata


def fmt_num(value: float | None, decimals: int = 1, thousands: str = " ") -> str:
    """``fmt_num(12345.678, 1)`` → ``'12 345,7'``; ``None`` → ``'–'``."""
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", thousands)


def fmt_int(value: float | None, thousands: str = " ") -> str:
    return fmt_num(value, 0, thousands)


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
    text = str(value).replace(" ", "").replace(",", "").replace("%", "").replace("–", "")
    return text.replace("-", "").isdigit()
