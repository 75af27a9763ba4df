"""The client of each server kind, and the credential names it reads."""

from __future__ import annotations

import time
from collections.abc import Callable

from instanceformer.submit.codabench import CodabenchClient
from instanceformer.submit.codalab import CodaLabClient
from instanceformer.submit.credentials import CODABENCH_NAMES, CODALAB_NAMES, CredentialNames
from instanceformer.submit.retry import RetryPolicy
from instanceformer.submit.server_protocol import CODABENCH, SubmissionServer


def open_client(
    server: str,
    base_url: str,
    *,
    retry: RetryPolicy | None = None,
    timeout_s: float = 60.0,
    upload_timeout_s: float = 600.0,
    sleep: Callable[[float], None] = time.sleep,
) -> SubmissionServer:
    """A client of ``server`` (``codalab`` or ``codabench``) at ``base_url``, not yet signed in."""
    kind = CodabenchClient if server == CODABENCH else CodaLabClient
    return kind(base_url, retry=retry, timeout_s=timeout_s, upload_timeout_s=upload_timeout_s, sleep=sleep)


def credential_names(server: str) -> CredentialNames:
    """The environment variables (and the name in messages) of ``server``'s credentials."""
    return CODABENCH_NAMES if server == CODABENCH else CODALAB_NAMES
