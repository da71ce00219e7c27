"""One place where the tap talks HTTP: timeouts, retries, error mapping, no leaked secrets.

Every upstream call goes through :class:`ApiSession`, bound to exactly one API host. The
session attaches that host's credentials and nothing else, so a URL on another host (a
pre-signed ChartMogul ``file_url``) is fetched with :func:`fetch_foreign` and never sees an
Authorization header. Transient failures (429, 5xx, resets, timeouts) are retried with
exponential backoff and jitter, honouring ``Retry-After``, within a bounded total time.
Error messages name the method, the path and the status, never headers, bodies or query
strings, because query strings of pre-signed URLs are credentials too.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Generator, Mapping
from typing import Any
from urllib.parse import urlsplit

import backoff
import requests

from tap_activities import __version__
from tap_activities.errors import (
    AuthError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    UnreachableError,
    UpstreamError,
)

LOGGER = logging.getLogger("tap_activities.http")
USER_AGENT = f"tap-activities/{__version__} (+singer-sdk)"
CONNECT_TIMEOUT = 15.0
FIRST_CONTACT_SECONDS = 20.0
"""How long a host that has not answered once this run is tried before the tap gives up.

A refused connection, an unknown host name, a TLS failure or a connect timeout on the first
call almost always mean a wrong URL setting: the run fails in well under a minute with one
line naming the setting, instead of retrying for ``max_retry_seconds``. Later in a run (the
host answered before), network faults get the full ``max_retry_seconds``."""
RETRY_CAP_SECONDS = 60.0


def bare_session() -> requests.Session:
    """A session that carries nothing but our User-Agent.

    No auth object, no default headers that could carry a key, and ``trust_env`` off so
    no ``~/.netrc`` credentials or proxy settings of the environment sneak onto requests.
    Every session the tap opens starts from this; the API session adds its own auth per
    request.
    """
    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    return session


def redact_url(url: str) -> str:
    """Drop the query string and any user info: both can carry credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def retry_after_seconds(response: requests.Response) -> float | None:
    """Parse a numeric ``Retry-After`` header; dates and garbage count as absent."""
    raw = response.headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def retry_delay(attempt: int, exc: BaseException | None) -> float:
    """Seconds before retry number ``attempt`` (1, 2, ...) after ``exc``.

    Exponential backoff with full jitter, or what the error's ``Retry-After`` asked for
    (capped, plus a little jitter). One policy for every retried call: HTTP requests here
    and job creation in the scheduler.
    """
    hinted = getattr(exc, "retry_after", None)
    if hinted is not None:
        return min(float(hinted), RETRY_CAP_SECONDS) + random.uniform(0, 0.25)
    return random.uniform(0, min(RETRY_CAP_SECONDS, 0.5 * 2**attempt))


def _wait_gen() -> Generator[float, Any, None]:
    """:func:`retry_delay` as a python-backoff wait generator (it sends the exception)."""
    attempt = 0
    exc = yield 0.0
    while True:
        attempt += 1
        exc = yield retry_delay(attempt, exc)


def _log_backoff(details: Mapping[str, Any]) -> None:
    LOGGER.warning(
        "Retrying in %.1fs after attempt %d: %s",
        details.get("wait", 0.0),
        details.get("tries", 0),
        details.get("exception"),
    )


def error_message(response: requests.Response) -> str:
    """Extract the upstream's own explanation (``message``/``error``) in one short line."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, Mapping):
        for key in ("message", "error", "detail", "errors"):
            if body.get(key):
                return " ".join(str(body[key]).split())[:300]
    return ""


def check_response(response: requests.Response, what: str) -> requests.Response:
    """Map an HTTP status to the tap's error classes; return the response when it is 2xx."""
    status = response.status_code
    if status < 300:
        return response
    detail = error_message(response)
    text = f"{what} answered HTTP {status}" + (f": {detail}" if detail else "")
    if status == 429:
        raise RateLimitedError(text, retry_after_seconds(response))
    if status >= 500:
        raise TransientError(text, retry_after_seconds(response))
    if status in {401, 403}:
        raise AuthError(text)
    if status == 404:
        raise NotFoundError(text)
    raise UpstreamError(text)


class HostContact:
    """Whether an API host has answered in this run, and how to word it when it cannot.

    Shared by everything that calls the host (the API session, the token endpoint).
    """

    def __init__(self, name: str, base_url: str, url_setting: str) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.url_setting = url_setting
        self.answered = False

    def answer(self) -> None:
        """The host sent an HTTP answer (any status): it is reachable."""
        self.answered = True

    def wrong_base(self, message: str) -> UpstreamError:
        """The error for a 404 on an endpoint every account has: the URL setting is wrong.

        The usual slip is a base URL that already holds part of the path (``…/v1``).
        """
        msg = (
            f"{message}; check '{self.url_setting}': it must be the {self.name} API's base URL "
            "alone, without a path such as /v1 (the tap adds the paths)"
        )
        return UpstreamError(msg)

    def failure(self, what: str, exc: Exception) -> TransientError:
        """The error for a connection-level failure of a call (``what``)."""
        reason = connection_failure(exc)
        if self.answered or isinstance(exc, requests.ReadTimeout):
            return TransientError(f"{what} failed: {reason}")
        msg = (
            f"{self.name} API at {redact_url(self.base_url)} cannot be reached ({reason}); "
            f"check '{self.url_setting}'"
        )
        return UnreachableError(msg)


def connection_failure(exc: Exception) -> str:
    """A short, secret-free reason for a connection-level failure."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(exc, requests.ConnectTimeout):
        return f"no connection within {CONNECT_TIMEOUT:g} s"
    if isinstance(exc, requests.ReadTimeout):
        return "ReadTimeout"
    if "Connection refused" in text:
        return "connection refused"
    if "NameResolutionError" in text or "Name or service not known" in text:
        return "host name not found"
    return type(exc).__name__


class ApiSession:
    """HTTP access to one API host with its own credentials."""

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        auth: requests.auth.AuthBase | None,
        timeout: float,
        max_retry_seconds: float,
        auth_hint: str = "",
        contact: HostContact,
    ) -> None:
        """Bind a session to ``base_url``.

        Args:
            name: Human name of the API for messages ("People.ai").
            base_url: Scheme, host and optional path prefix of the API.
            auth: Credentials attached to every call to this host.
            timeout: Read timeout of one request, in seconds.
            max_retry_seconds: Total time spent retrying one call (429, 5xx, connection
                faults) before giving up.
            auth_hint: The settings to check when the API refuses the credentials.
            contact: Whether the host answered yet (shared with its token endpoint).
        """
        self.contact = contact
        self.auth_hint = auth_hint
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retry_seconds = max_retry_seconds
        self._session = bare_session()
        self._auth = auth

    def url(self, path: str) -> str:
        """Absolute URL for an API path."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        timeout: float | None = None,
        stream: bool = False,
        retry: bool = True,
        base_url_endpoint: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request with retries; raise a tap error for any non-2xx answer.

        Args:
            method: HTTP method.
            path: Path below the base URL.
            timeout: Read timeout override (downloads get the documented allowance).
            stream: Leave the body unread for the caller to stream.
            retry: Retry transient failures (False for calls that must not be repeated
                blindly, such as job creation).
            base_url_endpoint: The path exists on every account (a collection, the
                authentication test), so a 404 means the base URL setting is wrong.
            **kwargs: Passed to :meth:`requests.Session.request` (``json``, ``params``...).

        Returns:
            The successful response.
        """
        what = f"{self.name} {method} {urlsplit(self.url(path)).path}"

        def once() -> requests.Response:
            try:
                return self._send_once(method, path, what, timeout=timeout, stream=stream, **kwargs)
            except NotFoundError as exc:
                if base_url_endpoint:
                    raise self.contact.wrong_base(str(exc)) from None
                raise

        if not retry:
            return once()
        return self.retrying(once)

    def retrying(self, call: Callable[[], Any]) -> Any:
        """Run ``call`` under this session's retry policy.

        Until the host has answered once, calls are retried for ``FIRST_CONTACT_SECONDS``
        at most (see there).
        """
        budget = self.max_retry_seconds
        if not self.contact.answered:
            budget = min(budget, FIRST_CONTACT_SECONDS)
        decorated = backoff.on_exception(
            _wait_gen,
            (TransientError, RateLimitedError),
            max_time=budget,
            jitter=None,
            on_backoff=_log_backoff,
            logger=None,
        )(call)
        return decorated()

    def _send_once(
        self,
        method: str,
        path: str,
        what: str,
        *,
        timeout: float | None,
        stream: bool,
        **kwargs: Any,
    ) -> requests.Response:
        renewals = 0
        while True:
            try:
                response = self._session.request(
                    method,
                    self.url(path),
                    auth=self._auth,
                    timeout=(CONNECT_TIMEOUT, timeout or self.timeout),
                    stream=stream,
                    allow_redirects=False,
                    **kwargs,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise self.contact.failure(what, exc) from None
            self.contact.answer()
            if response.status_code == 401 and renewals == 0 and hasattr(self._auth, "renew"):
                # A token can be revoked or expire early: renew it once, then give up.
                response.close()
                self._auth.renew()
                renewals += 1
                continue
            if response.status_code >= 300:
                response.close()
            try:
                return check_response(response, what)
            except AuthError as exc:
                if not self.auth_hint:
                    raise
                msg = f"{exc}; the API refused the credentials: check {self.auth_hint}"
                raise AuthError(msg) from None


def fetch_foreign(
    url: str,
    *,
    timeout: float,
    what: str,
) -> requests.Response:
    """GET a URL on a host that must not receive our credentials (a pre-signed file URL).

    A fresh :func:`bare_session` is used on purpose, and no redirect is followed silently.
    """
    session = bare_session()
    try:
        response = session.get(
            url, timeout=(CONNECT_TIMEOUT, timeout), stream=True, allow_redirects=False
        )
    except (requests.ConnectionError, requests.Timeout) as exc:
        msg = f"{what} GET {redact_url(url)} failed: {type(exc).__name__}"
        raise TransientError(msg) from None
    if response.status_code >= 300:
        response.close()
    return check_response(response, f"{what} GET {redact_url(url)}")
