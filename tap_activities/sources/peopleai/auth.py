"""OAuth 2.0 client-credentials tokens for the People.ai API.

A token lives about two hours and a nightly sync can outlive it, so the token is renewed a
margin before it expires and once more when a call answers 401. It is attached only by
the :class:`~tap_activities.transfer.http.ApiSession` bound to the People.ai host, and it
never appears in logs: ``repr`` of this object hides it and errors name the endpoint, not the token.
"""

from __future__ import annotations

import threading
import time

import requests

from tap_activities.errors import AuthError, UpstreamError
from tap_activities.redact import REDACTOR
from tap_activities.transfer.http import (
    CONNECT_TIMEOUT,
    HostContact,
    bare_session,
    check_response,
    error_message,
    redact_url,
)

RENEW_MARGIN_SECONDS = 120.0


class PeopleAITokenAuth(requests.auth.AuthBase):
    """Attach a bearer token, fetching and renewing it as needed (thread-safe)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        timeout: float,
        contact: HostContact,
    ) -> None:
        """``contact``: the API host's first-contact state, shared with its session."""
        self._contact = contact
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = timeout
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self._session = bare_session()

    def __repr__(self) -> str:
        """Never show the token or the secret."""
        return f"PeopleAITokenAuth(token_url={self._token_url!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add ``Authorization: Bearer`` to an outgoing request."""
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request

    def token(self) -> str:
        """Return a valid token, fetching a new one shortly before expiry."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def renew(self) -> None:
        """Drop the current token after a 401 so the next call fetches a new one."""
        with self._lock:
            self._token = None

    def _fetch(self) -> None:
        what = f"People.ai token endpoint {redact_url(self._token_url)}"
        try:
            response = self._session.post(
                self._token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                },
                timeout=(CONNECT_TIMEOUT, self._timeout),
                allow_redirects=False,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            # Retried like any other call: briefly while the host never answered, else
            # for max_retry_seconds.
            raise self._contact.failure(what, exc) from None
        self._contact.answer()
        if response.status_code in {400, 401, 403}:
            detail = error_message(response)
            msg = (
                f"{what} refused the credentials (HTTP {response.status_code}"
                f"{': ' + detail if detail else ''}); check 'peopleai_client_id' and "
                "'peopleai_client_secret' (an Activity API key pair)"
            )
            raise AuthError(msg)
        if response.status_code == 429 or response.status_code >= 500:
            # A busy or failing token endpoint is as transient as any other call.
            check_response(response, what)
        if response.status_code == 404:
            detail = error_message(response)
            raise self._contact.wrong_base(
                f"{what} answered HTTP 404{': ' + detail if detail else ''}"
            )
        if response.status_code >= 300:
            msg = f"{what} answered HTTP {response.status_code}"
            raise UpstreamError(msg)
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError):
            msg = f"{what} did not answer a token (is 'peopleai_api_url' the People.ai API?)"
            raise UpstreamError(msg) from None
        REDACTOR.add(token)
        self._token = token
        margin = min(RENEW_MARGIN_SECONDS, lifetime / 4)
        self._expires_at = time.monotonic() + lifetime - margin
