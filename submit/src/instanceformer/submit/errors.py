"""Expected failures of talking to an evaluation server, each reported as one line and exit status 2."""

from __future__ import annotations

from instanceformer.core.errors import UserError


class CodaLabError(UserError):
    """A request to the evaluation server (CodaLab or Codabench) failed in a way the user can act on."""


class LoginError(CodaLabError):
    """The server did not accept the credentials, or the login form could not be used."""


class PhaseClosedError(CodaLabError):
    """The chosen phase (or the whole competition) no longer accepts submissions."""


class QuotaError(CodaLabError):
    """The account has used up the submissions the phase allows (in total or for the day)."""


class NetworkError(CodaLabError):
    """The server could not be reached, or the connection broke, after the allowed retries."""


class ServerError(CodaLabError):
    """The server kept answering with an error status (5xx) after the allowed retries."""


class SubmissionFailedError(CodaLabError):
    """The server accepted the upload but its evaluation failed, or did not finish in time.

    ``error_log`` holds the tail of the server's error output when it could be read.
    """

    def __init__(self, message: str, error_log: tuple[str, ...] = ()):
        super().__init__(message)
        self.error_log = error_log
