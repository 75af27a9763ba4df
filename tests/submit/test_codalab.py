"""The upload flow against a loopback CodaLab v1.x server: sign-in, phases, upload, submission, outcome."""

from __future__ import annotations

import datetime
import logging
import socket
from pathlib import Path

import pytest

from instanceformer.core.cli import run_app
from instanceformer.core.errors import UserError
from instanceformer.submit.cli import app
from instanceformer.submit.codalab import CodaLabClient, PhaseInfo, SubmissionState
from instanceformer.submit.competitions import get_competition
from instanceformer.submit.credentials import Credentials
from instanceformer.submit.errors import (
    CodaLabError,
    LoginError,
    NetworkError,
    PhaseClosedError,
    QuotaError,
    ServerError,
    SubmissionFailedError,
)
from instanceformer.submit.packing import pack_results
from instanceformer.submit.retry import RetryPolicy
from instanceformer.submit.workflow import (
    SubmissionTarget,
    resolve_phase,
    submit_zip,
    summarize_zip,
    wait_for_evaluation,
)
from tests.submit.fake_codalab import SCORE, SCORING_ERROR

FAST_RETRY = RetryPolicy(attempts=3, base_delay_s=0.5, max_delay_s=4.0)
TIMEOUT_S = 5.0


@pytest.fixture
def results_zip(tmp_path, results_path) -> Path:
    return pack_results(results_path, tmp_path / "results.zip").path


def _target(base_url: str, kit, phase: str | None = None) -> SubmissionTarget:
    return SubmissionTarget(
        competition=get_competition("ovis"),
        competition_id=kit.competition_id,
        base_url=base_url,
        phase=phase,
        description="r50 run 3",
    )


def _client(base_url: str, sleeps: list[float]) -> CodaLabClient:
    return CodaLabClient(
        base_url, retry=FAST_RETRY, timeout_s=TIMEOUT_S, upload_timeout_s=TIMEOUT_S, sleep=sleeps.append
    )


def _credentials(kit, password: str | None = None) -> Credentials:
    return Credentials(kit.username, password or kit.password, source="the test")


def _cli(fake, results_zip: Path, *extra: str, command: str = "upload") -> list[str]:
    return [
        command,
        str(results_zip),
        "--competition",
        "ovis",
        "--competition-id",
        "4242",
        "--base-url",
        fake.base_url,
        "--description",
        "r50 run 3",
        "--poll-interval",
        "0.01",
        *extra,
    ]


def _assert_password_never_leaked(
    password: str, captured, caplog, roots: list[Path], allowed: set[Path]
) -> None:
    assert password not in captured.out
    assert password not in captured.err
    for record in caplog.records:
        assert password not in record.getMessage()
        assert password not in repr(record.args)
    secret = password.encode("utf-8")
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and path not in allowed:
                assert secret not in path.read_bytes(), path


def test_cli_upload_with_wait_succeeds_and_leaks_no_password(
    fake_codalab, results_zip, kit, home, tmp_path, monkeypatch, capsys, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="instanceformer")
    monkeypatch.setenv("CODALAB_USERNAME", kit.username)
    monkeypatch.setenv("CODALAB_PASSWORD", kit.password)
    assert run_app(app, [*_cli(fake_codalab, results_zip), "--wait"]) == 0
    captured = capsys.readouterr()
    assert "finished" in captured.out
    assert "submission id" in captured.out and "900" in captured.out
    assert "phase 102 'Validation'" in captured.out
    assert f"{fake_codalab.base_url}/competitions/4242" in captured.out
    assert f"{SCORE:g}" in captured.out and "score (leaderboard default)" in captured.out
    api = f"/api/competition/{kit.competition_id}"
    calls = fake_codalab.calls()
    assert calls[:8] == [
        ("GET", "/accounts/login/"),
        ("POST", "/accounts/login/"),
        ("GET", f"{api}/phases/"),
        ("GET", "/competitions/4242"),
        ("GET", f"{api}/mystatus/"),
        ("POST", f"{api}/submission/sas"),
        ("PUT", calls[6][1]),
        ("POST", f"{api}/submission"),
    ]
    assert calls[6][1].startswith("/storage/competition/4242/submission/")
    assert calls[8:] == [("GET", f"{api}/submission/900")] * 3 + [("GET", "/api/submission/900/get_score")]
    (blob,) = fake_codalab.blobs.values()
    assert blob == results_zip.read_bytes()
    upload = fake_codalab.requests[6]
    assert "cookie" not in upload.headers
    assert upload.headers["content-type"] == "application/zip"
    create = fake_codalab.requests[7]
    assert create.query == {"description": ["r50 run 3"], "phase_id": ["102"]}
    assert b"type=application%2Fzip" in create.body and b"name=results.zip" in create.body
    assert caplog.records, "the client logs its requests at debug level"
    assert all("X-Amz-Signature" not in record.getMessage() for record in caplog.records)
    _assert_password_never_leaked(kit.password, captured, caplog, [tmp_path, home], allowed=set())


def test_cli_with_netrc_credentials(fake_codalab, results_zip, kit, home, tmp_path, capsys, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="instanceformer")
    netrc = home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1\n  login {kit.username}\n  password {kit.password}\n")
    netrc.chmod(0o600)
    assert run_app(app, _cli(fake_codalab, results_zip)) == 0
    captured = capsys.readouterr()
    assert f"credentials from {netrc} (machine 127.0.0.1)" in captured.out
    assert "submitting" in captured.out
    assert f"/api/competition/{kit.competition_id}/phases/" in fake_codalab.paths("GET")
    _assert_password_never_leaked(kit.password, captured, caplog, [tmp_path, home], allowed={netrc})


def test_cli_bad_password_is_one_line_and_uploads_nothing(
    fake_codalab, results_zip, kit, home, tmp_path, monkeypatch, capsys, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="instanceformer")
    wrong = "Wrong-" + kit.password[::-1]
    monkeypatch.setenv("CODALAB_USERNAME", kit.username)
    monkeypatch.setenv("CODALAB_PASSWORD", wrong)
    assert run_app(app, _cli(fake_codalab, results_zip)) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        f"error: {fake_codalab.base_url}/accounts/login/: the server did not accept the username and "
        "password from the environment variables CODALAB_USERNAME and CODALAB_PASSWORD"
    )
    assert fake_codalab.paths() == ["/accounts/login/", "/accounts/login/"]
    assert fake_codalab.blobs == {}
    _assert_password_never_leaked(wrong, captured, caplog, [tmp_path, home], allowed=set())


def test_a_500_is_retried_with_backoff_then_succeeds(fake_codalab, results_zip, kit) -> None:
    fake_codalab.failures["sas"] = [500, 503]
    fake_codalab.failures["status"] = [502]
    sleeps: list[float] = []
    client = _client(fake_codalab.base_url, sleeps)
    target = _target(fake_codalab.base_url, kit)
    state = submit_zip(client, target, summarize_zip(results_zip), _credentials(kit))
    assert fake_codalab.paths("POST").count(f"/api/competition/{kit.competition_id}/submission/sas") == 3
    assert sleeps == [0.5, 1.0]
    final = wait_for_evaluation(client, target, state, poll_interval_s=0.0, sleep=sleeps.append)
    assert final.finished and final.submission_id == state.submission_id
    assert len(fake_codalab.blobs) == 1


def test_retries_are_bounded(fake_codalab, results_zip, kit) -> None:
    fake_codalab.failures["sas"] = [503, 503, 503, 503]
    sleeps: list[float] = []
    client = _client(fake_codalab.base_url, sleeps)
    with pytest.raises(ServerError, match=r"submission/sas: the server answered HTTP 503 after 3 attempts"):
        submit_zip(client, _target(fake_codalab.base_url, kit), summarize_zip(results_zip), _credentials(kit))
    assert sleeps == [0.5, 1.0]


def test_creating_the_submission_is_not_retried_after_a_500(fake_codalab, results_zip, kit) -> None:
    fake_codalab.failures["create"] = [500]
    client = _client(fake_codalab.base_url, [])
    with pytest.raises(
        CodaLabError, match="it may exist anyway: check .*/competitions/4242 before submitting"
    ):
        submit_zip(client, _target(fake_codalab.base_url, kit), summarize_zip(results_zip), _credentials(kit))
    assert fake_codalab.paths("POST").count(f"/api/competition/{kit.competition_id}/submission") == 1


def test_a_gateway_error_on_creation_is_retried(fake_codalab, results_zip, kit) -> None:
    fake_codalab.failures["create"] = [502]
    sleeps: list[float] = []
    client = _client(fake_codalab.base_url, sleeps)
    state = submit_zip(
        client, _target(fake_codalab.base_url, kit), summarize_zip(results_zip), _credentials(kit)
    )
    assert state.status == "submitting"
    assert sleeps == [0.5]


@pytest.mark.parametrize(
    "detail", ["Competition phase is closed.", "Submissions have been disabled by admins"]
)
def test_cli_closed_phase_at_the_server_is_one_line(
    fake_codalab, results_zip, kit, home, monkeypatch, capsys, detail
) -> None:
    fake_codalab.create_error = (403, {"detail": detail})
    monkeypatch.setenv("CODALAB_USERNAME", kit.username)
    monkeypatch.setenv("CODALAB_PASSWORD", kit.password)
    assert run_app(app, _cli(fake_codalab, results_zip)) == 2
    error = capsys.readouterr().err.strip()
    assert error == (
        f"error: {fake_codalab.base_url}/api/competition/4242/submission: the phase does not accept "
        f"submissions now (server: {detail})"
    )


def test_a_phase_marked_closed_is_refused_before_uploading(fake_codalab, results_zip, kit) -> None:
    client = _client(fake_codalab.base_url, [])
    target = _target(fake_codalab.base_url, kit, phase="development")
    with pytest.raises(PhaseClosedError, match="phase 101 'Development' \\(number 1\\) is closed"):
        submit_zip(client, target, summarize_zip(results_zip), _credentials(kit))
    assert fake_codalab.blobs == {}
    assert "PUT" not in [request.method for request in fake_codalab.requests]


def test_used_up_quota_is_reported(fake_codalab, results_zip, kit) -> None:
    detail = "The maximum number of submissions this day have been reached."
    fake_codalab.create_error = (403, {"detail": detail})
    client = _client(fake_codalab.base_url, [])
    with pytest.raises(QuotaError, match=f"submission quota used up \\(server: {detail}\\)"):
        submit_zip(client, _target(fake_codalab.base_url, kit), summarize_zip(results_zip), _credentials(kit))


def test_a_participant_not_approved_is_told_so(fake_codalab, results_zip, kit) -> None:
    fake_codalab.create_error = (403, {"detail": "You do not have permission to perform this action."})
    client = _client(fake_codalab.base_url, [])
    with pytest.raises(CodaLabError, match="registered and approved for competition 4242"):
        submit_zip(client, _target(fake_codalab.base_url, kit), summarize_zip(results_zip), _credentials(kit))


def test_a_server_that_is_down_is_a_network_error_after_retries(results_zip, kit) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    sleeps: list[float] = []
    client = _client(base_url, sleeps)
    with pytest.raises(NetworkError, match=r"/accounts/login/: connection refused after 3 attempts"):
        submit_zip(client, _target(base_url, kit), summarize_zip(results_zip), _credentials(kit))
    assert sleeps == [0.5, 1.0]


def test_an_evaluation_failure_is_reported_with_the_server_log(fake_codalab, results_zip, kit) -> None:
    fake_codalab.statuses = ["running", "failed"]
    client = _client(fake_codalab.base_url, [])
    target = _target(fake_codalab.base_url, kit)
    state = submit_zip(client, target, summarize_zip(results_zip), _credentials(kit))
    seen: list[str] = []
    with pytest.raises(
        SubmissionFailedError, match="submission 900 failed on the server: scoring program: the program"
    ) as failure:
        wait_for_evaluation(
            client,
            target,
            state,
            poll_interval_s=0.0,
            sleep=lambda _: None,
            on_status=lambda s: seen.append(s.status),
        )
    assert seen == ["running", "failed"]
    assert f"server log: {SCORING_ERROR}" in str(failure.value)
    assert failure.value.error_log[-1] == SCORING_ERROR
    assert failure.value.error_log[0] == "Traceback (most recent call last):"
    stderr_get = [r for r in fake_codalab.requests if r.path == "/my/competition/submission/900/stderr.txt"]
    storage_get = [r for r in fake_codalab.requests if r.method == "GET" and r.path.startswith("/storage/")]
    assert len(stderr_get) == 1 and len(storage_get) == 1
    assert "cookie" not in storage_get[0].headers


def test_cli_shows_the_rejected_file_and_the_server_log(
    fake_codalab, results_zip, kit, home, monkeypatch, capsys
) -> None:
    fake_codalab.statuses = ["running", "failed"]
    monkeypatch.setenv("CODALAB_USERNAME", kit.username)
    monkeypatch.setenv("CODALAB_PASSWORD", kit.password)
    assert run_app(app, [*_cli(fake_codalab, results_zip), "--wait"]) == 2
    captured = capsys.readouterr()
    assert "server error log (last 3 lines)" in captured.out
    assert SCORING_ERROR in captured.out
    error = captured.err.strip()
    assert error.count("\n") == 0 and error.startswith("error: submission 900 failed on the server")
    assert SCORING_ERROR in error


def test_waiting_gives_up_after_the_time_limit(fake_codalab, results_zip, kit) -> None:
    fake_codalab.statuses = ["running"]
    client = _client(fake_codalab.base_url, [])
    target = _target(fake_codalab.base_url, kit)
    state = submit_zip(client, target, summarize_zip(results_zip), _credentials(kit))
    ticks = iter(range(0, 1000, 10))
    with pytest.raises(SubmissionFailedError, match="still 'running' after 25 s; follow it on"):
        wait_for_evaluation(
            client,
            target,
            state,
            poll_interval_s=10.0,
            timeout_s=25.0,
            sleep=lambda _: None,
            clock=lambda: next(ticks),
        )


def test_api_posts_without_the_csrf_header_are_refused_by_the_fake_server(fake_codalab, kit) -> None:
    client = _client(fake_codalab.base_url, [])
    client.login(_credentials(kit))
    client._site.cookies.clear(domain="127.0.0.1", path="/", name="csrftoken")
    with pytest.raises(LoginError, match="did not accept the session \\(server: CSRF Failed"):
        client.request_upload_slot(kit.competition_id)


def test_dry_run_sends_nothing_and_shows_the_plan(
    fake_codalab, results_zip, kit, home, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("CODALAB_USERNAME", kit.username)
    monkeypatch.setenv("CODALAB_PASSWORD", kit.password)
    assert run_app(app, [*_cli(fake_codalab, results_zip), "--dry-run", "--wait"]) == 0
    captured = capsys.readouterr()
    assert fake_codalab.requests == []
    assert "nothing was sent" in captured.out
    assert f"POST {fake_codalab.base_url}/api/competition/4242/submission/sas" in captured.out
    assert "from the environment variables CODALAB_USERNAME and CODALAB_PASSWORD" in captured.out
    assert f"{results_zip.stat().st_size} bytes, 3 tracks" in captured.out
    assert kit.password not in captured.out and kit.username not in captured.out


def test_dry_run_validates_against_ground_truth(tmp_path, annotations_path, kit, home, capsys) -> None:
    broken = kit.write_json(tmp_path / "broken.json", [dict(kit.track(1), video_id=77)])
    archive = pack_results(broken, tmp_path / "broken.zip").path
    arguments = [
        "upload",
        str(archive),
        "--competition",
        "ytvis21",
        "--dry-run",
        "--gt",
        str(annotations_path),
    ]
    assert run_app(app, arguments) == 2
    captured = capsys.readouterr()
    assert "takes no submissions as last known" in captured.out
    assert "video_id 77 is not a video of the dataset" in captured.out
    assert "1 problem found" in captured.err


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            ["--base-url", "http://codalab.lisn.upsaclay.fr"],
            "refusing plain http to codalab.lisn.upsaclay.fr",
        ),
        (["--competition-id", "0"], "--competition-id: expected a positive integer"),
        (["--description", "x" * 300], "at most 256 characters"),
    ],
)
def test_cli_bad_options_are_one_line(results_zip, home, capsys, extra, expected) -> None:
    assert run_app(app, ["upload", str(results_zip), "--competition", "ytvis19", *extra]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and expected in error


def test_cli_unknown_competition_and_non_zip_input(tmp_path, results_path, results_zip, home, capsys) -> None:
    assert run_app(app, ["upload", str(results_zip), "--competition", "coco"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: --competition: expected one of ytvis19, ytvis21, ytvis22, ovis,")
    assert error.endswith("got 'coco'")
    arguments = [
        "upload",
        str(results_path),
        "--competition",
        "ovis",
        "--competition-id",
        "4763",
        "--dry-run",
    ]
    assert run_app(app, arguments) == 2
    assert "expected a zip archive (make one with 'ifm-submit pack')" in capsys.readouterr().err


def test_cli_closed_competition_names_the_alternatives(results_zip, home, capsys) -> None:
    assert run_app(app, ["upload", str(results_zip), "--competition", "ovis"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert error.startswith("error: --competition ovis: competition 4763 on https://codalab.lisn.upsaclay.fr")
    assert "codalab/codalab-competitions#3624" in error
    assert "--server/--competition-id/--base-url" in error
    assert "'make prep'" in error and "'ifm-infer evaluate'" in error


def test_the_former_command_name_still_works(fake_codalab, results_zip, kit, home, monkeypatch) -> None:
    monkeypatch.setenv("CODALAB_USERNAME", kit.username)
    monkeypatch.setenv("CODALAB_PASSWORD", kit.password)
    assert run_app(app, _cli(fake_codalab, results_zip, command="codalab")) == 0
    assert len(fake_codalab.submissions) == 1


def test_cli_without_credentials_says_where_to_put_them(fake_codalab, results_zip, home, capsys) -> None:
    assert run_app(app, _cli(fake_codalab, results_zip)) == 2
    error = capsys.readouterr().err
    assert "no CodaLab credentials: set CODALAB_USERNAME and CODALAB_PASSWORD" in error
    assert fake_codalab.requests == []


PHASES = [
    PhaseInfo(101, 1, "Development", "2020-01-01", None),
    PhaseInfo(102, 2, "Validation", "2021-03-01", None),
    PhaseInfo(103, 3, "Test", "2031-01-01", None),
]


@pytest.mark.parametrize(
    ("requested", "expected"),
    [(None, 102), ("validation", 102), ("TEST", 103), ("103", 103), ("1", 101), ("555", 555)],
)
def test_phase_resolution(requested, expected) -> None:
    today = datetime.date(2024, 5, 1)
    assert resolve_phase(PHASES, requested, today).phase_id == expected


def test_phase_resolution_problems() -> None:
    with pytest.raises(UserError, match="no phase named 'final'"):
        resolve_phase(PHASES, "final")
    without_ids = [PhaseInfo(None, 1, "Development", "2020-01-01", True)]
    with pytest.raises(UserError, match="does not list the id of phase \\? 'Development'"):
        resolve_phase(without_ids, None)
    assert resolve_phase(None, "12638").phase_id == 12638
    with pytest.raises(UserError, match="pass the phase id with --phase ID"):
        resolve_phase(None, "Validation")
    two_open = [PhaseInfo(1, 1, "A", None, True), PhaseInfo(2, 2, "B", None, True)]
    with pytest.raises(UserError, match="cannot tell which phase is open"):
        resolve_phase(two_open, None)
    assert (
        resolve_phase([PhaseInfo(1, 1, "A", None, False), PhaseInfo(2, 2, "B", None, True)], None).phase_id
        == 2
    )


def test_submission_state_flags() -> None:
    assert SubmissionState(1, "finished").done and SubmissionState(1, "finished").finished
    assert SubmissionState(1, "cancelled").failed and not SubmissionState(1, "running").done


def test_phase_ids_come_from_the_competition_page(fake_codalab, kit) -> None:
    client = _client(fake_codalab.base_url, [])
    phases = client.phases(kit.competition_id)
    assert [(p.phase_id, p.label, p.number, p.is_active) for p in phases] == [
        (101, "Development", 1, False),
        (102, "Validation", 2, True),
    ]
    assert fake_codalab.paths("GET") == [
        f"/api/competition/{kit.competition_id}/phases/",
        "/competitions/4242",
    ]


def test_phase_ids_listed_by_the_api_need_no_page(fake_codalab, kit) -> None:
    fake_codalab.list_phase_ids = True
    phases = _client(fake_codalab.base_url, []).phases(kit.competition_id)
    assert [(p.phase_id, p.is_active) for p in phases] == [(101, False), (102, True)]
    assert fake_codalab.paths("GET") == [f"/api/competition/{kit.competition_id}/phases/"]


def test_an_expired_session_is_renewed_once(fake_codalab, results_zip, kit) -> None:
    fake_codalab.expire_sessions_on_create = True
    client = _client(fake_codalab.base_url, [])
    target = _target(fake_codalab.base_url, kit)
    state = submit_zip(client, target, summarize_zip(results_zip), _credentials(kit))
    final = wait_for_evaluation(client, target, state, poll_interval_s=0.0, sleep=lambda _: None)
    assert final.finished and final.scores == (("score (leaderboard default)", SCORE),)
    assert fake_codalab.paths("POST").count("/accounts/login/") == 2


def test_expired_credentials_are_one_line_and_leak_nothing(fake_codalab, results_zip, kit, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="instanceformer")
    fake_codalab.expire_sessions_on_create = True
    client = _client(fake_codalab.base_url, [])
    target = _target(fake_codalab.base_url, kit)
    state = submit_zip(client, target, summarize_zip(results_zip), _credentials(kit))
    fake_codalab.password = "changed-" + kit.password
    with pytest.raises(LoginError) as failure:
        client.submission_state(kit.competition_id, state.submission_id)
    message = str(failure.value)
    assert message == (
        f"{fake_codalab.base_url}/accounts/login/: the server did not accept the username and password "
        "from the test"
    )
    assert kit.password not in message
    assert all(kit.password not in record.getMessage() for record in caplog.records)


def test_an_account_not_yet_approved_uploads_nothing(fake_codalab, results_zip, kit) -> None:
    fake_codalab.participant_status = "pending"
    client = _client(fake_codalab.base_url, [])
    with pytest.raises(CodaLabError, match="participation is 'pending'; the organisers must approve it"):
        submit_zip(client, _target(fake_codalab.base_url, kit), summarize_zip(results_zip), _credentials(kit))
    assert fake_codalab.blobs == {}
    fake_codalab.participant_status = None
    with pytest.raises(CodaLabError, match="has not registered for competition 4242"):
        submit_zip(client, _target(fake_codalab.base_url, kit), summarize_zip(results_zip), _credentials(kit))


def test_a_5xx_storm_is_retried_a_bounded_number_of_times(fake_codalab, results_zip, kit) -> None:
    fake_codalab.failures["phases"] = [503] * 50
    sleeps: list[float] = []
    client = _client(fake_codalab.base_url, sleeps)
    with pytest.raises(ServerError, match=r"phases/: the server answered HTTP 503 after 3 attempts"):
        submit_zip(client, _target(fake_codalab.base_url, kit), summarize_zip(results_zip), _credentials(kit))
    assert fake_codalab.paths("GET").count(f"/api/competition/{kit.competition_id}/phases/") == 3
    assert sleeps == [0.5, 1.0]
    assert fake_codalab.blobs == {}


def test_a_score_off_the_leaderboard_is_not_invented(
    fake_codalab, results_zip, kit, home, monkeypatch, capsys
) -> None:
    fake_codalab.on_leaderboard = False
    monkeypatch.setenv("CODALAB_USERNAME", kit.username)
    monkeypatch.setenv("CODALAB_PASSWORD", kit.password)
    assert run_app(app, [*_cli(fake_codalab, results_zip), "--wait"]) == 0
    output = capsys.readouterr().out
    assert "not given to the API (not on the leaderboard?)" in output
    assert f"{SCORE:g}" not in output
