"""The CodaLab Competitions (v1.x) endpoints a submission goes through, relative to the server's root.

Paths and fields as the codalab/codalab-competitions source defines them (codalab/codalab/urls.py mounts
``accounts/`` (django-allauth) and ``api/`` (apps/api/routers.py); the views are in
apps/api/views/competition_views.py, apps/web/urls/*.py and apps/web/views.py):

1. ``GET /accounts/login/``: the sign-in form; it sets the ``csrftoken`` cookie and holds the hidden
   ``csrfmiddlewaretoken`` field.
2. ``POST /accounts/login/`` with ``login``, ``password`` and ``csrfmiddlewaretoken``: a redirect and a
   ``sessionid`` cookie on success; the form again (status 200) when the credentials are wrong.
3. ``GET /api/competition/<id>/phases/`` (``competitionphase_list``): ``[{"end_date", "phases": [...]}]``;
   a phase has ``phasenumber``, ``label``, ``start_date`` (``YYYY-MM-DD``) and ``phase_never_ends``
   but neither its id nor whether it is active (``PhaseSerial``).
4. ``GET /competitions/<id>``: the competition page; its phase buttons carry the ids
   (``id="results_phase_<phase id>"``, class ``active`` when the phase is active; for approved
   participants also ``id="submissions_phase_<phase id>"``), in ``phasenumber`` order.
5. ``GET /api/competition/<id>/mystatus/`` (``CompetitionAPIViewSet.mystatus``): ``{"status",
   "reason"}`` of the account's participation (``approved``, ``pending``, ``denied``); HTTP 400 with
   ``{"status": null}`` when the account has not registered.
6. ``POST /api/competition/<id>/submission/sas`` (``CompetitionSubmissionSasApi``): an upload slot
   ``{"url", "id"}`` (status 201): a pre-signed storage URL (S3 ``PUT`` or Azure blob) and the tracking
   id (the blob's name).
7. ``PUT <url>`` with the zip's bytes: the upload itself, to the storage server (no cookies).
8. ``POST /api/competition/<id>/submission?description=...&phase_id=...`` with the form field ``id``
   (the tracking id): creates the submission (status 201, ``{"id", "status", "submission_number"}``).
   Refusals are 403 ``{"detail": ...}``: "Competition phase is closed.", "... being migrated ...",
   "The maximum number of submissions has been reached.", "Submissions have been disabled by
   admins", or no detail for an account that is not an approved participant.
9. ``GET /api/competition/<id>/submission/<submission id>``: ``status`` (``submitting``,
   ``submitted``, ``running``, ``finished``, ``failed`` or ``cancelled``), ``status_details`` and
   ``exception_details``.
10. ``GET /api/submission/<submission id>/get_score`` (``SubmissionScoreView``): ``{"score", "status",
    "logs"}`` with the default leaderboard score, only for a submission on the leaderboard (404 else).
11. ``GET /my/competition/submission/<submission id>/stderr.txt``: the scoring program's error output,
    directly or as a redirect to a pre-signed storage URL (``MyCompetitionSubmissionOutput``).

Every POST to the API carries the session cookie, the ``X-CSRFToken`` header (the value of the
``csrftoken`` cookie) and a same-origin ``Referer``, as the site's own pages do.
"""

from __future__ import annotations

from urllib.parse import urlencode

LOGIN_PATH = "/accounts/login/"


def phases_path(competition_id: int) -> str:
    """The phase list of a competition."""
    return f"/api/competition/{competition_id}/phases/"


def participation_path(competition_id: int) -> str:
    """The signed-in account's participation in a competition (``mystatus``)."""
    return f"/api/competition/{competition_id}/mystatus/"


def upload_slot_path(competition_id: int) -> str:
    """The endpoint that hands out a pre-signed upload URL for a submission zip."""
    return f"/api/competition/{competition_id}/submission/sas"


def create_submission_path(competition_id: int, phase_id: int, description: str) -> str:
    """The endpoint that turns an uploaded blob into a submission to ``phase_id``."""
    query = urlencode({"description": description, "phase_id": phase_id})
    return f"/api/competition/{competition_id}/submission?{query}"


def submission_path(competition_id: int, submission_id: int) -> str:
    """One submission of the logged-in participant."""
    return f"/api/competition/{competition_id}/submission/{submission_id}"


def score_path(submission_id: int) -> str:
    """The default leaderboard score of one of the participant's submissions."""
    return f"/api/submission/{submission_id}/get_score"


def stderr_path(submission_id: int) -> str:
    """The scoring program's error output of one of the participant's submissions."""
    return f"/my/competition/submission/{submission_id}/stderr.txt"


def submit_page_path(competition_id: int) -> str:
    """The competition's page: phase ids, and the Participate tab (also used as the Referer)."""
    return f"/competitions/{competition_id}"
