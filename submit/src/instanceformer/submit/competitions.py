"""The evaluation-server competitions of the datasets the toolkit supports, each with its sources.

Every id below is as cited by the public material named in its ``sources``; none was verified against a
live server. ``accepts_submissions`` is the last state those sources report (``None``: unknown).
``ifm-submit competitions --check`` asks the servers; ``--server``, ``--competition-id`` and
``--base-url`` override an entry when a challenge moves.

What the sources say about the servers themselves:

- competitions.codalab.org stopped taking new submissions in 2022 (codalab/codalab-competitions#3221:
  YouTube-VIS 2021, competition 28988, "not allowed to submit results on the old website").
- codalab.lisn.upsaclay.fr disabled submissions server-wide on 2026-01-20 (codalab/codalab-competitions
  #3624, "we have disabled submissions today"; #3625 and #3627 quote the front page: "Submissions will
  be disabled at the end of year (December 31, 2025)"; #3642 and #3643: "CodaLab has been phased out",
  use Codabench). The answer to a submission is then HTTP 403 "Submissions have been disabled by
  admins" (codalab-competitions apps/web/models.py, CompetitionSubmission.save).
- No Codabench competition for YouTube-VIS or OVIS was found in public material; organisers may migrate
  theirs (the Codabench documentation page "How to transition from CodaLab to Codabench").
"""

from __future__ import annotations

from dataclasses import dataclass

from instanceformer.core.errors import UserError
from instanceformer.submit.server_protocol import CODABENCH, CODALAB

LISN_SERVER = "https://codalab.lisn.upsaclay.fr"
LEGACY_SERVER = "https://competitions.codalab.org"
CODABENCH_SERVER = "https://www.codabench.org"
DEFAULT_BASE_URLS = {CODALAB: LISN_SERVER, CODABENCH: CODABENCH_SERVER}

_YTVIS_PAGE = (
    "https://youtube-vos.org/dataset/vis/ (ychfan/youtube-vos.org _pages/dataset/vis.md): "
    "evaluation servers 2022 -> lisn 3410, 2021 -> lisn 7680 (was 28988), 2019 -> lisn 6064 (was 20128)"
)
_LISN_CLOSED = (
    "no: codalab.lisn.upsaclay.fr disabled submissions server-wide on 2026-01-20 "
    "(codalab/codalab-competitions#3624, #3642, #3643)"
)
_LEGACY_CLOSED = (
    "no: competitions.codalab.org stopped taking submissions in 2022 (codalab/codalab-competitions#3221)"
)


@dataclass(frozen=True)
class KnownPhase:
    """A phase whose id was seen in public material (``label`` when the material names it)."""

    phase_id: int
    label: str | None = None
    source: str = ""


@dataclass(frozen=True)
class Competition:
    """One competition: the dataset it scores, the server it runs on and where its id comes from."""

    key: str
    dataset: str
    title: str
    server: str
    base_url: str
    competition_id: int
    sources: tuple[str, ...]
    accepts_submissions: bool | None
    last_known: str
    phases: tuple[KnownPhase, ...] = ()
    note: str = ""

    def page_url(self, competition_id: int | None = None, base_url: str | None = None) -> str:
        """The competition's web page (submissions and scores are listed there)."""
        server = (base_url or self.base_url).rstrip("/")
        tail = "/" if self.server == CODABENCH else ""
        return f"{server}/competitions/{competition_id or self.competition_id}{tail}"


COMPETITIONS: dict[str, Competition] = {
    competition.key: competition
    for competition in (
        Competition(
            "ytvis19",
            "ytvis19",
            "YouTube-VIS 2019",
            CODALAB,
            LISN_SERVER,
            6064,
            sources=(_YTVIS_PAGE,),
            accepts_submissions=False,
            last_known=_LISN_CLOSED,
            phases=(
                KnownPhase(
                    9134,
                    source="ldknight/PM-VIS-plus SubmitRes21.py (reads /competitions/6064/submissions/9134)",
                ),
            ),
        ),
        Competition(
            "ytvis21",
            "ytvis21",
            "YouTube-VIS 2021",
            CODALAB,
            LISN_SERVER,
            7680,
            sources=(
                _YTVIS_PAGE,
                "zhang-tao-whu/DVIS#29 (2024-03-01): maintainer points to competitions/7680",
            ),
            accepts_submissions=False,
            last_known=_LISN_CLOSED,
            phases=(
                KnownPhase(
                    12638,
                    source="ldknight/PM-VIS-plus SubmitRes21.py (phase_id of its POST to competition 7680)",
                ),
            ),
        ),
        Competition(
            "ytvis22",
            "ytvis22",
            "YouTube-VIS 2022",
            CODALAB,
            LISN_SERVER,
            3410,
            sources=(
                _YTVIS_PAGE,
                "ychfan/youtube-vos.org _pages/challenge/2022/index.md: Track 2 (VIS) submission server",
            ),
            accepts_submissions=False,
            last_known=_LISN_CLOSED,
            note="AP = mean of short and long videos",
        ),
        Competition(
            "ovis",
            "ovis",
            "OVIS",
            CODALAB,
            LISN_SERVER,
            4763,
            sources=(
                "wjf5203/VNext projects/IDOL/IDOL.md: 'server for OVIS' -> lisn competitions/4763",
                "zhang-tao-whu/DVIS#24 (2023-11-21): maintainer points to 4763#participate-submit_results",
            ),
            accepts_submissions=False,
            last_known=_LISN_CLOSED,
        ),
        Competition(
            "ovis-challenge22",
            "ovis",
            "OVIS (2nd challenge, ECCV 2022)",
            CODALAB,
            LISN_SERVER,
            5857,
            sources=(
                "codalab/codalab-competitions#3578 (2025-07): 'The 2nd OVIS Challenge in conjunction with "
                "ECCV 2022', competitions/5857, scoring again after a worker fix on 2025-07-12",
            ),
            accepts_submissions=False,
            last_known=_LISN_CLOSED,
        ),
        Competition(
            "ovis-legacy",
            "ovis",
            "OVIS (old server)",
            CODALAB,
            LEGACY_SERVER,
            32377,
            sources=(
                "qjy981010/CMaskTrack-RCNN README.md (OVIS authors): 'upload the generated result to "
                "codalab server' -> competitions.codalab.org/competitions/32377",
                "rajatkoner08/InstanceFormer util/server_process.py: OVIS -> 32377 (opened on the lisn host)",
            ),
            accepts_submissions=False,
            last_known=_LEGACY_CLOSED,
        ),
        Competition(
            "ytvis21-legacy",
            "ytvis21",
            "YouTube-VIS 2021 (old server)",
            CODALAB,
            LEGACY_SERVER,
            28988,
            sources=(_YTVIS_PAGE, "codalab/codalab-competitions#3221 (2022-09) names 28988"),
            accepts_submissions=False,
            last_known=_LEGACY_CLOSED,
        ),
        Competition(
            "ytvis19-legacy",
            "ytvis19",
            "YouTube-VIS 2019 (old server)",
            CODALAB,
            LEGACY_SERVER,
            20128,
            sources=(_YTVIS_PAGE,),
            accepts_submissions=False,
            last_known=_LEGACY_CLOSED,
        ),
    )
}

LOCAL_EVALUATION_HINT = (
    "or score locally: 'make prep' splits a held-out set off the training videos and "
    "'ifm-infer evaluate' computes the same metrics"
)


def get_competition(key: str) -> Competition:
    """The competition of ``key`` (UserError listing the known keys otherwise)."""
    try:
        return COMPETITIONS[key]
    except KeyError:
        known = ", ".join(COMPETITIONS)
        raise UserError(f"--competition: expected one of {known}, got {key!r}") from None


def alternatives(competition: Competition) -> list[Competition]:
    """The other entries for the same dataset that took submissions as last known."""
    return [
        other
        for other in COMPETITIONS.values()
        if other.dataset == competition.dataset and other.key != competition.key and other.accepts_submissions
    ]


def require_open(competition: Competition) -> None:
    """UserError naming the alternatives when ``competition`` took no submissions as last known."""
    if competition.accepts_submissions is not False:
        return
    others = ", ".join(f"--competition {other.key}" for other in alternatives(competition))
    instead = f"try {others}, " if others else "no other known server scores it; "
    raise UserError(
        f"--competition {competition.key}: competition {competition.competition_id} on "
        f"{competition.base_url} takes no submissions as last known ({competition.last_known}); {instead}"
        "pass --server/--competition-id/--base-url of an open competition, "
        f"{LOCAL_EVALUATION_HINT} (see 'ifm-submit competitions')"
    )
