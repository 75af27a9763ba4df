"""CodaLab credentials: from ``CODALAB_USERNAME`` / ``CODALAB_PASSWORD`` or from ``~/.netrc``.

They are never taken from the command line, never printed, logged or written to disk: the password
is hidden from ``repr`` and error messages name only where the credentials came from.
"""

from __future__ import annotations

import netrc
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from instanceformer.core.errors import UserError

USERNAME_VARIABLE = "CODALAB_USERNAME"
PASSWORD_VARIABLE = "CODALAB_PASSWORD"
SOURCE_ENVIRONMENT = f"the environment variables {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}"


@dataclass(frozen=True)
class Credentials:
    """A CodaLab account's username and password, and where they were found."""

    username: str = field(repr=False)
    password: str = field(repr=False)
    source: str


def _netrc_path() -> Path:
    """``~/.netrc`` of the current ``HOME``."""
    return Path(os.path.expanduser("~")) / ".netrc"


def _from_environment(environ: Mapping[str, str]) -> Credentials | None:
    """Credentials from the environment; UserError when only one of the two variables is set."""
    username = environ.get(USERNAME_VARIABLE) or ""
    password = environ.get(PASSWORD_VARIABLE) or ""
    if not username and not password:
        return None
    if not username or not password:
        missing = USERNAME_VARIABLE if not username else PASSWORD_VARIABLE
        raise UserError(
            f"{missing} is not set: set both {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}, "
            "or neither to use ~/.netrc"
        )
    return Credentials(username=username, password=password, source=SOURCE_ENVIRONMENT)


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


def find_credentials(host: str, environ: Mapping[str, str] | None = None) -> Credentials:
    """The credentials for ``host``: the environment first, then ``~/.netrc`` (UserError when neither)."""
    environ = os.environ if environ is None else environ
    credentials = _from_environment(environ) or _from_netrc(host)
    if credentials is None:
        raise UserError(
            f"no CodaLab credentials: set {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}, or add "
            f"'machine {host} login NAME password SECRET' to {_netrc_path()}"
        )
    return credentials


def credentials_source(host: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Where :func:`find_credentials` would take the credentials from, or None (reads no secret out)."""
    try:
        return find_credentials(host, environ).source
    except UserError:
        return None
