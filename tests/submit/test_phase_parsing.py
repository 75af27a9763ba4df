"""Phases of CodaLab v1 (schedule rule, page buttons) and Codabench (status) as the clients read them."""

from __future__ import annotations

import datetime

from instanceformer.submit.codabench import parse_competition_phases, parse_scores
from instanceformer.submit.codalab import merge_page_phases, parse_phases
from instanceformer.submit.phase_page import PagePhase, find_page_phases
from instanceformer.submit.phase_schedule import ScheduledPhase, active_flags, parse_day
from instanceformer.submit.server_protocol import PhaseInfo

DAY = datetime.date


def test_the_schedule_rule_of_codalab_v1() -> None:
    phases = [
        ScheduledPhase(1, DAY(2020, 1, 1)),
        ScheduledPhase(2, DAY(2021, 1, 1)),
        ScheduledPhase(3, DAY(2022, 1, 1)),
    ]
    assert active_flags(phases, None, DAY(2019, 6, 1)) == [False, False, False]
    assert active_flags(phases, None, DAY(2020, 6, 1)) == [True, False, False]
    assert active_flags(phases, None, DAY(2021, 1, 1)) == [False, True, False]
    assert active_flags(phases, None, DAY(2030, 1, 1)) == [False, False, True]
    assert active_flags(phases, DAY(2023, 1, 1), DAY(2030, 1, 1)) == [False, False, False]
    never_ends = [ScheduledPhase(1, DAY(2020, 1, 1), never_ends=True), ScheduledPhase(2, DAY(2021, 1, 1))]
    assert active_flags(never_ends, None, DAY(2030, 1, 1)) == [True, True]
    assert active_flags([ScheduledPhase(None, None)], None, DAY(2030, 1, 1)) == [None]
    assert parse_day("2021-03-04T10:00:00Z") == DAY(2021, 3, 4)
    assert parse_day("soon") is None and parse_day(None) is None


def test_the_phase_list_as_codalab_v1_serializes_it() -> None:
    payload = [
        {
            "end_date": "2026-01-01",
            "phases": [
                {
                    "phasenumber": 1,
                    "label": "Development",
                    "start_date": "2021-01-01",
                    "phase_never_ends": False,
                },
                {"phasenumber": 2, "label": "Test", "start_date": "2022-05-15", "phase_never_ends": False},
            ],
        }
    ]
    phases = parse_phases(payload, "here", today=DAY(2022, 1, 1))
    assert phases == [
        PhaseInfo(None, 1, "Development", "2021-01-01", True),
        PhaseInfo(None, 2, "Test", "2022-05-15", False),
    ]
    assert [phase.is_active for phase in parse_phases(payload, "here", today=DAY(2026, 2, 1))] == [
        False,
        False,
    ]


def test_phase_buttons_of_the_competition_page() -> None:
    html = """<div id="submissions_phase_buttons">
      <button class="btn active phase-btn-white btn-sm" id="submissions_phase_12638">Development</button>
      <button class="btn phase-btn-blue btn-sm" id="submissions_phase_12639">Test &amp; final</button></div>
    <div id="results_phase_buttons">
      <button class="btn active phase-btn-white" id="results_phase_12638">
          Development
      </button>
      <button class="btn phase-btn-blue" id="results_phase_12639">Test &amp; final</button>
      <button class="btn" id="other_button">Not a phase</button></div>"""
    assert find_page_phases(html) == [
        PagePhase(12638, "Development", True),
        PagePhase(12639, "Test & final", False),
    ]
    participate_only = '<button class="btn active" id="submissions_phase_9134">Validation</button>'
    assert find_page_phases(participate_only) == [PagePhase(9134, "Validation", True)]
    assert find_page_phases("<html><body>Sign in</body></html>") == []


def test_page_ids_are_matched_by_label_then_by_place() -> None:
    listed = [PhaseInfo(None, 1, "Development", None, None), PhaseInfo(None, 2, "Test", None, None)]
    by_label = [PagePhase(8, "test", True), PagePhase(7, "development", False)]
    assert [(p.phase_id, p.is_active) for p in merge_page_phases(listed, by_label)] == [(7, False), (8, True)]
    by_place = [PagePhase(5, "Dev", False), PagePhase(6, "Final", True)]
    assert [(p.phase_id, p.label) for p in merge_page_phases(listed, by_place)] == [
        (5, "Development"),
        (6, "Test"),
    ]
    assert merge_page_phases(listed, [PagePhase(5, "Other", True)]) == listed


def test_codabench_phases_and_scores() -> None:
    payload = {
        "phases": [
            {"id": 1, "index": 0, "name": "Dev", "start": "2024-01-01T00:00:00Z", "status": "Previous"},
            {"id": 2, "index": 1, "name": "Final", "start": "2024-06-01T00:00:00Z", "status": "Current"},
            {"id": 3, "index": 2, "name": "Later", "start": "2031-01-01T00:00:00Z"},
        ]
    }
    assert [(p.phase_id, p.label, p.is_active) for p in parse_competition_phases(payload, "here")] == [
        (1, "Dev", False),
        (2, "Final", True),
        (3, "Later", None),
    ]
    raw = [
        {"column_key": "AP", "score": "0.4375000000"},
        {"column_key": "AR1", "score": 0.25},
        {"column_key": "bad", "score": "n/a"},
        "junk",
    ]
    assert parse_scores(raw) == (("AP", 0.4375), ("AR1", 0.25))
    assert parse_scores(None) == ()
