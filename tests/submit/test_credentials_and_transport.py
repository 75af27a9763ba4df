"""Credentials from the environment or ~/.netrc, URL rules, retry delays and the CSRF form parser."""

from __future__ import annotations

from email.message import Message

import pytest
from hypothesis import given
from hypothesis import strategies as st

from instanceformer.core.errors import UserError
from instanceformer.submit.credentials import (
    CODABENCH_NAMES,
    SOURCE_ENVIRONMENT,
    credentials_source,
    find_credentials,
)
from instanceformer.submit.login_form import find_csrf_token
from instanceformer.submit.retry import RetryPolicy, parse_retry_after
from instanceformer.submit.transport import HttpResponse, check_url, is_loopback_host, one_line, redact_url

HOST = "codalab.example.org"


def _write_netrc(home, text: str, mode: int = 0o600):
    path = home / ".netrc"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_environment_credentials_come_first_and_hide_in_repr(home, kit) -> None:
    _write_netrc(home, f"machine {HOST} login other password other-secret\n")
    environ = {"CODALAB_USERNAME": kit.username, "CODALAB_PASSWORD": kit.password}
    credentials = find_credentials(HOST, environ)
    assert (credentials.username, credentials.password) == (kit.username, kit.password)
    assert credentials.source == SOURCE_ENVIRONMENT
    assert kit.password not in repr(credentials)
    assert kit.username not in repr(credentials)
    assert kit.password not in str(credentials)


def test_only_one_environment_variable_is_an_error(home, kit) -> None:
    with pytest.raises(UserError, match="CODALAB_PASSWORD is not set"):
        find_credentials(HOST, {"CODALAB_USERNAME": kit.username})


def test_netrc_machine_entry_and_default_entry(home, kit) -> None:
    path = _write_netrc(
        home,
        f"machine elsewhere.org login nobody password nothing\nmachine {HOST}\n  login {kit.username}\n"
        f"  password {kit.password}\ndefault login fallback password fallback-secret\n",
    )
    credentials = find_credentials(HOST, {})
    assert (credentials.username, credentials.password) == (kit.username, kit.password)
    assert credentials.source == f"{path} (machine {HOST})"
    assert find_credentials("third.org", {}).username == "fallback"
    assert credentials_source(HOST, {}) == f"{path} (machine {HOST})"


def test_missing_credentials_name_both_ways(home) -> None:
    with pytest.raises(
        UserError, match=r"set CODALAB_USERNAME and CODALAB_PASSWORD, or add 'machine"
    ) as failure:
        find_credentials(HOST, {})
    assert str(home / ".netrc") in str(failure.value)
    assert credentials_source(HOST, {}) is None


def test_netrc_readable_by_others_is_refused(home, kit) -> None:
    _write_netrc(home, f"machine {HOST} login {kit.username} password {kit.password}\n", mode=0o644)
    with pytest.raises(UserError, match="chmod 600") as failure:
        find_credentials(HOST, {})
    assert kit.password not in str(failure.value)


def test_a_malformed_netrc_does_not_echo_its_content(home, kit) -> None:
    _write_netrc(home, f"machine {HOST} login {kit.username} password\n{kit.password} junk tokens\n")
    with pytest.raises(UserError, match="cannot be read as a netrc file") as failure:
        find_credentials(HOST, {})
    assert kit.password not in str(failure.value)


@pytest.mark.parametrize(
    "url",
    ["https://codalab.lisn.upsaclay.fr", "http://127.0.0.1:8000", "http://localhost/x", "http://[::1]:9/"],
)
def test_https_and_loopback_http_are_accepted(url) -> None:
    assert check_url(url, "--base-url") == url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://codalab.lisn.upsaclay.fr", "refusing plain http to codalab.lisn.upsaclay.fr"),
        ("http://10.0.0.1:8000", "refusing plain http to 10.0.0.1"),
        ("ftp://127.0.0.1/", "expected an http(s) URL, got the scheme 'ftp'"),
        ("codalab.lisn.upsaclay.fr", "expected an absolute http(s) URL"),
    ],
)
def test_other_urls_are_refused(url, expected) -> None:
    with pytest.raises(UserError) as failure:
        check_url(url, "--base-url")
    assert expected in str(failure.value)


def test_loopback_hosts_and_redaction() -> None:
    assert is_loopback_host("127.8.9.1") and is_loopback_host("::1") and is_loopback_host("LOCALHOST")
    assert not is_loopback_host("127.0.0.1.example.org") and not is_loopback_host(None)
    assert (
        redact_url("https://s3.host/bucket/key.zip?X-Amz-Signature=abc#f") == "https://s3.host/bucket/key.zip"
    )
    assert one_line("a\n  secret\tb", ["secret"]) == "a *** b"


@given(
    attempts=st.integers(1, 8),
    base=st.floats(0.0, 5.0, allow_nan=False),
    cap=st.floats(0.0, 60.0, allow_nan=False),
    retry_after=st.none() | st.floats(0.0, 120.0, allow_nan=False),
)
def test_backoff_grows_and_stays_bounded(attempts, base, cap, retry_after) -> None:
    policy = RetryPolicy(attempts=attempts, base_delay_s=base, max_delay_s=cap)
    delays = [policy.delay_s(index) for index in range(attempts)]
    assert all(0.0 <= delay <= cap for delay in delays)
    assert delays == sorted(delays)
    assert delays[0] == min(cap, base)
    honoured = policy.delay_s(0, retry_after)
    assert min(cap, base) <= honoured <= cap
    if retry_after is not None:
        assert honoured == min(cap, max(min(cap, base), retry_after))


def test_retry_policy_and_retry_after_parsing() -> None:
    assert [RetryPolicy(base_delay_s=1.0, max_delay_s=5.0).delay_s(i) for i in range(4)] == [
        1.0,
        2.0,
        4.0,
        5.0,
    ]
    with pytest.raises(UserError, match="at least 1 attempt"):
        RetryPolicy(attempts=0)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    "html",
    [
        '<form><input type="hidden" name="csrfmiddlewaretoken" value="tok123"></form>',
        "<form><input value='tok123' type='hidden' name='csrfmiddlewaretoken'/></form>",
        '<div><input name="login"><INPUT NAME="csrfmiddlewaretoken" VALUE="tok123"></div>',
    ],
)
def test_csrf_token_is_found_whatever_the_attribute_order(html) -> None:
    assert find_csrf_token(html) == "tok123"


def test_no_csrf_token_in_a_page_without_the_field() -> None:
    assert find_csrf_token("<html><body><input name='login'></body></html>") is None


def test_codabench_credentials_have_their_own_variables(home, kit) -> None:
    environ = {"CODALAB_USERNAME": "lab-user", "CODALAB_PASSWORD": "lab-secret"}
    with pytest.raises(
        UserError, match="no Codabench credentials: set CODABENCH_USERNAME and CODABENCH_PASSWORD"
    ):
        find_credentials(HOST, environ, CODABENCH_NAMES)
    environ.update(CODABENCH_USERNAME=kit.username, CODABENCH_PASSWORD=kit.password)
    credentials = find_credentials(HOST, environ, CODABENCH_NAMES)
    assert (credentials.username, credentials.password) == (kit.username, kit.password)
    assert credentials.source == "the environment variables CODABENCH_USERNAME and CODABENCH_PASSWORD"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"detail": "Invalid token."}', "Invalid token."),
        (
            b'{"non_field_errors": ["Unable to log in with provided credentials."]}',
            "Unable to log in with provided credentials.",
        ),
        (
            b'{"data_file": ["Insufficient space."], "file_size": "This field is required."}',
            "data_file: Insufficient space.; file_size: This field is required.",
        ),
        (b'{"error_msg": "Detailed results are disabled"}', "Detailed results are disabled"),
        (b'"Not on the leaderboard"', "Not on the leaderboard"),
        (b"<html>502 Bad Gateway</html>", None),
        (b"{}", None),
    ],
)
def test_server_messages_are_read_out_of_error_bodies(body, expected) -> None:
    response = HttpResponse(400, Message(), body, "https://example.org/api/x")
    assert response.detail() == expected
