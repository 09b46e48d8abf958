"""A real OpenAI-compatible chat-completions server on loopback, for tests and benchmarks.

It speaks ``POST /v1/chat/completions`` over HTTP/1.1 with keep-alive (asyncio streams, with
``h11`` doing the HTTP framing; the event loop runs in a background thread) and answers
with a deterministic summary of the article it was sent. Faults can be scripted per
article (matched by the prompt's ``Title:`` line) or for the next requests in general:

    server.script([{"status": 429, "headers": {"Retry-After": "1"}}], title="Story 3")
    server.script([{"status": 500}, {"drop": True}, {"delay": 2.0}, {"malformed": True}])
    server.script([{"drip": 12.0}])                 # a 200 whose body trickles out over 12 s
    server.script([{"finish_reason": "length"}])    # a completion cut at max_tokens
    server.script([{"status": 401, "body": "bad key {authorization}"}])   # echoes the Authorization header

Every request is logged (``server.log``): arrival and finish times, title, the request
body, the Authorization header and what was answered, so tests can prove retry counts,
waits, concurrency and cache behaviour from the server's side.

Run standalone (used by the benchmark):
    python tests/openai_server.py --latency 0.1      # prints "PORT <n>" then serves
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Optional

import h11

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
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._server: Optional[asyncio.base_events.Server] = None
        self._writers: set[asyncio.StreamWriter] = set()

    # --- control -------------------------------------------------------------------------
    def script(self, faults: list[dict[str, Any]], title: Optional[str] = None) -> None:
        """Faults for the next requests of the article titled ``title`` (None: any request)."""
        with self._lock:
            self._by_title[title].extend(faults)

    def start(self, port: int = 0) -> FakeOpenAI:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._serve, "127.0.0.1", port))
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            await self._server.wait_closed()
            # replies still sleeping (latency, delay, drip) end here, not with the loop
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self._call(shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._loop.is_running():
            self._loop.close()  # its self-pipe sockets too (else a ResourceWarning in a later test)
        self._loop = None

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    @property
    def port(self) -> int:
        return self._port

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

    # --- HTTP ----------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        self._writers.add(writer)
        try:
            while True:
                request, body = None, b""
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        conn.receive_data(await reader.read(65536))
                    elif isinstance(event, h11.Request):
                        request = event
                    elif isinstance(event, h11.Data):
                        body += event.data
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    else:  # ConnectionClosed: the client went away between requests
                        return
                keep_open = await self._respond(conn, writer, request, body)
                if not keep_open or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _respond(self, conn: h11.Connection, writer: asyncio.StreamWriter, request: h11.Request,
                       raw: bytes) -> bool:
        headers = {k.decode().lower(): v.decode() for k, v in request.headers}
        try:
            body = json.loads(raw)
            m = _TITLE.search(body["messages"][-1]["content"])
            title = m.group(1) if m else None
        except (ValueError, KeyError, IndexError, TypeError):
            body, title = None, None
        entry = LoggedRequest(start=time.monotonic(), title=title, body=body,
                              authorization=headers.get("authorization"))
        self.log.append(entry)
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)

        def send(status: int, payload: bytes, extra: dict[str, str] | None = None) -> None:
            hdrs = [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                    *(extra or {}).items()]
            writer.write(conn.send(h11.Response(status_code=status, headers=hdrs)) + conn.send(h11.Data(data=payload))
                         + conn.send(h11.EndOfMessage()))

        try:
            if request.method != b"POST" or request.target.decode().rstrip("/") != "/v1/chat/completions":
                entry.outcome = "status 404"
                send(404, json.dumps({"error": {"message": f"no route {request.target.decode()}"}}).encode())
                return True
            if body is None:
                entry.outcome = "status 400"
                send(400, json.dumps({"error": {"message": "request body is not JSON"}}).encode())
                return True
            fault = self._next_fault(title)
            if self.latency:
                await asyncio.sleep(self.latency)
            if fault.get("delay"):
                await asyncio.sleep(fault["delay"])
                entry.outcome = "delay+"
            if writer.is_closing():
                entry.outcome += " (client gone)"
                return False
            if fault.get("drop"):
                entry.outcome = "drop"
                writer.transport.abort()
                return False
            if fault.get("malformed"):
                entry.outcome = "malformed"
                send(200, b'{"choices": [{"message": ')
                return True
            if fault.get("status"):
                status = int(fault["status"])
                entry.outcome = f"status {status}"
                payload = fault.get("body", {"error": {"message": f"scripted {status}", "type": "test"}})
                text = payload if isinstance(payload, str) else json.dumps(payload)
                data = text.replace("{authorization}", headers.get("authorization", "")).encode()
                send(status, data, fault.get("headers"))
                return True
            content = self.completion(body)
            reply = {
                "id": "chatcmpl-test", "object": "chat.completion", "model": f"{body.get('model')}-served",
                "choices": [{"index": 0, "finish_reason": fault.get("finish_reason", "stop"),
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": len(body["messages"][-1]["content"].split()),
                          "completion_tokens": len(content.split()), "total_tokens": 0},
            }
            data = json.dumps(reply).encode()
            if fault.get("drip"):  # headers now, then the body a few bytes at a time over `drip` seconds
                entry.outcome += "drip+"
                hdrs = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
                writer.write(conn.send(h11.Response(status_code=200, headers=hdrs)))
                chunks = [data[i:i + 16] for i in range(0, len(data), 16)]
                for chunk in chunks:
                    if writer.is_closing():
                        entry.outcome += " (client gone)"
                        return False
                    writer.write(conn.send(h11.Data(data=chunk)))
                    await writer.drain()
                    await asyncio.sleep(fault["drip"] / len(chunks))
                writer.write(conn.send(h11.EndOfMessage()))
            else:
                send(200, data)
            entry.outcome += "ok"
            await writer.drain()
            return True
        finally:
            entry.end = time.monotonic()
            self._in_flight -= 1


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
        while True:
            time.sleep(60)
            server.log.clear()  # a long-running server keeps no history
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
