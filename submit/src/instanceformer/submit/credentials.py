"""Server credentials: from environment variables or from ``~/.netrc``.

CodaLab takes ``CODALAB_USERNAME`` / ``CODALAB_PASSWORD``, Codabench ``CODABENCH_USERNAME`` /
``CODABENCH_PASSWORD``; without them, the ``machine <host>`` entry of ``~/.netrc`` is used. They are
never taken from the command line, never printed, logged or written to disk: the password is hidden
from ``repr`` and error messages name only where the credentials came from.
"""

from __future__ import annotations

import netrc
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from instanceformer.core.errors import UserError


@dataclass(frozen=True)
class CredentialNames:
    """The server's name in messages and the environment variables that hold its credentials."""

    server: str
    username_variable: str
    password_variable: str

    @property
    def environment_source(self) -> str:
        """How messages name credentials that came from the environment."""
        return f"the environment variables {self.username_variable} and {self.password_variable}"


CODALAB_NAMES = CredentialNames("CodaLab", "CODALAB_USERNAME", "CODALAB_PASSWORD")
CODABENCH_NAMES = CredentialNames("Codabench", "CODABENCH_USERNAME", "CODABENCH_PASSWORD")
USERNAME_VARIABLE = CODALAB_NAMES.username_variable
PASSWORD_VARIABLE = CODALAB_NAMES.password_variable
SOURCE_ENVIRONMENT = CODALAB_NAMES.environment_source


@dataclass(frozen=True)
class Credentials:
    """An account's username and password, and where they were found."""

    username: str = field(repr=False)
    password: str = field(repr=False)
    source: str


def _netrc_path() -> Path:
    """``~/.netrc`` of the current ``HOME``."""
    return Path(os.path.expanduser("~")) / ".netrc"


def _from_environment(environ: Mapping[str, str], names: CredentialNames) -> Credentials | None:
    """Credentials from the environment; UserError when only one of the two variables is set."""
    username = environ.get(names.username_variable) or ""
    password = environ.get(names.password_variable) or ""
    if not username and not password:
        return None
    if not username or not password:
        missing = names.username_variable if not username else names.password_variable
        raise UserError(
            f"{missing} is not set: set both {names.username_variable} and {names.password_variable}, "
            "or neither to use ~/.netrc"
        )
    return Credentials(username=username, password=password, source=names.environment_source)


def _from_netrc(host: str) -> Credentials | None:
    """Credentials of ``machine <host>`` (or ``default``) in ``~/.netrc``; None without an entry."""
    path = _netrc_path()
    if not path.is_file():
        return None
    try:
        entries = netrc.netrc()
    except netrc.NetrcParseError as problem:
        if "permissive" in str(problem.msg):
            raise UserError(f"{path}: readable by other users; restrict it with 'chmod 600 {path}'") from None
        raise UserError(f"{path}: cannot be read as a netrc file (near line {problem.lineno})") from None
    entry = entries.authenticators(host)
    if entry is None:
        return None
    login, _account, password = entry
    if not login or not password:
        raise UserError(f"{path}: the entry for machine {host} needs both 'login' and 'password'")
    return Credentials(username=login, password=password, source=f"{path} (machine {host})")


def find_credentials(
    host: str, environ: Mapping[str, str] | None = None, names: CredentialNames = CODALAB_NAMES
) -> Credentials:
    """The credentials for ``host``: the environment first, then ``~/.netrc`` (UserError when neither)."""
    environ = os.environ if environ is None else environ
    credentials = _from_environment(environ, names) or _from_netrc(host)
    if credentials is None:
        raise UserError(
            f"no {names.server} credentials: set {names.username_variable} and {names.password_variable}, "
            f"or add 'machine {host} login NAME password SECRET' to {_netrc_path()}"
        )
    return credentials


def credentials_source(
    host: str, environ: Mapping[str, str] | None = None, names: CredentialNames = CODALAB_NAMES
) -> str | None:
    """Where :func:`find_credentials` would take the credentials from, or None (reads no secret out)."""
    try:
        return find_credentials(host, environ, names).source
    except UserError:
        return None
