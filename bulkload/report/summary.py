"""Figures and phrases every summary shares (the terminal's, the HTML report's, error
lines): milliseconds as shown, rows in doubt. Plain text; the views render it."""

from __future__ import annotations


def ms(value: float) -> str:
    """Milliseconds with the digits that matter: 1,234  12.34  0.0412 (not 0.00)."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1 or value == 0:
        return f"{value:.2f}"
    return f"{value:.3g}"


def in_doubt_text(rows: int) -> str:
    """What rows in doubt are, in one phrase (the summary and a failed run's error)."""
    return (
        f"{rows:,} {'row' if rows == 1 else 'rows'} in doubt: the write got no answer after "
        "it was sent, so the target may hold them beyond the rows loaded (a write given up "
        "is not counted as read, and a resume sends it again; one sent again and loaded "
        "may be there twice)"
    )
