"""The CodaLab competitions that evaluate the datasets the toolkit supports.

The ids are those the public evaluation pages use; users override the id and the server with
``--competition-id`` and ``--base-url`` when a challenge moves (CodaLab competitions are re-created
each year and the old ``competitions.codalab.org`` server has been replaced by
``codalab.lisn.upsaclay.fr``).
"""

from __future__ import annotations

from dataclasses import dataclass

from instanceformer.core.errors import UserError

LISN_SERVER = "https://codalab.lisn.upsaclay.fr"
LEGACY_SERVER = "https://competitions.codalab.org"


@dataclass(frozen=True)
class KnownPhase:
    """A phase of a competition whose id was seen in public material (``label`` when known)."""

    phase_id: int
    label: str | None = None


@dataclass(frozen=True)
class Competition:
    """One evaluation server entry: the dataset key, the competition id and the server it runs on."""

    key: str
    title: str
    competition_id: int
    base_url: str
    phases: tuple[KnownPhase, ...] = ()
    note: str = ""

    def page_url(self, competition_id: int | None = None, base_url: str | None = None) -> str:
        """The competition's web page (submissions are listed under its "Participate" tab)."""
        server = (base_url or self.base_url).rstrip("/")
        return f"{server}/competitions/{competition_id or self.competition_id}"


COMPETITIONS: dict[str, Competition] = {
    competition.key: competition
    for competition in (
        Competition("ytvis19", "YouTube-VIS 2019", 6064, LISN_SERVER),
        Competition(
            "ytvis21",
            "YouTube-VIS 2021",
            7680,
            LISN_SERVER,
            phases=(KnownPhase(12638),),
            note="phase 12638 appears in public submission scripts",
        ),
        Competition(
            "ytvis22", "YouTube-VIS 2022", 3410, LISN_SERVER, note="AP = mean of short and long videos"
        ),
        Competition(
            "ovis",
            "OVIS",
            32377,
            LEGACY_SERVER,
            note="older server; newer OVIS pages on codalab.lisn.upsaclay.fr use ids 4763 and 5857",
        ),
    )
}


def get_competition(key: str) -> Competition:
    """The competition of dataset ``key`` (UserError listing the known keys otherwise)."""
    try:
        return COMPETITIONS[key]
    except KeyError:
        known = ", ".join(COMPETITIONS)
        raise UserError(f"--competition: expected one of {known}, got {key!r}") from None
