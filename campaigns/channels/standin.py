"""A local stand-in for Postmark's email API, for tests and benchmarks: the real anymail
Postmark backend talks to it over HTTP on 127.0.0.1. Standard library only.

    with PostmarkStandIn(latency=0.02) as standin:
        ANYMAIL = {"POSTMARK_SERVER_TOKEN": standin.token, "POSTMARK_API_URL": standin.url}
        ... send ...
        standin.received  # the JSON of every message it was sent

It answers like Postmark (https://postmarkapp.com/developer/api/email-api):

- POST /email: 200 {"To", "SubmittedAt", "MessageID", "ErrorCode": 0, "Message": "OK"};
- POST /email/batch: a list of messages in, a list of those answers out;
- a recipient in `inactive` (hard bounce or spam complaint before): 422 with ErrorCode 406,
  "You tried to send to a recipient that has been marked as inactive...";
- a recipient in `invalid`: 422 with ErrorCode 300, "Invalid 'To' address: '...'";
- a wrong X-Postmark-Server-Token: 401 with ErrorCode 10;
- `fail_with = 429` (or 500, 503, ...): every request gets that status, until set to None.

Each answer waits `latency` seconds first, on the request's own thread, so concurrent
senders overlap as they would against the real API. `max_in_flight` tells how many requests
were being answered at once at most, `connections` which client connections were used.

Run alone (for a benchmark in another process):

    python -m campaigns.channels.standin --port 8025 --latency 0.02
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class PostmarkStandIn:
    def __init__(
        self,
        *,
        latency: float = 0.0,
        token: str = "standin-server-token",
        inactive: tuple[str, ...] | set[str] = (),
        invalid: tuple[str, ...] | set[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        keep: bool = True,
    ):
        self.latency = latency
        self.token = token
        self.inactive = {address.lower() for address in inactive}
        self.invalid = {address.lower() for address in invalid}
        self.fail_with: int | None = None
        self.keep = keep  # whether to keep what was received (a long benchmark may not want to)
        self.received: list[dict[str, Any]] = []
        self.requests = 0
        self.connections: set[tuple[str, int]] = set()  # client addresses: one per kept-alive connection
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> PostmarkStandIn:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="postmark-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> PostmarkStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def answer(self, path: str, token: str | None, payload: Any) -> tuple[int, Any]:
        """The status and JSON Postmark would answer."""
        if self.fail_with is not None:
            return self.fail_with, {"ErrorCode": self.fail_with, "Message": "Stand-in told to fail"}
        if token != self.token:
            message = "The Server Token you provided in the X-Postmark-Server-Token request header was invalid."
            return 401, {"ErrorCode": 10, "Message": message}
        if path == "/email/batch" and isinstance(payload, list):
            answers = [self._one(message) for message in payload]
            return 200, [body for _, body in answers]
        if path == "/email" and isinstance(payload, dict):
            return self._one(payload)
        return 404, {"ErrorCode": 404, "Message": f"No such endpoint {path}"}

    def _one(self, message: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        to = str(message.get("To", ""))
        addresses = [part.strip().rsplit("<", 1)[-1].rstrip(">").lower() for part in to.split(",") if part.strip()]
        if self.keep:
            with self._lock:
                self.received.append(message)
        inactive = [a for a in addresses if a in self.inactive]
        if inactive and len(inactive) == len(addresses):
            return 422, {
                "ErrorCode": 406,
                "Message": (
                    "You tried to send to a recipient that has been marked as inactive.\n"
                    f"Found inactive addresses: {', '.join(inactive)}.\n"
                    "Inactive recipients are ones that have generated a hard bounce or a spam complaint. "
                ),
            }
        invalid = [a for a in addresses if a in self.invalid]
        if invalid:
            return 422, {"ErrorCode": 300, "Message": f"Invalid 'To' address: '{invalid[0]}'."}
        return 200, {
            "To": to,
            "SubmittedAt": dt.datetime.now(dt.UTC).isoformat(),
            "MessageID": str(uuid.uuid4()),
            "ErrorCode": 0,
            "Message": "OK",
        }

    def _enter(self, client: tuple[str, int]) -> None:
        with self._lock:
            self.requests += 1
            self.connections.add(client)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1


def _handler(standin: PostmarkStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a requests session expects
        # The answer goes out as two writes (headers, then body): with Nagle's algorithm the
        # body waited for the client's delayed ACK, adding ~20-40 ms to every request.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            standin._enter(self.client_address[:2])
            try:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    payload = json.loads(raw or b"null")
                except ValueError:
                    status, body = 422, {"ErrorCode": 402, "Message": "Received invalid JSON input."}
                else:
                    status, body = standin.answer(self.path, self.headers.get("X-Postmark-Server-Token"), payload)
                if standin.latency:
                    time.sleep(standin.latency)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            finally:
                standin._leave()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests and benchmarks read standin.received instead

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="A local stand-in for Postmark's email API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds before each answer")
    parser.add_argument("--token", default="standin-server-token")
    args = parser.parse_args()
    standin = PostmarkStandIn(latency=args.latency, token=args.token, host=args.host, port=args.port, keep=False)
    print(f"Postmark stand-in on {standin.url} (token {standin.token!r}, latency {args.latency:g} s)", flush=True)
    try:
        standin._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
