"""Where an export job is, as the upstream reports it: a closed set of states.

Each upstream writes its jobs in its own words (:class:`JobFormat`); they map onto
:class:`ExportStatus`, and only onto it: an unknown word is an error, never a silent
"running". An answer that is no job, or no JSON, is one line naming the URL setting to
check, since a wrong base URL is its usual cause.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tap_activities.errors import UpstreamError

if TYPE_CHECKING:
    import requests


class ExportStatus(enum.Enum):
    """Where an export job is. The upstream's words map onto these, and only these."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True)
class JobSnapshot:
    """The upstream's view of a job at one moment."""

    job_id: str
    status: ExportStatus
    body: Mapping[str, Any] = field(default_factory=dict)
    message: str | None = None


@dataclass(frozen=True)
class JobFormat:
    """How one upstream writes a job: its keys and status words, and its name in errors."""

    upstream: str
    """The API's name in messages ("People.ai")."""
    noun: str
    """What it calls a job ("job", "export")."""
    id_key: str
    """The key of a job's id."""
    status_key: str
    """The key of a job's status word ("state", "status"), also its name in errors."""
    states: Mapping[str, ExportStatus]
    """Its status words, in lower case."""
    url_setting: str
    """The setting of its base URL, named when an answer is no job."""
    names_content_type: bool = False
    """Whether an answer that is not JSON is described by its ``Content-Type``."""

    def json(self, response: requests.Response) -> Any:
        """The body of an answer, which must be JSON."""
        try:
            return response.json()
        except ValueError:
            shown = (
                f" (Content-Type {response.headers.get('Content-Type', '?')})"
                if self.names_content_type
                else ""
            )
            msg = (
                f"{self.upstream} answered something that is not JSON{shown}; "
                f"is '{self.url_setting}' the {self.upstream} API?"
            )
            raise UpstreamError(msg) from None

    def snapshot(self, body: Any) -> JobSnapshot:
        """A job object as a :class:`JobSnapshot`; an unknown status word is an error."""
        if not isinstance(body, Mapping) or not body.get(self.id_key):
            article = "an" if self.noun[:1] in "aeiou" else "a"
            msg = (
                f"{self.upstream} answered something that is not {article} {self.noun} "
                f"(no '{self.id_key}'); is '{self.url_setting}' right?"
            )
            raise UpstreamError(msg)
        raw = str(body.get(self.status_key, ""))
        status = self.states.get(raw.strip().lower())
        if status is None:
            msg = (
                f"{self.upstream} {self.noun} {body[self.id_key]} has an unknown "
                f"{self.status_key} {raw!r}"
            )
            raise UpstreamError(msg)
        message = body.get("message") or body.get("error")
        return JobSnapshot(str(body[self.id_key]), status, body, str(message) if message else None)

    def read(self, response: requests.Response) -> JobSnapshot:
        """The job an answer holds."""
        return self.snapshot(self.json(response))


def body_time(value: Any) -> dt.datetime | None:
    """A time in a job's body (``2024-01-31T05:00:00Z``), in UTC when it names no zone.

    None when it is absent or no ISO 8601 date-time: such a field is only ever a hint.
    """
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment
