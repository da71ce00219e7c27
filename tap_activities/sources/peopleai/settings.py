"""People.ai's settings: its API base URL and its Activity API key pair."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from singer_sdk import typing as th

from tap_activities.errors import ConfigError
from tap_activities.settings import SourceOptions, api_url, defaults_of, text_setting

PROPERTIES = (
    th.Property(
        "peopleai_api_url",
        th.StringType,
        default="https://api.people.ai",
        description="People.ai API base URL.",
    ),
    th.Property(
        "peopleai_client_id",
        th.StringType,
        secret=True,  # People.ai's "API key": half of the credential pair, never logged
        description="People.ai Activity API key (the client id of the key pair).",
    ),
    th.Property(
        "peopleai_client_secret",
        th.StringType,
        secret=True,
        description="People.ai Activity API client secret.",
    ),
)
DEFAULTS = defaults_of(PROPERTIES)


@dataclass(frozen=True)
class PeopleAISettings:
    """Credentials and endpoint of the People.ai Raw Activity Data API."""

    api_url: str
    client_id: str
    client_secret: str


def read_settings(config: Mapping[str, Any]) -> PeopleAISettings | None:
    """The key pair and base URL; None when neither credential is set, an error for one."""
    client_id = text_setting(config, "peopleai_client_id")
    client_secret = text_setting(config, "peopleai_client_secret")
    if not client_id and not client_secret:
        return None
    if not client_id or not client_secret:
        missing = "peopleai_client_secret" if client_id else "peopleai_client_id"
        msg = f"Setting '{missing}' is required when the other People.ai credential is set."
        raise ConfigError(msg)
    url = api_url(config, "peopleai_api_url", DEFAULTS["peopleai_api_url"])
    return PeopleAISettings(api_url=url, client_id=client_id, client_secret=client_secret)


OPTIONS = SourceOptions(
    title="People.ai",
    properties=PROPERTIES,
    credentials=("peopleai_client_id", "peopleai_client_secret"),
    # The client id is the People.ai "API key": secret too, though the schema shows it.
    secrets=("peopleai_client_id", "peopleai_client_secret"),
    read=read_settings,
)
