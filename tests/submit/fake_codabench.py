"""A loopback Codabench server, built from the codalab/codabench source (src/apps/api).

It implements what the client relies on as that source does: ``obtain_auth_token`` (400
``non_field_errors`` on wrong credentials), token authentication (``Authorization: Token ...``; 403
``{"detail": "Invalid token."}`` for a revoked one, as with ``SessionAuthentication`` listed first), the
competition object with its phases and their ``status``, ``can_make_submission``, the submission
dataset with its pre-signed URL, ``datasets/completed``, the submission creation, the submission with its
``scores`` (decimals as strings) and ``get_details`` with the pre-signed URLs of the logs.
"""

from __future__ import annotations

import itertools
import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.submit.fake_http import FakeHandler, FakeServerState, RecordedRequest

PASSWORD = "Cb-unique-pa55word-9Qw"
USERNAME = "benchmarker3"
COMPETITION_ID = 5151
SCORES = {"AP": "0.4375000000", "AR10": "0.5100000000"}
SCORING_ERROR = "KeyError: 'segmentations' in record 12 of results.json"


def _default_phases() -> list[dict[str, Any]]:
    """A finished development phase, the current validation phase and a future test phase."""
    return [
        {"id": 31, "index": 0, "name": "Development", "start": "2024-01-01T00:00:00Z", "status": "Previous"},
        {"id": 32, "index": 1, "name": "Validation", "start": "2024-06-01T00:00:00Z", "status": "Current"},
        {"id": 33, "index": 2, "name": "Test", "start": "2031-01-01T00:00:00Z", "status": "Next"},
    ]


@dataclass
class FakeCodabenchState(FakeServerState):
    """What the fake Codabench server knows and how it should misbehave.

    Endpoint names of ``failures``: ``token``, ``competition``, ``datasets``, ``upload``, ``create``,
    ``status``.
    """

    password: str = PASSWORD
    phases: list[dict[str, Any]] = field(default_factory=_default_phases)
    can_submit: tuple[bool, str | None] = (True, None)
    dataset_error: dict[str, Any] | None = None
    create_error: tuple[int, dict[str, Any]] | None = None
    statuses: list[str] = field(default_factory=lambda: ["Submitted", "Running", "Scoring", "Finished"])
    hide_output: bool = False
    expire_tokens_on_create: bool = False
    tokens: set[str] = field(default_factory=set)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    submissions: dict[int, dict[str, Any]] = field(default_factory=dict)


def codabench_handler(state: FakeCodabenchState) -> type[FakeHandler]:
    """A request handler bound to ``state``."""
    submission_ids = itertools.count(7001)

    class Handler(FakeHandler):
        def _payload(self, request: RecordedRequest) -> dict[str, Any]:
            try:
                payload = json.loads(request.body.decode("utf-8") or "{}")
            except json.JSONDecodeError:
                return {}
            return payload if isinstance(payload, dict) else {}

        def _authorized(self, request: RecordedRequest) -> bool:
            header = request.headers.get("authorization", "")
            if not header:
                self.send_json(403, {"detail": "Authentication credentials were not provided."})
                return False
            if not header.startswith("Token ") or header.removeprefix("Token ") not in state.tokens:
                self.send_json(403, {"detail": "Invalid token."})
                return False
            return True

        def on_get(self, request: RecordedRequest) -> None:
            path = request.path
            if path == f"/api/competitions/{COMPETITION_ID}/":
                if not self.fail_first("competition"):
                    self.send_json(
                        200,
                        {
                            "id": COMPETITION_ID,
                            "title": "Fake VIS benchmark",
                            "participant_status": "approved",
                            "phases": state.phases,
                        },
                    )
            elif path.startswith("/api/competitions/"):
                self.send_json(404, {"detail": "Not found."})
            elif path.startswith("/api/can_make_submission/"):
                if self._authorized(request):
                    can, reason = state.can_submit
                    self.send_json(200, {"can": can, "reason": reason})
            elif path.startswith("/api/submissions/") and path.endswith("/get_details/"):
                if self._authorized(request):
                    self._details(int(path.split("/")[3]))
            elif path.startswith("/api/submissions/"):
                if not self.fail_first("status") and self._authorized(request):
                    self._status(int(path.split("/")[3]))
            elif path.startswith("/storage/"):
                self.storage_get(request)
            else:
                self.send_json(404, {"detail": "Not found."})

        def on_post(self, request: RecordedRequest) -> None:
            if request.path == "/api/api-token-auth/":
                self._token(request)
            elif request.path == "/api/datasets/":
                if not self.fail_first("datasets") and self._authorized(request):
                    self._dataset(request)
            elif request.path == "/api/submissions/":
                if not self.fail_first("create") and self._authorized(request):
                    self._create(request)
            else:
                self.send_json(404, {"detail": "Not found."})

        def on_put(self, request: RecordedRequest) -> None:
            if request.path.startswith("/storage/"):
                self.storage_put(request)
            elif request.path.startswith("/api/datasets/completed/"):
                if self._authorized(request):
                    key = request.path.split("/")[4]
                    if key not in state.datasets:
                        self.send_json(404, {"detail": "Not found."})
                        return
                    state.datasets[key]["completed"] = True
                    self.send_json(200, {"key": key})
            else:
                self.send_json(404, {"detail": "Not found."})

        def _token(self, request: RecordedRequest) -> None:
            if self.fail_first("token"):
                return
            payload = self._payload(request)
            if payload.get("username") != USERNAME or payload.get("password") != state.password:
                self.send_json(400, {"non_field_errors": ["Unable to log in with provided credentials."]})
                return
            token = secrets.token_hex(20)
            with state.lock:
                state.tokens.add(token)
            self.send_json(200, {"token": token})

        def _dataset(self, request: RecordedRequest) -> None:
            payload = self._payload(request)
            if not payload.get("file_size"):
                self.send_json(400, {"file_size": "This field is required."})
                return
            if state.dataset_error is not None:
                self.send_json(400, state.dataset_error)
                return
            key = str(uuid.uuid4())
            storage_key = f"dataset/{key}/{payload.get('request_sassy_file_name')}"
            with state.lock:
                state.datasets[key] = dict(payload, storage_key=storage_key, completed=False)
            url = f"{state.base_url}/storage/{storage_key}?X-Amz-Signature=put-{secrets.token_hex(4)}"
            self.send_json(201, {"key": key, "sassy_url": url})

        def _create(self, request: RecordedRequest) -> None:
            if state.create_error is not None:
                self.send_json(*state.create_error)
                return
            payload = self._payload(request)
            dataset = state.datasets.get(str(payload.get("data")))
            phase = next((p for p in state.phases if p["id"] == payload.get("phase")), None)
            if dataset is None or not dataset["completed"] or dataset["storage_key"] not in state.blobs:
                self.send_json(400, {"data": ["Object with key does not exist."]})
                return
            if phase is None:
                self.send_json(400, {"phase": ["Invalid pk - object does not exist."]})
                return
            submission_id = next(submission_ids)
            record = {"id": submission_id, "status": "Submitting", "phase": phase["id"], "scores": []}
            with state.lock:
                state.submissions[submission_id] = record
                if state.expire_tokens_on_create:
                    state.tokens.clear()
            self.send_json(201, {"id": submission_id, "status": "Submitting", "phase": phase["id"]})

        def _status(self, submission_id: int) -> None:
            with state.lock:
                status = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
                record = dict(state.submissions[submission_id], status=status)
            if status == "Finished":
                record["scores"] = [
                    {"id": index, "index": index, "score": value, "column_key": key}
                    for index, (key, value) in enumerate(SCORES.items())
                ]
            if status == "Failed":
                record["status_details"] = "Scoring failed"
            self.send_json(200, record)

        def _details(self, submission_id: int) -> None:
            if state.hide_output:
                self.send_json(
                    403, {"detail": "Cannot access submission details while phase marked to hide output."}
                )
                return
            logs = []
            for name, text in (
                ("scoring_stdout", "reading results.json\n"),
                ("scoring_stderr", SCORING_ERROR),
            ):
                key = f"submission_details/{submission_id}/{name}.txt"
                with state.lock:
                    state.logs[key] = f"Traceback (most recent call last):\n{text}\n".encode()
                url = f"{state.base_url}/storage/{key}?X-Amz-Signature=get-{secrets.token_hex(4)}"
                logs.append({"name": name, "data_file": url})
            self.send_json(200, {"logs": logs, "detailed_result": None, "scoring_result": None})

    Handler.state = state
    return Handler
