"""Reading the phase ids out of a CodaLab competition page (see :mod:`instanceformer.submit.endpoints`).

The page has a button per phase, in phase order: ``<button id="results_phase_<id>" class="... active
...">Label</button>`` in the Results tab (``active`` when the phase is active) and, for approved
participants, ``<button id="submissions_phase_<id>" ...>`` in the Participate tab (``active`` on the
phase open now).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

_BUTTON_ID = re.compile(r"^(results|submissions)_phase_(\d+)$")


@dataclass(frozen=True)
class PagePhase:
    """A phase button of the page: the phase id, its label and whether it is marked active."""

    phase_id: int
    label: str
    active: bool


class _PhaseButtonParser(HTMLParser):
    """Collects the phase buttons of both tabs, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.buttons: dict[str, list[PagePhase]] = {"results": [], "submissions": []}
        self._open: tuple[str, int, bool] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "button":
            return
        attributes = dict(attrs)
        match = _BUTTON_ID.match(attributes.get("id") or "")
        if match is None:
            return
        classes = (attributes.get("class") or "").split()
        self._open = (match.group(1), int(match.group(2)), "active" in classes)
        self._text = []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != "button" or self._open is None:
            return
        tab, phase_id, active = self._open
        self.buttons[tab].append(PagePhase(phase_id, " ".join("".join(self._text).split()), active))
        self._open = None


def find_page_phases(html: str) -> list[PagePhase]:
    """The phases of a competition page in phase order (the Results tab's buttons when present).

    A phase listed only in the Participate tab is kept; there ``active`` marks the phase open now.
    """
    parser = _PhaseButtonParser()
    parser.feed(html)
    parser.close()
    phases = list(parser.buttons["results"])
    known = {phase.phase_id for phase in phases}
    phases.extend(phase for phase in parser.buttons["submissions"] if phase.phase_id not in known)
    return phases
