"""HTTP plumbing shared by backends that call a server: one async client, retries, errors.

Retried (transient): HTTP 429, any 5xx, timeouts (an attempt — connecting, sending and
reading the whole reply — taking longer than ``timeout``) and connection errors (refused,
reset, dropped mid-reply). Waits grow
exponentially with jitter; a ``Retry-After`` header (seconds or an HTTP date) is honoured:
the next attempt starts no earlier than the server asked. Any other 4xx fails at once with
the server's own message. A 2xx whose body is not JSON fails at once (a server bug that a
retry would only repeat). Every message has the caller's secrets blanked out (and any the
process knows, see ``evalkit.redact``) before it is cut to length.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Optional

import httpx

from evalkit.errors import BackendError
from evalkit.redact import redact_text

_rng = random.Random()


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a transient failure."""

    max_retries: int = 5  #: retries after the first attempt (0: never retry)
    backoff: float = 1.0  #: first wait in seconds; doubles with each retry
    max_backoff: float = 60.0  #: cap of the exponential wait
    max_retry_after: float = 300.0  #: a Retry-After longer than this fails the row instead of waiting

    def delay(self, retry: int, retry_after: Optional[float] = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based).

        Without ``Retry-After``: ``d = min(max_backoff, backoff * 2**retry)`` and a wait drawn
        uniformly from ``[d/2, d]`` ("equal jitter": spread out, never near zero). With it:
        the server's value plus up to 10% (at most 1 s) so clients told the same time do
        not all return in the same instant.
        """
        if retry_after is not None:
            return retry_after + _rng.uniform(0.0, min(1.0, 0.1 * retry_after))
        d = min(self.max_backoff, self.backoff * (2**retry))
        return _rng.uniform(d / 2, d)


@dataclass
class Reachability:
    """Whether a server ever answered, shared by the requests of one backend: once a request
    has spent all its retries without ever connecting (refused, unknown host, no route) and no
    request ever got an answer, the requests after it fail at once instead of each retrying
    as long (a base_url typo failed 500 rows in half an hour)."""

    answered: bool = False
    unreachable: Optional[str] = None  #: the failure of the request that gave up


def parse_retry_after(value: Optional[str], now: Optional[datetime] = None) -> Optional[float]:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def make_client(*, base_url: str, timeout: float, concurrency: int,
                headers: Mapping[str, str] | None = None) -> httpx.AsyncClient:
    """An async client with a connection pool sized for ``concurrency`` requests in flight.

    For a plain ``http://`` server (a local vLLM, Ollama, llama.cpp) no TLS context is built
    (that costs ~50 ms per client and would never be used; redirects are not followed, so
    no request can move to https); ``https://`` servers are always verified.
    """
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    tls = not base_url.startswith("http://")
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), limits=limits, headers=dict(headers or {}),
                             verify=tls, follow_redirects=False)


def server_message(resp: httpx.Response, limit: int = 300, secrets: Iterable[Optional[str]] = ()) -> str:
    """The error message a server put in its reply (OpenAI-style JSON, or the raw text),
    redacted, then cut to ``limit`` characters."""
    try:
        data = resp.json()
    except ValueError:
        data = None
    msg: Any = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            msg = err.get("message") or err.get("type")
        elif isinstance(err, str):
            msg = err
        msg = msg or data.get("message") or data.get("detail")
    if not msg:
        msg = resp.text.strip() or resp.reason_phrase
    msg = redact_text(" ".join(str(msg).split()), secrets)
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    payload: Any,
    *,
    policy: RetryPolicy,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[Optional[str]] = (),
    reach: Optional[Reachability] = None,
) -> Any:
    """POST ``payload`` as JSON and return the decoded JSON reply, retrying transient failures.

    ``timeout`` bounds a whole attempt: connecting, sending and reading the entire reply (a
    server that drips its body slowly is cut off too, not only one that goes silent).
    Raises ``BackendError`` (``transient=True`` when retries ran out) with a message that
    names the last failure and how many attempts were made.
    """
    secrets = list(secrets)
    attempt = 0
    never_connected = True
    while True:
        if attempt == 0 and reach is not None and reach.unreachable and not reach.answered:
            raise BackendError(f"not sent: the server never answered ({reach.unreachable})", transient=True)
        attempt += 1
        retry_after: Optional[float] = None
        try:
            resp = await asyncio.wait_for(client.post(url, json=payload, headers=headers), timeout)
        except (httpx.TimeoutException, asyncio.TimeoutError) as e:
            never_connected &= isinstance(e, httpx.ConnectTimeout)
            problem = f"no complete reply within {timeout:g}s"
        except httpx.TransportError as e:
            never_connected &= isinstance(e, httpx.ConnectError)
            problem = f"connection error ({type(e).__name__}: {e or 'no detail'})"
        else:
            never_connected = False
            if reach is not None:
                reach.answered = True
            code = resp.status_code
            if code < 400:
                try:
                    return resp.json()
                except ValueError:
                    snippet = redact_text(" ".join(resp.text.split()), secrets)[:200]
                    raise BackendError(f"server replied HTTP {code} with a body that is not JSON: {snippet!r}") from None
            problem = f"HTTP {code}: {server_message(resp, secrets=secrets)}"
            if code != 429 and code < 500:
                raise BackendError(problem)
            retry_after = parse_retry_after(resp.headers.get("retry-after"))
        problem = redact_text(problem, secrets)
        if attempt > policy.max_retries:
            tries = "1 attempt" if attempt == 1 else f"{attempt} attempts"
            if reach is not None and never_connected and not reach.answered:
                reach.unreachable = f"{url}: {problem}, {tries}"
            raise BackendError(f"{problem} (gave up after {tries})", transient=True)
        if retry_after is not None and retry_after > policy.max_retry_after:
            raise BackendError(
                f"{problem}; the server asked to retry after {retry_after:g}s, more than "
                f"max_retry_after={policy.max_retry_after:g}s",
                transient=True,
            )
        await asyncio.sleep(policy.delay(attempt - 1, retry_after))
