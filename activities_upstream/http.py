"""What the three servers share: JSON answers, faults at the door, the request log."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from activities_upstream.faults import Faults


class LoggedRequest(NamedTuple):
    """One request as the server saw it (headers included, for credential checks)."""

    host: str
    method: str
    path: str
    query: str
    headers: dict[str, str]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer."""
    return Response(orjson.dumps(body), status=status, headers=headers, mimetype="application/json")


def drop_connection(request: Request) -> Response:
    """Close the client's socket without an answer (a connection reset)."""
    sock = request.environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    return Response(b"", status=500)


def send_truncated(request: Request, body: bytes, content_type: str) -> Response:
    """Announce the full length, send half the bytes, close: a short read."""
    sock = request.environ.get("werkzeug.socket")
    head = (
        "HTTP/1.1 200 OK\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    if isinstance(sock, socket.socket):
        try:
            sock.sendall(head + body[: len(body) // 2])
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    return Response(b"", status=500)


class FaultGate:
    """Applies the generic faults (hold, slowness, reset, status) before an endpoint runs."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults

    def check(self, endpoint: str, request: Request) -> Response | None:
        """A fault response for this call, or None to proceed."""
        hold = self.faults.take_hold(endpoint)
        if hold is not None:
            hold.reached.set()
            hold.release.wait(timeout=120)
        delay = self.faults.take_slow(endpoint)
        if delay:
            time.sleep(delay)
        if self.faults.take(f"reset:{endpoint}"):
            return drop_connection(request)
        fault = self.faults.take_http(endpoint)
        if fault is not None:
            headers = (
                {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
            )
            return json_response(
                {"error": "InjectedFault", "message": f"injected HTTP {fault.status}"},
                fault.status,
                headers,
            )
        return None


class ServerThread:
    """A threaded werkzeug server on 127.0.0.1 in a background thread."""

    def __init__(
        self, name: str, app: Callable, port: int, log: list[LoggedRequest], lock: threading.Lock
    ) -> None:
        self.name = name
        self._log = log
        self._lock = lock
        self._app = app
        self.server = make_server("127.0.0.1", port, self._logging_app, threaded=True)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"upstream-{name}",
            daemon=True,
        )

    def _logging_app(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        with self._lock:
            self._log.append(
                LoggedRequest(
                    self.name,
                    request.method,
                    request.path,
                    request.query_string.decode(),
                    dict(request.headers),
                )
            )
        return self._app(environ, start_response)

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
