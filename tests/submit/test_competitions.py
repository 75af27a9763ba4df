"""The competitions table (every id with its sources), closed-competition errors and ``--check``."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from instanceformer.core.cli import run_app
from instanceformer.core.errors import UserError
from instanceformer.submit import competitions as competitions_module
from instanceformer.submit.availability import CheckResult, check_competitions, check_summary
from instanceformer.submit.cli import app
from instanceformer.submit.competitions import COMPETITIONS, Competition, get_competition, require_open

EXPECTED_IDS = {
    "ytvis19": ("codalab", "https://codalab.lisn.upsaclay.fr", 6064),
    "ytvis21": ("codalab", "https://codalab.lisn.upsaclay.fr", 7680),
    "ytvis22": ("codalab", "https://codalab.lisn.upsaclay.fr", 3410),
    "ovis": ("codalab", "https://codalab.lisn.upsaclay.fr", 4763),
    "ovis-challenge22": ("codalab", "https://codalab.lisn.upsaclay.fr", 5857),
    "ovis-legacy": ("codalab", "https://competitions.codalab.org", 32377),
    "ytvis21-legacy": ("codalab", "https://competitions.codalab.org", 28988),
    "ytvis19-legacy": ("codalab", "https://competitions.codalab.org", 20128),
}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_every_entry_has_its_sources_and_a_last_known_state() -> None:
    assert {key: (c.server, c.base_url, c.competition_id) for key, c in COMPETITIONS.items()} == EXPECTED_IDS
    for competition in COMPETITIONS.values():
        assert competition.sources, competition.key
        assert all(len(source) > 20 for source in competition.sources)
        assert competition.accepts_submissions is False
        assert competition.last_known.startswith("no: ")
        assert all(phase.source for phase in competition.phases)
    assert [phase.phase_id for phase in COMPETITIONS["ytvis21"].phases] == [12638]
    assert get_competition("ytvis21").page_url() == "https://codalab.lisn.upsaclay.fr/competitions/7680"


def test_an_unknown_key_lists_the_known_ones() -> None:
    with pytest.raises(UserError, match="--competition: expected one of ytvis19, ytvis21, .*got 'ytvis2019'"):
        get_competition("ytvis2019")


def test_a_closed_competition_names_an_open_alternative(monkeypatch) -> None:
    reopened = replace(
        COMPETITIONS["ovis-challenge22"], key="ovis-bench", server="codabench", accepts_submissions=True
    )
    monkeypatch.setitem(COMPETITIONS, "ovis-bench", reopened)
    with pytest.raises(UserError) as failure:
        require_open(COMPETITIONS["ovis"])
    message = str(failure.value)
    assert "try --competition ovis-bench," in message
    assert "\n" not in message
    require_open(reopened)


def test_the_command_prints_ids_sources_and_says_it_did_not_check(home, capsys) -> None:
    assert run_app(app, ["competitions"]) == 0
    output = capsys.readouterr().out
    for fragment in (
        "6064",
        "7680",
        "3410",
        "4763",
        "5857",
        "32377",
        "12638",
        "not verified",
        "ychfan/youtube-vos.org _pages/dataset/vis.md",
        "zhang-tao-whu/DVIS#24",
        "wjf5203/VNext projects/IDOL/IDOL.md",
        "codalab/codalab-competitions#3624",
        "not checked against the servers: add --check",
    ):
        assert fragment in output


def _entry(key: str, server: str, base_url: str, competition_id: int) -> Competition:
    return Competition(
        key,
        "ovis",
        key,
        server,
        base_url,
        competition_id,
        sources=("a test",),
        accepts_submissions=None,
        last_known="unknown",
    )


def test_check_asks_each_server_and_tells_what_it_found(
    fake_codalab, fake_codabench, kit, home, monkeypatch, capsys
) -> None:
    entries = {
        "lab": _entry("lab", "codalab", fake_codalab.base_url, kit.competition_id),
        "bench": _entry("bench", "codabench", fake_codabench.base_url, kit.codabench_competition_id),
        "down": _entry("down", "codalab", f"http://127.0.0.1:{_closed_port()}", 1),
    }
    monkeypatch.setattr(competitions_module, "COMPETITIONS", entries)
    assert run_app(app, ["competitions", "--check", "--timeout", "5"]) == 0
    output = capsys.readouterr().out
    assert "2 of 3 reachable, 2 with a phase open by its schedule; the rest were not checked" in output
    assert "not checked: connection refused" in output
    results = {result.competition.key: result for result in check_competitions(list(entries.values()), 5.0)}
    assert results["lab"].open_phases == ("Validation",)
    assert results["bench"].open_phases == ("Validation",)
    assert results["down"].open_phases is None and results["down"].problem == "connection refused"
    assert all(request.method == "GET" for request in fake_codalab.requests + fake_codabench.requests)
    assert not any("cookie" in r.headers or "authorization" in r.headers for r in fake_codabench.requests)


def test_check_offline_says_it_could_not_check(home, monkeypatch, capsys) -> None:
    port = _closed_port()
    entries = {key: _entry(key, "codalab", f"http://127.0.0.1:{port}", 7) for key in ("a", "b")}
    monkeypatch.setattr(competitions_module, "COMPETITIONS", entries)
    assert run_app(app, ["competitions", "--check"]) == 0
    output = " ".join(capsys.readouterr().out.split())
    assert "could not check: no server answered for any of the 2 competitions (no network access?)" in output
    assert "not verified" in output


def test_check_summary_when_everything_answers() -> None:
    entry = _entry("x", "codalab", "https://example.org", 1)
    assert check_competitions([], 1.0) == []
    assert check_summary([CheckResult(entry, ()), CheckResult(entry, ("Test",))]) == (
        "all 2 reachable, 1 with a phase open by its schedule"
    )
