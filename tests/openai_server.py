"""A real OpenAI-compatible chat-completions server on loopback, for tests and benchmarks.

It speaks ``POST /v1/chat/completions`` over HTTP/1.1 (keep-alive) and answers with a
deterministic summary of the article it was sent. Faults can be scripted per article
(matched by the prompt's ``Title:`` line) or for the next requests in general:

    server.script([{"status": 429, "headers": {"Retry-After": "1"}}], title="Story 3")
    server.script([{"status": 500}, {"drop": True}, {"delay": 2.0}, {"malformed": True}])

Every request is logged (``server.log``): arrival and finish times, title, the request
body, the Authorization header and what was answered, so tests can prove retry counts,
waits, concurrency and cache behaviour from the server's side.

Run standalone (used by the benchmark and subprocess tests):
    python tests/openai_server.py --latency 0.1      # prints "PORT <n>" then serves
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

try:
    import pytest
except ImportError:  # standalone use without pytest installed
    pytest = None

_TITLE = re.compile(r"^Title: (.*)$", re.MULTILINE)


@dataclass
class LoggedRequest:
    start: float
    title: Optional[str]
    body: Any
    authorization: Optional[str]
    end: float = 0.0
    outcome: str = ""  # "ok", "status 429", "drop", "malformed", "delay+ok", ...


@dataclass
class FakeOpenAI:
    latency: float = 0.0
    log: list[LoggedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._by_title: dict[Optional[str], deque] = defaultdict(deque)
        self._in_flight = 0
        self.max_in_flight = 0
        self._httpd: Optional[ThreadingHTTPServer] = None

    # --- control -------------------------------------------------------------------------
    def script(self, faults: list[dict[str, Any]], title: Optional[str] = None) -> None:
        """Faults for the next requests of the article titled ``title`` (None: any request)."""
        with self._lock:
            self._by_title[title].extend(faults)

    def start(self, port: int = 0) -> "FakeOpenAI":
        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def requests_for(self, title: str) -> list[LoggedRequest]:
        return [r for r in self.log if r.title == title]

    def titles(self) -> list[Optional[str]]:
        return [r.title for r in self.log]

    # --- behaviour ---------------------------------------------------------------------------
    def _next_fault(self, title: Optional[str]) -> dict[str, Any]:
        with self._lock:
            for key in (title, None):
                if self._by_title.get(key):
                    return self._by_title[key].popleft()
        return {}

    @staticmethod
    def completion(body: Any) -> str:
        """The deterministic answer: depends on the article and the sampling options only."""
        content = body["messages"][-1]["content"]
        title = (_TITLE.search(content) or [None, "untitled"])[1]
        article = content.split("Article:\n", 1)[-1].strip()
        first = re.split(r"(?<=[.!?])\s", article, maxsplit=1)[0]
        return (f"{title}: {first} (t={body.get('temperature')})\n\nKey Points:\n"
                f"- Lead: {first}\n- Source: {title} by {body.get('model')}.")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeOpenAI

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        fake = self.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
            content = body["messages"][-1]["content"]
            m = _TITLE.search(content)
            title = m.group(1) if m else None
        except (ValueError, KeyError, IndexError, TypeError):
            body, title = None, None
        entry = LoggedRequest(start=time.monotonic(), title=title, body=body,
                              authorization=self.headers.get("Authorization"))
        with fake._lock:
            fake.log.append(entry)
            fake._in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake._in_flight)
        try:
            self._answer(fake, entry, body, title)
        except (BrokenPipeError, ConnectionResetError):
            entry.outcome += " (client gone)"
        finally:
            entry.end = time.monotonic()
            with fake._lock:
                fake._in_flight -= 1

    def _answer(self, fake: FakeOpenAI, entry: LoggedRequest, body: Any, title: Optional[str]) -> None:
        if self.path.rstrip("/") != "/v1/chat/completions":
            entry.outcome = "status 404"
            return self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}).encode())
        if body is None:
            entry.outcome = "status 400"
            return self._send(400, json.dumps({"error": {"message": "request body is not JSON"}}).encode())
        fault = fake._next_fault(title)
        if fake.latency:
            time.sleep(fake.latency)
        if fault.get("delay"):
            time.sleep(fault["delay"])
            entry.outcome = "delay+"
        if fault.get("drop"):
            entry.outcome = "drop"
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault.get("malformed"):
            entry.outcome = "malformed"
            return self._send(200, b'{"choices": [{"message": ')
        if fault.get("status"):
            status = int(fault["status"])
            entry.outcome = f"status {status}"
            payload = fault.get("body", {"error": {"message": f"scripted {status}", "type": "test"}})
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            return self._send(status, data, fault.get("headers"))
        reply = {
            "id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": fake.completion(body)}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        entry.outcome += "ok"
        self._send(200, json.dumps(reply).encode())


def _openai_server():
    server = FakeOpenAI().start()
    try:
        yield server
    finally:
        server.stop()


openai_server = pytest.fixture(_openai_server, name="openai_server") if pytest else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to every reply")
    args = ap.parse_args()
    server = FakeOpenAI(latency=args.latency).start(args.port)
    print(f"PORT {server.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
