"""The one HTTP session helper every destination uses.

* urllib3's connection pool, one per destination instance, shared by the sync
  engine's sending threads: every thread reuses a keep-alive connection, and a
  request costs a fraction of what ``requests`` spends (no ``.netrc`` or proxy
  lookups per call, no request preparation); the proxy the environment names
  (``HTTPS_PROXY``, ``NO_PROXY`` ...) is read once per client, its
  ``user:password@`` sent as ``Proxy-Authorization``; a timeout on
  every call;
* retries with tenacity on 408, 429, 5xx, connection errors and timeouts:
  exponential backoff with jitter, or exactly what the vendor asks for when it
  sends ``Retry-After`` (seconds or an HTTP date) or a rate-limit reset header
  (``X-RateLimit-Reset`` epoch seconds as Braze sends it, ``RateLimit-Reset``
  seconds as Klaviyo sends it), capped at ``max_wait``;
* fail fast on any other 4xx: the response goes back to the destination, which
  knows whether the vendor refused one record or the whole batch;
* 401 / 403 and any 3xx (redirects are not followed: a moved endpoint is a wrong
  base URL, never a delivery) raise ``ConfigurationError``; retries running out raise
  ``TransientError``;
* a token bucket (``activation.ratelimit``) paces requests before they leave; it is
  shared by every thread of the destination, so the vendor's rate holds whatever the
  concurrency;
* a ``Retry-After`` (or reset header) a thread receives with a 429 (or a 503 with
  ``Retry-After``) pauses the shared bucket, at most ``max_wait`` and never after the
  last attempt, so every thread of the destination waits, not only the one that was told;
* ``retries`` counts every retry, for the run summary (thread-safe).

Secrets: credentials come from environment variables named in the settings
(``api_key_env: ATC_BRAZE_API_KEY``) and live in ``Secret``, whose ``repr`` and
``str`` are masked. Headers are never logged, and every message this module
writes or raises passes through ``redact`` first.
"""

from __future__ import annotations

import base64
import email.utils
import json as jsonlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

import urllib3
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base

from activation.protocol import ConfigurationError, TransientError
from activation.ratelimit import TokenBucket

log = logging.getLogger("activation.http")

RETRYABLE_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))
MASK = "********"


class Secret:
    """A credential whose value never shows in ``repr``, ``str``, f-strings or logs."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "") -> None:
        self._value = value
        self.source = source  # the environment variable's name, safe to show

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.source or 'value'}={MASK})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self):  # never pickled in clear
        raise TypeError("Secret values cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and (other._value, other.source) == (self._value, self.source)

    def __hash__(self) -> int:
        return hash(("Secret", self.source))


def read_secret(
    settings: Mapping[str, Any],
    field: str,
    env: Mapping[str, str] | None = None,
    *,
    destination: str,
    default_env: str | None = None,
) -> Secret:
    """Read the credential whose environment variable is named in ``settings[field]``.

    Variables named ``ATC_SANDBOX_*`` fall back to the sandbox's documented
    default, so pointing a sync at the local sandbox needs no configuration.
    """
    from activation.sandbox.credentials import SANDBOX_DEFAULTS

    env = os.environ if env is None else env
    var = settings.get(field) or default_env
    if not var:
        raise ConfigurationError(f"{destination}: setting {field!r} (the environment variable holding it) is missing")
    value = env.get(var)
    if not value and var in SANDBOX_DEFAULTS:
        value = SANDBOX_DEFAULTS[var]
    if not value:
        raise ConfigurationError(f"{destination}: environment variable {var} is not set")
    return Secret(value, source=var)


def redact(text: str, secrets: Iterable[Secret | str]) -> str:
    """Replace every secret value (and its basic-auth / base64 forms) in ``text``."""
    import base64

    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if not value:
            continue
        text = text.replace(value, MASK)
        b64 = base64.b64encode(value.encode()).decode()
        text = text.replace(b64, MASK)
    return text


@dataclass
class RetryPolicy:
    """How hard to try. Settings keys: ``timeout``, ``retry_attempts``, ``retry_initial_wait``,
    ``retry_max_wait`` (seconds). Tests shorten them; production keeps the defaults."""

    timeout: float = 30.0
    attempts: int = 6
    initial_wait: float = 0.5
    max_wait: float = 60.0
    jitter: float = 0.5

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RetryPolicy:
        policy = cls()
        for key, attr in (
            ("timeout", "timeout"),
            ("retry_attempts", "attempts"),
            ("retry_initial_wait", "initial_wait"),
            ("retry_max_wait", "max_wait"),
            ("retry_jitter", "jitter"),
        ):
            if settings.get(key) is not None:
                setattr(policy, attr, type(getattr(policy, attr))(settings[key]))
        return policy


class _Retryable(Exception):
    """Internal: a response or error worth another attempt."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the vendor asks us to wait, from ``Retry-After`` or a rate-limit reset header."""
    now = time.time() if now is None else now
    value = headers.get("Retry-After")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - now)
    for name in ("X-RateLimit-Reset", "RateLimit-Reset", "X-Rate-Limit-Reset"):
        value = headers.get(name)
        if not value:
            continue
        try:
            number = float(value.split(",")[0].strip())
        except ValueError:
            continue
        # Epoch seconds (Braze) or seconds until the window resets (Klaviyo, IETF draft).
        return max(0.0, number - now) if number > 1_000_000_000 else max(0.0, number)
    return None


class _wait_vendor_or_backoff(wait_base):
    """Wait what the vendor asked for, else exponential backoff with full jitter; capped."""

    def __init__(self, policy: RetryPolicy, rng: random.Random) -> None:
        self.policy = policy
        self.rng = rng

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        asked = getattr(exc, "retry_after", None)
        if asked is not None:
            return min(self.policy.max_wait, asked + self.rng.uniform(0, min(self.policy.jitter, 0.25)))
        base = self.policy.initial_wait * (2 ** (retry_state.attempt_number - 1))
        return min(self.policy.max_wait, base + self.rng.uniform(0, self.policy.jitter))


@dataclass(frozen=True)
class SentRequest:
    """The request a response answers, as it was sent (for callers that sign or audit it)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None


class Response:
    """What a call answered: the parts of ``requests.Response`` the destinations read."""

    __slots__ = ("status_code", "headers", "content", "reason", "request")

    def __init__(
        self,
        status_code: int,
        headers: Mapping[str, str],
        content: bytes,
        reason: str = "",
        request: SentRequest | None = None,
    ) -> None:
        self.status_code = status_code
        self.headers = headers  # case-insensitive (urllib3's HTTPHeaderDict)
        self.content = content
        self.reason = reason
        self.request = request

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not."""
        return jsonlib.loads(self.content)


def _ca_certs() -> str | None:
    try:
        import certifi
    except ImportError:  # the system's store then
        return None
    return certifi.where()


class HttpClient:
    """One per destination instance: connection pool, pacing, retries, classification."""

    # Keep-alive connections kept per destination: at least as many as sending threads.
    POOL_SIZE = 16

    def __init__(
        self,
        destination: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        secrets: Iterable[Secret] = (),
        policy: RetryPolicy | None = None,
        bucket: TokenBucket | None = None,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        self.destination = destination
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.bucket = bucket
        self.secrets = list(secrets)
        self.retries = 0
        self.requests = 0
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._headers = {"Accept": "application/json", "User-Agent": "journey-atc-activation", **(headers or {})}
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
            self.secrets.append(Secret(f"{auth[0]}:{auth[1]}", source="basic auth"))  # and its base64 form
        self._pools: dict[tuple[str, str, int | None], urllib3.HTTPConnectionPool | urllib3.ProxyManager] = {}
        self._proxies = getproxies()  # the environment's proxies, as requests honoured them
        for proxy in self._proxies.values():  # a proxy's password never shows in a message
            auth = urllib3.util.parse_url(proxy).auth if proxy else None
            if auth and ":" in auth:
                self.secrets.append(Secret(unquote(auth.split(":", 1)[1]), source="proxy password"))
        self._lock = threading.Lock()

    def _pool(self, url: str) -> tuple[urllib3.HTTPConnectionPool | urllib3.ProxyManager, str]:
        """What to send ``url`` through, and the target to ask it for.

        The keep-alive pool for ``url``'s host and the path (with query); through an HTTPS
        proxy, the pool tunnels (CONNECT) to the host. A plain-http URL behind a proxy goes
        through the proxy manager with the absolute URL, as a forward proxy expects.
        """
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port)
        pool = self._pools.get(key)
        if pool is None:
            with self._lock:
                pool = self._pools.get(key)
                if pool is None:
                    extra = {"ca_certs": _ca_certs()} if parts.scheme == "https" else {}
                    proxy = self._proxies.get(parts.scheme)
                    if proxy and not proxy_bypass(parts.hostname or ""):
                        manager = _proxy_manager(proxy, maxsize=self.POOL_SIZE, block=False, retries=False, **extra)
                        pool = manager if parts.scheme == "http" else manager.connection_from_url(url)
                    else:
                        pool = urllib3.connection_from_url(
                            url, maxsize=self.POOL_SIZE, block=False, retries=False, **extra
                        )
                    self._pools[key] = pool
        if isinstance(pool, urllib3.ProxyManager):
            return pool, url
        return pool, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def _add(self, counter: str) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def url(self, path: str) -> str:
        if not path:
            return self.base_url
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        attempts: int | None = None,
    ) -> Response:
        """Send one request with retries; return the response for 2xx and non-retryable 4xx.

        ``attempts`` overrides the policy for this call (``1`` for a call that is not
        idempotent). Raises ``ConfigurationError`` on 401/403 and on any 3xx (redirects are
        not followed, and a redirect is no delivery), and ``TransientError``
        when the retries run out.
        """
        url = self.url(path)
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        path = path or "/"
        all_headers = {**self._headers, **(headers or {})}
        if json is not None:
            data = jsonlib.dumps(json, separators=(",", ":")).encode()
            all_headers.setdefault("Content-Type", "application/json")
        attempts = max(1, self.policy.attempts if attempts is None else attempts)
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=_wait_vendor_or_backoff(self.policy, self._rng),
            retry=retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            before_sleep=self._before_sleep(method, path),
            reraise=True,
        )
        tried = 0

        def attempt() -> Response:
            nonlocal tried
            tried += 1
            return self._attempt(method, url, path, data, all_headers, final=tried >= attempts)

        try:
            return retrying(attempt)
        except _Retryable as exc:
            raise TransientError(
                self.redact(f"{self.destination}: {method} {path} failed after {attempts} attempts: {exc}"),
                status=exc.status,
                retry_after=exc.retry_after,
            ) from None

    def _before_sleep(self, method: str, path: str):
        def before_sleep(retry_state: RetryCallState) -> None:
            self._add("retries")
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
            log.warning(
                self.redact(
                    f"{self.destination}: {method} {path}: {exc}; retry {retry_state.attempt_number} in {wait:.2f} s"
                )
            )

        return before_sleep

    def _attempt(
        self, method: str, url: str, path: str, data: bytes | None, headers: dict[str, str], *, final: bool = False
    ) -> Response:
        if self.bucket is not None:
            self.bucket.acquire()
        self._add("requests")
        pool, target = self._pool(url)
        try:
            raw = pool.urlopen(
                method,
                target,
                body=data,
                headers=headers,
                retries=False,
                redirect=False,
                timeout=self.policy.timeout,
                preload_content=True,
            )
        except urllib3.exceptions.TimeoutError as exc:
            raise _Retryable(f"timed out ({type(exc).__name__})") from None
        except urllib3.exceptions.HTTPError as exc:
            raise _Retryable(f"connection failed ({type(exc).__name__})") from None
        sent = SentRequest(method, url, headers, data)
        response = Response(raw.status, raw.headers, raw.data or b"", raw.reason or "", sent)
        status = response.status_code
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: %s %s -> %s", self.destination, method, path, status)
        if status in (401, 403):
            raise ConfigurationError(
                self.redact(
                    f"{self.destination}: {method} {path} answered {status} (check the credentials and their "
                    f"permissions): {_body_excerpt(response)}"
                )
            )
        if 300 <= status < 400:
            # Redirects are not followed (a redirect could carry the credentials elsewhere), and a
            # 3xx is no delivery: every destination would count the batch as sent. A vendor URL
            # that redirects is a misconfigured base URL, so it fails the run without retrying.
            location = response.headers.get("Location") or "no Location header"
            raise ConfigurationError(
                self.redact(
                    f"{self.destination}: {method} {path} answered {status} redirecting to {location} "
                    "(check the destination's base URL; redirects are not followed)"
                )
            )
        if status in RETRYABLE_STATUS:
            retry_after = parse_retry_after(response.headers)
            if retry_after is not None and self.bucket is not None and not final and _throttled(response):
                # The vendor's wait holds for the whole destination: every thread sharing the
                # bucket waits it out, not only this one. Only a throttle pauses everyone (a
                # 429, or a 503 that says how long with Retry-After): Braze sends
                # X-RateLimit-Reset on every answer, and a 5xx with a far-off quota reset must
                # not park the other threads. The pause is capped like this thread's own wait,
                # and the last attempt pauses nobody (no retry follows it).
                self.bucket.pause(min(self.policy.max_wait, retry_after))
            raise _Retryable(
                self.redact(f"answered {status}: {_body_excerpt(response)}"),
                status=status,
                retry_after=retry_after,
            )
        return response

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            if isinstance(pool, urllib3.ProxyManager):
                pool.clear()
            else:
                pool.close()


def _proxy_manager(proxy: str, **kwargs: Any) -> urllib3.ProxyManager:
    """A proxy manager that sends the ``user:password@`` of the proxy URL as ``Proxy-Authorization``.

    urllib3 ignores credentials in the proxy URL (requests sent them); they are passed as
    headers here, and the URL the manager keeps has none.
    """
    parsed = urllib3.util.parse_url(proxy)
    headers = None
    if parsed.auth:
        headers = urllib3.make_headers(proxy_basic_auth=unquote(parsed.auth))
        proxy = parsed._replace(auth=None).url
    return urllib3.ProxyManager(proxy, proxy_headers=headers, **kwargs)


def _throttled(response: Response) -> bool:
    """The vendor is pacing us (not failing): a 429, or a 503 with an explicit ``Retry-After``."""
    status = response.status_code
    return status == 429 or (status == 503 and bool(response.headers.get("Retry-After")))


def _body_excerpt(response: Response, limit: int = 300) -> str:
    text = (response.text or "").strip().replace("\n", " ")
    return text[:limit] if text else response.reason or ""


def vendor_message(response: Response, limit: int = 500) -> str:
    """The vendor's own words from an error body, for messages and RecordResults."""
    return f"{response.status_code} {_body_excerpt(response, limit)}"
