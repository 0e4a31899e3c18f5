"""Every error Bli-atlas reports to a user, in one hierarchy with one mapping to CLI exit
codes and HTTP statuses.

Messages are Norwegian and name the file/field and what was expected. Four kinds:

============================  ====  ======  =================================================
kind (base class)             exit  HTTP    what
============================  ====  ======  =================================================
:class:`UserError`            2     400     the request or command was wrong; the user can
                                            fix it (unknown code, bad year, bad parameter).
                                            Subclasses narrow the status: :class:`NotFound`
                                            404, :class:`Unprocessable` 422 (well formed,
                                            values unusable), :class:`TooLarge` 413,
                                            :class:`Busy` 429 (with ``Retry-After``),
                                            :class:`DatabaseUnavailable` and
                                            :class:`DatabaseBusy` 503 (no database yet:
                                            run `bli import`; another writer).
:class:`DataFormatError`      2     400     a file or upload that cannot be read as what it
                                            claims to be (names file, row, column). A kind
                                            of user input, so it is a :class:`UserError`.
                                            :class:`ContentError` (knowledge content off
                                            the content model) answers 500 in the API.
:class:`SourceError`          3     502     a source the program reads failed: a publisher's
                                            service did not answer (network error, timeout,
                                            retries used up) or answered something
                                            unusable; 503 when offline.
:class:`InternalError`        1     500     a fault of Bli-atlas itself (an unexpected state);
                                            not the user's to fix.
============================  ====  ======  =================================================

The CLI (:func:`bliatlas.cli.main`) prints ``bli: feil: <message>`` and exits with
``exit_code``; the API (:func:`bliatlas.serving.install_error_handlers`) answers
``{"error": <message>, "source": …}`` with ``http_status`` (the pages render the
Norwegian error page with the same status). :func:`exit_code` and :func:`http_status` are that mapping for any exception.

Errors specific to one module are defined here too (so the whole hierarchy is read in one
place) and re-exported by the module that raises them under the name it always had.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class BliError(Exception):
    """Base of every error Bli-atlas reports (never raised itself)."""

    kind = "intern"
    exit_code = 1
    http_status = 500


# -- user input ---------------------------------------------------------------------------
class UserError(BliError):
    """An error the user can fix (bad input, unknown code). Exit code 2, HTTP 400."""

    kind = "inndata"
    exit_code = 2
    http_status = 400


class NotFound(UserError):
    """An unknown region, indicator, year or entry (404)."""

    http_status = 404


class Unprocessable(UserError):
    """Well-formed input whose values cannot be used (422)."""

    http_status = 422


class TooLarge(UserError):
    """A request or job larger than the server accepts (413)."""

    http_status = 413


class Busy(UserError):
    """The queue for this kind of work is full, or the wait was too long (429)."""

    http_status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class InvalidParameter(Unprocessable):
    """A query parameter with a value outside what is allowed (422)."""


class UnprocessableError(Unprocessable):
    """Valid input that cannot be matched (capacity too small, a tie outside the scope)."""


class PlanInfeasible(Unprocessable):
    """A settlement plan whose constraints cannot all be met (422)."""


class InfeasibleError(Unprocessable):
    """Matching constraints that cannot all be met; the message says which, from a proof
    (422). ``proof``: 'husholdning' | 'totaler' | 'lp-sertifikat' | 'heltallsprogram';
    ``binding``: the constraints that bind; ``certificate``: the LP's Farkas certificate
    (``settlement.solvers.Certificate``) for 'lp-sertifikat'."""

    def __init__(self, message: str, proof: str = "", binding: Sequence[str] = (),
                 certificate: object = None) -> None:
        super().__init__(message)
        self.proof = proof
        self.binding = list(binding)
        self.certificate = certificate


class NoPlacementFound(Unprocessable):
    """No placement was found within the time allowed, and infeasibility is not proven (422)."""


class TooLargeError(TooLarge):
    """A matching request with more households or municipalities than allowed (413)."""


class TooHeavy(TooLarge):
    """One job would need more memory than the ceiling allows (413)."""


class DatabaseUnavailable(UserError):
    """The database file is missing or not a Bli-atlas database (503): a setup the user
    fixes (`bli import`, ``BLI_DATABASE``), so exit code 2; pages show it as their error."""

    http_status = 503


class DatabaseBusy(UserError):
    """Another writer holds the database's lock longer than we were willing to wait (503)."""

    http_status = 503


# -- data format --------------------------------------------------------------------------
class DataFormatError(UserError):
    """A file or upload that is not what it claims to be. Exit code 2, HTTP 400."""

    kind = "dataformat"


class InputError(DataFormatError):
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


class ContentError(DataFormatError):
    """Knowledge content that does not follow ``docs/content-model.md``; lists every issue.

    On the CLI (``bli kunnskap valider`` of a content folder) bad input, exit code 2; in
    the API the server's own content is at fault, not the request: 500.
    """

    http_status = 500

    def __init__(self, issues: list):
        self.issues = issues
        lines = [f"{len(issues)} feil i kunnskapsinnholdet:"] + [f"  {i}" for i in issues]
        super().__init__("\n".join(lines))


# -- sources and network ------------------------------------------------------------------
class SourceError(BliError):
    """A source the program reads failed; nothing was written. Exit code 3, HTTP 502."""

    kind = "kilde"
    exit_code = 3
    http_status = 502


class PublisherError(SourceError):
    """A publisher refused a request, did not answer (timeouts, retries used up) or answered
    something that is not what was asked for; the message says which and why."""


class Offline(PublisherError):
    """No network: the publisher's host could not be reached at all (503)."""

    http_status = 503


class SsbApiError(PublisherError):
    """SSB refused the query or did not answer; the message says which table and why."""


class CellLimitExceeded(SsbApiError):
    """SSB found the extract too large (v1: HTTP 403, v2: HTTP 400 about cells)."""


class ImdiApiError(PublisherError):
    """IMDi's service refused a table or answered something that is not a table."""


# -- internal -----------------------------------------------------------------------------
class InternalError(BliError):
    """A fault of Bli-atlas or of what ships with it. Exit code 1, HTTP 500."""


def exit_code(exc: BaseException) -> int:
    """The CLI exit code for ``exc`` (1 for anything that is not a :class:`BliError`)."""
    return exc.exit_code if isinstance(exc, BliError) else 1


def http_status(exc: BaseException) -> int:
    """The HTTP status for ``exc`` (500 for anything that is not a :class:`BliError`)."""
    return exc.http_status if isinstance(exc, BliError) else 500


def int_param(params: Mapping[str, str], name: str, low: int, high: int, default: int) -> int:
    """A whole number from request parameters (``?limit=20``, ``?g_antall=8``): ``default``
    when absent or empty, else an integer in ``low..high`` or a :class:`UserError` (400)
    naming the parameter, the range and what was given. The one reader, so every such
    parameter is refused in the same words."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise UserError(f"parameteren {name!r}: forventet et heltall fra {low} til {high}, "
                        f"fant {raw!r}")
    return value
