"""The requests a submission would send, listed without sending any (``--dry-run``)."""

from __future__ import annotations

from dataclasses import dataclass

from instanceformer.submit import codabench_endpoints as codabench_api
from instanceformer.submit import endpoints as codalab_api
from instanceformer.submit.credentials import CredentialNames
from instanceformer.submit.server_protocol import CODABENCH
from instanceformer.submit.workflow import SubmissionTarget, ZipSummary


@dataclass(frozen=True)
class PlannedRequest:
    """One request of the upload, as ``--dry-run`` shows it."""

    method: str
    url: str
    sends: str


def _upload_summary(summary: ZipSummary) -> str:
    """What the storage PUT sends."""
    return (
        f"{summary.path.name}: {summary.size_bytes} bytes, {summary.num_tracks} tracks, "
        f"sha256 {summary.sha256[:16]}..."
    )


def _codalab_plan(
    target: SubmissionTarget, summary: ZipSummary, credentials: str, phase: str
) -> list[PlannedRequest]:
    """The CodaLab v1 requests (see :mod:`instanceformer.submit.endpoints`)."""
    base, competition_id = target.base_url, target.competition_id
    return [
        PlannedRequest(
            "GET", base + codalab_api.LOGIN_PATH, "nothing (reads the CSRF token of the sign-in form)"
        ),
        PlannedRequest(
            "POST", base + codalab_api.LOGIN_PATH, f"login, password ({credentials}), csrfmiddlewaretoken"
        ),
        PlannedRequest("GET", base + codalab_api.phases_path(competition_id), f"nothing (looks up {phase})"),
        PlannedRequest(
            "GET",
            base + codalab_api.submit_page_path(competition_id),
            "nothing (reads the phase ids when needed)",
        ),
        PlannedRequest(
            "GET", base + codalab_api.participation_path(competition_id), "nothing (is the account approved?)"
        ),
        PlannedRequest(
            "POST", base + codalab_api.upload_slot_path(competition_id), "nothing (asks for an upload URL)"
        ),
        PlannedRequest("PUT", "<the upload URL from the previous answer>", _upload_summary(summary)),
        PlannedRequest(
            "POST",
            f"{base}/api/competition/{competition_id}/submission?description=...&phase_id=<phase id>",
            f"id=<tracking id>, name={summary.path.name}, type=application/zip, size={summary.size_bytes}; "
            f"description {target.description!r}",
        ),
    ]


def _codabench_plan(
    target: SubmissionTarget, summary: ZipSummary, credentials: str, phase: str
) -> list[PlannedRequest]:
    """The Codabench requests (see :mod:`instanceformer.submit.codabench_endpoints`)."""
    base, competition_id = target.base_url, target.competition_id
    return [
        PlannedRequest("POST", base + codabench_api.TOKEN_PATH, f"username, password ({credentials})"),
        PlannedRequest(
            "GET", base + codabench_api.competition_path(competition_id), f"nothing (looks up {phase})"
        ),
        PlannedRequest("GET", f"{base}/api/can_make_submission/<phase id>/", "nothing (approval and quota)"),
        PlannedRequest(
            "POST",
            base + codabench_api.DATASETS_PATH,
            f"type=submission, competition={competition_id}, file_name={summary.path.name}, "
            f"file_size={summary.size_bytes}; description {target.description!r}",
        ),
        PlannedRequest("PUT", "<the sassy_url from the previous answer>", _upload_summary(summary)),
        PlannedRequest("PUT", f"{base}/api/datasets/completed/<key>/", "nothing (marks the upload complete)"),
        PlannedRequest("POST", base + codabench_api.SUBMISSIONS_PATH, "data=<key>, phase=<phase id>"),
    ]


def plan_submission(
    target: SubmissionTarget,
    summary: ZipSummary,
    credentials_from: str | None,
    names: CredentialNames,
    wait: bool,
    poll_interval_s: float,
) -> list[PlannedRequest]:
    """The requests ``submit_zip`` (and, with ``wait``, the polling) would send, in order."""
    credentials = (
        f"from {credentials_from}"
        if credentials_from
        else f"NOT FOUND: set {names.username_variable}/{names.password_variable}"
    )
    phase = target.phase or "the open phase"
    if target.server == CODABENCH:
        plan = _codabench_plan(target, summary, credentials, phase)
        poll_url = f"{target.base_url}{codabench_api.SUBMISSIONS_PATH}<submission id>/"
    else:
        plan = _codalab_plan(target, summary, credentials, phase)
        poll_url = f"{target.base_url}/api/competition/{target.competition_id}/submission/<submission id>"
    if wait:
        plan.append(
            PlannedRequest(
                "GET", poll_url, f"nothing (every {poll_interval_s:g} s until the status is final)"
            )
        )
    return plan
