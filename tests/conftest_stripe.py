"""Loopback servers for tests/test_stripe_api.py (helpers, not a pytest conftest).

- :class:`LocalStripe`: the ``localstripe`` console script as a subprocess on a free port.
- :class:`FakeStripeAPI`: serves recorded list responses (tests/stripe_fixtures/) for what
  localstripe has no endpoint for (disputes, checkout sessions), paginated like Stripe.
- :class:`FlakyProxy`: forwards to an upstream server until a predicate says to fail a request,
  then answers 500 or drops the connection, to simulate an outage in the middle of a pull.

Everything binds 127.0.0.1 only.
"""

from __future__ import annotations

import copy
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parent / "stripe_fixtures"

# The list endpoints a full pull asks for, by URL path.
LIST_PATHS = {
    "/v1/customers": "customers",
    "/v1/subscriptions": "subscriptions",
    "/v1/invoices": "invoices",
    "/v1/charges": "charges",
    "/v1/refunds": "refunds",
    "/v1/disputes": "disputes",
    "/v1/checkout/sessions": "checkout_sessions",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        pass  # a dropped connection (FlakyProxy mode 'reset') is the point, not an error


class _Served:
    """Runs an http.server on a loopback port in a background thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = _QuietServer(("127.0.0.1", 0), handler)
        self.server.owner = self  # type: ignore[attr-defined]
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # headers and body in one write (no 40 ms delayed-ACK stall per request)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean (and never print request lines)

    def _send_json(self, status: int, payload: object, headers: dict[str, str] | None = None):
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def stripe_error(kind: str, message: str) -> dict[str, object]:
    return {"error": {"type": kind, "message": message}}


class FakeStripeAPI(_Served):
    """Recorded Stripe list responses, two pages each for disputes and checkout sessions.

    Page 1 answers a request without ``starting_after``; page 2 answers ``starting_after`` = the
    last id of page 1. ``limit`` must be 100. Other list endpoints answer an empty list.
    Knobs: ``rate_limited[path] = n`` answers the next n requests of that path with 429;
    ``echo_key_401`` answers every request 401 with the presented key in the message (as a badly
    behaved server might); ``honor_created`` applies ``created[gte]``.
    """

    def __init__(self) -> None:
        self.pages: dict[str, list[dict]] = {
            "/v1/disputes": [_fixture("disputes_page1"), _fixture("disputes_page2")],
            "/v1/checkout/sessions": [
                _fixture("checkout_sessions_page1"),
                _fixture("checkout_sessions_page2"),
            ],
        }
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.rate_limited: dict[str, int] = {}
        self.echo_key_401 = False
        self.honor_created = False
        self.keys_seen: set[str] = set()
        super().__init__(_FakeHandler)

    def objects(self, path: str) -> list[dict]:
        return [obj for page in self.pages[path] for obj in page["data"]]

    def requests_for(self, path: str) -> list[dict[str, str]]:
        return [query for p, query in self.requests if p == path]


def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class _FakeHandler(_Handler):
    def do_GET(self) -> None:
        api: FakeStripeAPI = self.server.owner  # type: ignore[attr-defined]
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        api.requests.append((split.path, query))
        key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        api.keys_seen.add(key)
        if api.echo_key_401:
            message = f"Invalid API Key provided: {key}"
            self._send_json(401, stripe_error("invalid_request_error", message))
            return
        if api.rate_limited.get(split.path, 0) > 0:
            api.rate_limited[split.path] -= 1
            error = stripe_error("invalid_request_error", "Too many requests, slow down.")
            self._send_json(429, error, {"Retry-After": "0"})
            return
        if split.path not in LIST_PATHS:
            self._send_json(404, stripe_error("invalid_request_error", "Unrecognized request URL"))
            return
        if query.get("limit") != "100":
            self._send_json(400, stripe_error("invalid_request_error", "expected limit=100"))
            return
        pages = copy.deepcopy(api.pages.get(split.path, []))
        if api.honor_created and "created[gte]" in query:
            gte = int(query["created[gte]"])
            for page in pages:
                page["data"] = [obj for obj in page["data"] if obj["created"] >= gte]
        pages = [page for page in pages if page["data"]]
        if not pages:
            pages = [{"object": "list", "url": split.path, "has_more": False, "data": []}]
        index = 0
        after = query.get("starting_after")
        if after is not None:
            lasts = [page["data"][-1]["id"] for page in pages]
            if after not in lasts[:-1]:
                self._send_json(400, stripe_error("invalid_request_error", "bad cursor"))
                return
            index = lasts.index(after) + 1
        payload = pages[index]
        payload["has_more"] = index < len(pages) - 1
        self._send_json(200, payload)


class FlakyProxy(_Served):
    """Forwards requests to ``upstream`` until ``fail_when(path_and_query)`` is true for one;
    such requests answer 500 (``mode='500'``) or have their connection dropped (``'reset'``)."""

    def __init__(self, upstream: str, fail_when: Callable[[str], bool], mode: str = "500") -> None:
        assert mode in ("500", "reset")
        self.upstream = urlsplit(upstream)
        self.fail_when = fail_when
        self.mode = mode
        self.forwarded: list[str] = []
        self.failed: list[str] = []
        super().__init__(_ProxyHandler)


class _ProxyHandler(_Handler):
    def do_GET(self) -> None:
        proxy: FlakyProxy = self.server.owner  # type: ignore[attr-defined]
        if proxy.fail_when(self.path):
            proxy.failed.append(self.path)
            if proxy.mode == "reset":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send_json(500, stripe_error("api_error", "upstream unavailable"))
            return
        proxy.forwarded.append(self.path)
        conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=10)
        try:
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
            }
            conn.request("GET", self.path, headers=headers)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        self.send_response(response.status)
        self.send_header("Content-Type", response.getheader("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LocalStripe:
    """``localstripe --port N`` as a subprocess (it keeps state in memory; --from-scratch makes it
    ignore the pickle it dumps to /tmp)."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        script = Path(sys.executable).parent / "localstripe"
        self.proc = subprocess.Popen(
            [str(script), "--port", str(self.port), "--from-scratch"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        request = urllib.request.Request(
            f"{self.url}/v1/customers", headers={"Authorization": "Bearer sk_test_ready"}
        )
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"localstripe exited early: {self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(request, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("localstripe did not answer in time")

    def flush(self) -> None:
        request = urllib.request.Request(f"{self.url}/_config/data", method="DELETE")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()
