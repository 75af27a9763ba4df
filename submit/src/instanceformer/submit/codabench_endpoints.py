"""The Codabench endpoints a submission goes through, relative to the server's root.

Paths and fields as the codalab/codabench source defines them (src/urls.py mounts ``api/`` from
src/apps/api/urls.py; views in src/apps/api/views/, serializers in src/apps/api/serializers/; the site's
own upload is src/static/riot/competitions/detail/submission_upload.tag with src/static/js/ours/client.js):

1. ``POST /api/api-token-auth/`` (Django REST framework ``obtain_auth_token``) with ``username`` and
   ``password``: ``{"token"}``; wrong credentials answer 400 ``{"non_field_errors": [...]}``. Every
   later request carries ``Authorization: Token <token>`` (``TokenAuthentication`` is one of the
   ``DEFAULT_AUTHENTICATION_CLASSES``); a revoked token answers 401/403 ``{"detail": "Invalid token."}``.
2. ``GET /api/competitions/<id>/`` (``CompetitionDetailSerializer``): ``title``, ``participant_status``
   and ``phases``; a phase has ``id``, ``index``, ``name``, ``start``, ``end`` and ``status``
   (``Previous``, ``Current`` or ``Next``: ``Current`` takes submissions).
3. ``GET /api/can_make_submission/<phase id>/``: ``{"can", "reason"}`` (approval and quota).
4. ``POST /api/datasets/`` with JSON ``type: "submission"``, ``competition``,
   ``request_sassy_file_name``, ``file_name``, ``file_size`` (and ``description``): 201 ``{"key",
   "sassy_url"}``, a pre-signed storage URL to ``PUT`` the zip to; 400 with field errors (e.g.
   ``data_file``: insufficient storage quota).
5. ``PUT <sassy_url>`` with the zip's bytes (no token goes there).
6. ``PUT /api/datasets/completed/<key>/``: marks the upload complete.
7. ``POST /api/submissions/`` with JSON ``data`` (the dataset key) and ``phase`` (the phase id):
   201 ``{"id", "status", ...}``; 403 ``{"detail": ...}`` for an account that is not an approved
   participant. The submission itself takes no description (``description`` is read-only).
8. ``GET /api/submissions/<id>/`` (``SubmissionSerializer``): ``status`` (``Submitting``,
   ``Submitted``, ``Preparing``, ``Running``, ``Scoring``, ``Finished``, ``Failed``, ``Cancelled``),
   ``status_details`` and ``scores`` (``[{"column_key", "score"}]``, decimals as strings).
9. ``GET /api/submissions/<id>/get_details/`` (``SubmissionFilesSerializer``): ``logs``, a list of
   ``{"name", "data_file"}`` with pre-signed URLs (``scoring_stderr``, ``prediction_stderr``, ...);
   403 when the phase hides its output.
"""

from __future__ import annotations

TOKEN_PATH = "/api/api-token-auth/"
DATASETS_PATH = "/api/datasets/"
SUBMISSIONS_PATH = "/api/submissions/"
SUBMISSION_DATA_TYPE = "submission"
OPEN_PHASE_STATUS = "Current"
# The logs of an evaluation that say why it failed, most telling first.
ERROR_LOG_NAMES = (
    "scoring_stderr",
    "prediction_stderr",
    "prediction_ingestion_stderr",
    "scoring_ingestion_stderr",
)


def competition_path(competition_id: int) -> str:
    """A competition with its phases."""
    return f"/api/competitions/{competition_id}/"


def can_submit_path(phase_id: int) -> str:
    """Whether the account may submit to a phase now."""
    return f"/api/can_make_submission/{phase_id}/"


def upload_completed_path(key: str) -> str:
    """The endpoint that marks an upload complete."""
    return f"/api/datasets/completed/{key}/"


def submission_path(submission_id: int) -> str:
    """One of the account's submissions."""
    return f"/api/submissions/{submission_id}/"


def submission_details_path(submission_id: int) -> str:
    """The log files of one of the account's submissions."""
    return f"/api/submissions/{submission_id}/get_details/"


def competition_page_path(competition_id: int) -> str:
    """The competition's web page."""
    return f"/competitions/{competition_id}/"
