"""Exceptions users see. Messages are Norwegian and name the file/field and what was expected."""

from __future__ import annotations


class UserError(Exception):
    """An error the user can fix (bad input, unknown code). Exit code 2 on the CLI, 4xx in the API."""

    exit_code = 2
    http_status = 400


class NotFound(UserError):
    """An unknown region, indicator, year or entry."""

    http_status = 404


class InputError(UserError):
    """A file that cannot be imported: names the file, the row/column and what was expected."""

    def __init__(self, path: str, message: str, row: int | None = None, column: str | None = None):
        where = str(path)
        if row is not None:
            where += f", rad {row}"
        if column is not None:
            where += f", kolonne {column!r}"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.row = row
        self.column = column
