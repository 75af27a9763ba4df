"""The upload flow against a loopback Codabench server: token, phases, dataset upload, submission, outcome."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from instanceformer.core.cli import run_app
from instanceformer.submit.cli import app
from instanceformer.submit.codabench import CodabenchClient
from instanceformer.submit.competitions import get_competition
from instanceformer.submit.credentials import Credentials
from instanceformer.submit.errors import (
    CodaLabError,
    LoginError,
    PhaseClosedError,
    QuotaError,
    ServerError,
    SubmissionFailedError,
)
from instanceformer.submit.packing import pack_results
from instanceformer.submit.retry import RetryPolicy
from instanceformer.submit.workflow import SubmissionTarget, submit_zip, summarize_zip, wait_for_evaluation
from tests.submit.fake_codabench import SCORING_ERROR

FAST_RETRY = RetryPolicy(attempts=3, base_delay_s=0.5, max_delay_s=4.0)
TIMEOUT_S = 5.0


@pytest.fixture
def results_zip(tmp_path, results_path) -> Path:
    return pack_results(results_path, tmp_path / "results.zip").path


def _target(fake, kit, phase: str | None = None) -> SubmissionTarget:
    return SubmissionTarget(
        competition=get_competition("ovis"),
        competition_id=kit.codabench_competition_id,
        base_url=fake.base_url,
        phase=phase,
        description="r50 run 3",
        server="codabench",
    )


def _client(fake, sleeps: list[float]) -> CodabenchClient:
    return CodabenchClient(
        fake.base_url, retry=FAST_RETRY, timeout_s=TIMEOUT_S, upload_timeout_s=TIMEOUT_S, sleep=sleeps.append
    )


def _credentials(kit, password: str | None = None) -> Credentials:
    return Credentials(kit.codabench_username, password or kit.codabench_password, source="the test")


def _cli(fake, results_zip: Path, kit, *extra: str) -> list[str]:
    return [
        "upload",
        str(results_zip),
        "--competition",
        "ovis",
        "--server",
        "codabench",
        "--competition-id",
        str(kit.codabench_competition_id),
        "--base-url",
        fake.base_url,
        "--description",
        "r50 run 3",
        "--poll-interval",
        "0.01",
        *extra,
    ]


def _login_env(monkeypatch, kit) -> None:
    monkeypatch.setenv("CODABENCH_USERNAME", kit.codabench_username)
    monkeypatch.setenv("CODABENCH_PASSWORD", kit.codabench_password)


def test_cli_whole_flow_with_scores_and_no_leaked_secret(
    fake_codabench, results_zip, kit, home, monkeypatch, capsys, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="instanceformer")
    _login_env(monkeypatch, kit)
    assert run_app(app, [*_cli(fake_codabench, results_zip, kit), "--wait"]) == 0
    captured = capsys.readouterr()
    assert "phase 32 'Validation' (number 1)" in captured.out
    assert "7001" in captured.out and "Finished" in captured.out
    assert "AP" in captured.out and "0.4375" in captured.out and "0.51" in captured.out
    assert f"{fake_codabench.base_url}/competitions/5151/" in captured.out
    calls = fake_codabench.calls()
    key = next(iter(fake_codabench.datasets))
    storage_path = "/storage/" + fake_codabench.datasets[key]["storage_key"]
    assert calls == [
        ("POST", "/api/api-token-auth/"),
        ("GET", "/api/competitions/5151/"),
        ("GET", "/api/can_make_submission/32/"),
        ("POST", "/api/datasets/"),
        ("PUT", storage_path),
        ("PUT", f"/api/datasets/completed/{key}/"),
        ("POST", "/api/submissions/"),
        *[("GET", "/api/submissions/7001/")] * 4,
    ]
    requests = fake_codabench.requests
    dataset = json.loads(requests[3].body)
    assert dataset == {
        "type": "submission",
        "competition": 5151,
        "request_sassy_file_name": "results.zip",
        "file_name": "results.zip",
        "file_size": results_zip.stat().st_size,
        "description": "r50 run 3",
    }
    assert json.loads(requests[6].body) == {"data": key, "phase": 32}
    assert fake_codabench.blobs[fake_codabench.datasets[key]["storage_key"]] == results_zip.read_bytes()
    assert "authorization" not in requests[4].headers
    assert all(request.headers["authorization"].startswith("Token ") for request in requests[1:4])
    (token,) = fake_codabench.tokens
    for secret in (kit.codabench_password, token):
        assert secret not in captured.out and secret not in captured.err
        assert all(secret not in record.getMessage() for record in caplog.records)
    assert all("X-Amz-Signature" not in record.getMessage() for record in caplog.records)


def test_cli_rejected_file_shows_the_server_log(
    fake_codabench, results_zip, kit, home, monkeypatch, capsys
) -> None:
    fake_codabench.statuses = ["Running", "Failed"]
    _login_env(monkeypatch, kit)
    assert run_app(app, [*_cli(fake_codabench, results_zip, kit), "--wait"]) == 2
    captured = capsys.readouterr()
    assert "server error log (last 2 lines)" in captured.out
    assert SCORING_ERROR in captured.out
    error = captured.err.strip()
    assert error.count("\n") == 0
    assert error.startswith(
        "error: submission 7001 Failed on the server: Scoring failed; server log: KeyError"
    )
    storage_gets = [
        r for r in fake_codabench.requests if r.method == "GET" and r.path.startswith("/storage/")
    ]
    assert [r.path.rsplit("/", 1)[1] for r in storage_gets] == ["scoring_stderr.txt"]
    assert all("authorization" not in r.headers for r in storage_gets)


def test_hidden_output_still_gives_a_one_line_failure(fake_codabench, results_zip, kit) -> None:
    fake_codabench.statuses = ["Failed"]
    fake_codabench.hide_output = True
    client = _client(fake_codabench, [])
    target = _target(fake_codabench, kit)
    state = submit_zip(client, target, summarize_zip(results_zip), _credentials(kit))
    with pytest.raises(
        SubmissionFailedError, match=r"^submission 7001 Failed on the server: Scoring failed \(see"
    ):
        wait_for_evaluation(client, target, state, poll_interval_s=0.0, sleep=lambda _: None)


def test_a_closed_phase_is_refused_before_uploading(fake_codabench, results_zip, kit) -> None:
    client = _client(fake_codabench, [])
    target = _target(fake_codabench, kit, phase="development")
    with pytest.raises(PhaseClosedError, match=r"phase 31 'Development' \(number 0\) is closed"):
        submit_zip(client, target, summarize_zip(results_zip), _credentials(kit))
    assert fake_codabench.blobs == {} and fake_codabench.datasets == {}


def test_a_competition_with_no_open_phase_says_so(fake_codabench, results_zip, kit) -> None:
    for phase in fake_codabench.phases:
        phase["status"] = "Previous"
    client = _client(fake_codabench, [])
    with pytest.raises(PhaseClosedError, match="no phase of the competition takes submissions now"):
        submit_zip(client, _target(fake_codabench, kit), summarize_zip(results_zip), _credentials(kit))
    assert fake_codabench.datasets == {}


@pytest.mark.parametrize(
    ("reason", "error", "expected"),
    [
        (
            "Reached maximum allowed submissions for today for this phase",
            QuotaError,
            "submission quota used up",
        ),
        ("User not approved to participate in this competition", CodaLabError, "the organisers must approve"),
        ("Phase is being migrated", PhaseClosedError, "takes no submission now"),
    ],
)
def test_the_servers_refusal_comes_before_the_upload(
    fake_codabench, results_zip, kit, reason, error, expected
) -> None:
    fake_codabench.can_submit = (False, reason)
    client = _client(fake_codabench, [])
    with pytest.raises(error, match=expected) as failure:
        submit_zip(client, _target(fake_codabench, kit), summarize_zip(results_zip), _credentials(kit))
    assert reason in str(failure.value)
    assert fake_codabench.datasets == {}


def test_a_storage_quota_refusal_shows_the_servers_message(fake_codabench, results_zip, kit) -> None:
    message = "Insufficient space. Your available space is 0.0 B."
    fake_codabench.dataset_error = {"data_file": [message]}
    client = _client(fake_codabench, [])
    with pytest.raises(CodaLabError, match=f"refused the upload \\(server: data_file: {message}\\)"):
        submit_zip(client, _target(fake_codabench, kit), summarize_zip(results_zip), _credentials(kit))


def test_wrong_credentials_are_one_line(fake_codabench, kit) -> None:
    wrong = "Wrong-" + kit.codabench_password[::-1]
    with pytest.raises(LoginError) as failure:
        _client(fake_codabench, []).login(_credentials(kit, wrong))
    assert str(failure.value) == (
        f"{fake_codabench.base_url}/api/api-token-auth/: the server did not accept the username and password "
        "from the test (server: Unable to log in with provided credentials.)"
    )
    assert wrong not in str(failure.value)


def test_a_revoked_token_is_renewed_once(fake_codabench, results_zip, kit) -> None:
    fake_codabench.expire_tokens_on_create = True
    client = _client(fake_codabench, [])
    target = _target(fake_codabench, kit)
    state = submit_zip(client, target, summarize_zip(results_zip), _credentials(kit))
    final = wait_for_evaluation(client, target, state, poll_interval_s=0.0, sleep=lambda _: None)
    assert final.finished and dict(final.scores) == {"AP": 0.4375, "AR10": 0.51}
    assert fake_codabench.paths("POST").count("/api/api-token-auth/") == 2


def test_expired_credentials_are_one_line(fake_codabench, results_zip, kit) -> None:
    fake_codabench.expire_tokens_on_create = True
    client = _client(fake_codabench, [])
    target = _target(fake_codabench, kit)
    state = submit_zip(client, target, summarize_zip(results_zip), _credentials(kit))
    fake_codabench.password = "changed-" + kit.codabench_password
    with pytest.raises(
        LoginError, match="api-token-auth/: the server did not accept the username and password"
    ):
        client.submission_state(kit.codabench_competition_id, state.submission_id)


def test_a_5xx_storm_is_retried_a_bounded_number_of_times(fake_codabench, results_zip, kit) -> None:
    fake_codabench.failures["competition"] = [502] * 50
    sleeps: list[float] = []
    client = _client(fake_codabench, sleeps)
    with pytest.raises(
        ServerError, match=r"competitions/5151/: the server answered HTTP 502 after 3 attempts"
    ):
        submit_zip(client, _target(fake_codabench, kit), summarize_zip(results_zip), _credentials(kit))
    assert fake_codabench.paths("GET").count("/api/competitions/5151/") == 3
    assert sleeps == [0.5, 1.0]


def test_creating_the_submission_is_not_retried_after_a_500(fake_codabench, results_zip, kit) -> None:
    fake_codabench.failures["create"] = [500]
    client = _client(fake_codabench, [])
    with pytest.raises(
        CodaLabError, match="it may exist anyway: check .*/competitions/5151/ before submitting"
    ):
        submit_zip(client, _target(fake_codabench, kit), summarize_zip(results_zip), _credentials(kit))
    assert fake_codabench.paths("POST").count("/api/submissions/") == 1


def test_an_unknown_competition_is_a_404_with_advice(fake_codabench, results_zip, kit) -> None:
    target = SubmissionTarget(
        competition=get_competition("ovis"),
        competition_id=999,
        base_url=fake_codabench.base_url,
        server="codabench",
    )
    with pytest.raises(CodaLabError, match="not found \\(HTTP 404\\); check the competition id 999"):
        submit_zip(_client(fake_codabench, []), target, summarize_zip(results_zip), _credentials(kit))


def test_dry_run_lists_the_codabench_requests(fake_codabench, results_zip, kit, home, capsys) -> None:
    assert run_app(app, [*_cli(fake_codabench, results_zip, kit), "--dry-run", "--wait"]) == 2
    captured = capsys.readouterr()
    output = captured.out
    error = captured.err.strip()
    assert error.count("\n") == 0
    assert error.startswith(
        "error: dry run: the upload could not sign in to 127.0.0.1: no Codabench credentials"
    )
    assert fake_codabench.requests == []
    for fragment in (
        "POST /api/api-token-auth/",
        "GET /api/competitions/5151/",
        "POST /api/datasets/",
        "PUT /api/datasets/completed/<key>/",
        "POST /api/submissions/",
        "NOT FOUND: set CODABENCH_USERNAME/CODABENCH_PASSWORD",
    ):
        assert fragment in output.replace(fake_codabench.base_url, "")


def test_server_override_defaults_to_the_codabench_site(results_zip, kit, home, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CODABENCH_USERNAME", kit.codabench_username)
    monkeypatch.setenv("CODABENCH_PASSWORD", kit.codabench_password)
    arguments = ["upload", str(results_zip), "--competition", "ovis", "--server", "codabench"]
    assert run_app(app, [*arguments, "--competition-id", "12345", "--dry-run"]) == 0
    assert "https://www.codabench.org/api/competitions/12345/" in capsys.readouterr().out
    assert run_app(app, [*arguments, "--server", "evalai"]) == 2
    assert "--server: expected one of codalab, codabench, got 'evalai'" in capsys.readouterr().err
    assert run_app(app, [*arguments, "--dry-run"]) == 2
    error = capsys.readouterr().err.strip()
    assert (
        error
        == "error: --competition-id: required with --server codabench (4763 is the codalab id of 'ovis')"
    )
