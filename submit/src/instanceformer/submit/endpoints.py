"""The CodaLab Competitions web endpoints a submission goes through, relative to the server's root.

1. ``GET /accounts/login/``: the sign-in form; it sets the ``csrftoken`` cookie and holds the hidden
   ``csrfmiddlewaretoken`` field.
2. ``POST /accounts/login/`` with ``login``, ``password`` and ``csrfmiddlewaretoken``: a redirect and a
   ``sessionid`` cookie on success; the form again (status 200) when the credentials are wrong.
3. ``GET /api/competition/<id>/phases/``: a one-element list ``[{"end_date", "phases": [...]}]``.
4. ``POST /api/competition/<id>/submission/sas``: an upload slot ``{"url", "id"}`` (status 201): a
   pre-signed storage URL and the tracking id of the blob to create there.
5. ``PUT <url>`` with the zip's bytes: the upload itself, to the storage server (no cookies).
6. ``POST /api/competition/<id>/submission?description=...&phase_id=...`` with the form fields ``id``
   (the tracking id), ``name``, ``type`` and ``size``: creates the submission (status 201); a closed
   phase or a used-up quota answers 403 with ``{"detail": ...}``.
7. ``GET /api/competition/<id>/submission/<submission id>``: the submission's ``status``
   (``submitting``, ``submitted``, ``running``, ``finished``, ``failed`` or ``cancelled``).

Every POST to the API carries the session cookie, the ``X-CSRFToken`` header (the value of the
``csrftoken`` cookie) and a same-origin ``Referer``, as the site's own pages do.
"""

from __future__ import annotations

from urllib.parse import urlencode

LOGIN_PATH = "/accounts/login/"
SUBMISSION_STATUSES_RUNNING = ("submitting", "submitted", "running")
SUBMISSION_STATUSES_FAILED = ("failed", "cancelled")
SUBMISSION_STATUS_FINISHED = "finished"


def phases_path(competition_id: int) -> str:
    """The phase list of a competition."""
    return f"/api/competition/{competition_id}/phases/"


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


def submit_page_path(competition_id: int) -> str:
    """The competition page's tab where submissions are made and listed (used as the Referer)."""
    return f"/competitions/{competition_id}"
