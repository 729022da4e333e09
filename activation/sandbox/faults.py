"""Fault injection for the sandbox: deterministic given a seed.

A fault configuration (a YAML / JSON file given to ``atc sandbox --faults``, or
the body of ``POST /_sandbox/faults``) looks like::

    seed: 7
    vendors:
      "*":                      # applies to every vendor unless overridden
        latency_ms: 5
      braze:
        error_rate: 0.2         # fraction of requests answered with error_status
        error_status: 503
        drop_rate: 0.1          # fraction of connections closed without an answer
        drop_next: 1            # the next request's connection is closed without an answer
        lose_rate: 0.1          # fraction of requests applied, then closed without an answer
        lose_next: 1            # the next request is applied, then its answer is lost
        fail_next: 2            # the next 2 requests answer fail_status (in the vendor's error format)
        fail_status: 400        # e.g. 400 / 413 (batch refused), 500 / 503
        outage: false           # true: every request answers 503
        throttle_rate: 0.0      # 429 storm: fraction of requests answered 429
        throttle_next: 3        # the next 3 requests answer 429, then normal service
        retry_after: 1          # seconds sent in Retry-After with every 429
        reject_pattern: "@invalid\\."   # records whose identifier matches are refused
        reject_fraction: 0.05   # plus this stable fraction of identifiers
        rate_limit: {requests_per_second: 1000, burst: 3000}   # null disables
        # (per_minute: N adds a fixed 60-second window of N requests, as Klaviyo's steady limit)
        match: "^POST /braze/users/track$"   # inject the faults above only into matching requests
      klaviyo:
        job_pending_polls: 2    # bulk import jobs stay "processing" for two status polls

Random draws come from one ``random.Random(seed)`` per vendor, so the same
requests in the same order meet the same faults. Record rejections depend on
the identifier only (a stable hash with the seed), so a rejected record stays
rejected until the configuration changes, like a genuinely bad address.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VENDORS = ("braze", "iterable", "customerio", "klaviyo", "segment", "webhook")

# Default request-rate enforcement per vendor, from the vendors' documentation
# (see docs/destinations.md). ``None``: the vendor documents no hard limit.
DEFAULT_RATE_LIMITS: dict[str, dict[str, float] | None] = {
    "braze": {"requests_per_second": 1000.0, "burst": 3000},  # 3,000 requests per 3 seconds
    "iterable": {"requests_per_second": 5.0, "burst": 5},  # bulkUpdate: 5 requests per second
    "customerio": {"requests_per_second": 100.0, "burst": 100},  # Track API fair use: 100/s
    # bulk import jobs and list relationships: burst 10/s and steady 150/min, fixed windows
    "klaviyo": {"requests_per_second": 10.0, "burst": 10, "per_minute": 150},
    "segment": {"requests_per_second": 1000.0, "burst": 1000},
    "webhook": None,
}

FAULT_KEYS = {
    "error_rate",
    "error_status",
    "drop_next",
    "lose_rate",
    "lose_next",
    "fail_next",
    "fail_status",
    "drop_rate",
    "outage",
    "throttle_rate",
    "throttle_next",
    "retry_after",
    "reject_pattern",
    "reject_fraction",
    "latency_ms",
    "rate_limit",
    "job_pending_polls",
    "match",
}


class FaultConfigError(ValueError):
    pass


@dataclass
class VendorFaults:
    error_rate: float = 0.0
    error_status: int = 503
    drop_rate: float = 0.0
    drop_next: int = 0
    lose_rate: float = 0.0
    lose_next: int = 0
    fail_next: int = 0
    fail_status: int = 400
    outage: bool = False
    throttle_rate: float = 0.0
    throttle_next: int = 0
    retry_after: float = 1.0
    reject_pattern: str | None = None
    reject_fraction: float = 0.0
    latency_ms: float = 0.0
    rate_limit: dict[str, float] | None = None
    job_pending_polls: int = 0
    match: str | None = None  # regular expression over "METHOD /path"; other requests get no fault


@dataclass
class Decision:
    """What the injector decided for one request, before the vendor handler runs."""

    latency: float = 0.0
    drop: bool = False
    lose_response: bool = False  # apply the request, then close the connection without answering
    status: int | None = None  # 503 outage / error_status / 429
    reason: str = ""
    retry_after: float | None = None


class _Bucket:
    """A token bucket (``rate`` per second up to ``burst``), plus an optional fixed window of
    ``per_minute`` requests (a steady limit such as Klaviyo's 150/min)."""

    def __init__(self, rate: float, burst: float, per_minute: float | None = None) -> None:
        self.rate = rate
        self.capacity = max(1.0, burst)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.per_minute = per_minute
        self.window_start = self.updated
        self.window_count = 0

    def take(self) -> float | None:
        """None when a token was taken; else seconds until one is free."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.per_minute:
            if now - self.window_start >= 60:
                self.window_start = now - (now - self.window_start) % 60
                self.window_count = 0
            if self.window_count >= self.per_minute:
                return self.window_start + 60 - now
        if self.tokens >= 1:
            self.tokens -= 1
            self.window_count += 1
            return None
        return (1 - self.tokens) / self.rate


def load_fault_file(path: str | Path) -> dict[str, Any]:
    text = Path(path).read_text()
    if str(path).endswith((".yml", ".yaml")):
        import yaml

        data = yaml.safe_load(text) or {}
    else:
        data = json.loads(text or "{}")
    if not isinstance(data, dict):
        raise FaultConfigError(f"{path}: a fault configuration is a mapping")
    return data


class FaultInjector:
    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or {})

    def configure(self, config: dict[str, Any]) -> None:
        """Replace the whole configuration (validated first)."""
        seed = config.get("seed", 0)
        vendors = config.get("vendors") or {}
        if not isinstance(vendors, dict):
            raise FaultConfigError("'vendors' must map a vendor name to its faults")
        unknown_top = set(config) - {"seed", "vendors"}
        if unknown_top:
            raise FaultConfigError(f"unknown keys {sorted(unknown_top)}; expected 'seed' and 'vendors'")
        parsed: dict[str, VendorFaults] = {}
        common = vendors.get("*") or {}
        for name in vendors:
            if name != "*" and name not in VENDORS:
                raise FaultConfigError(f"unknown vendor {name!r}; expected one of {', '.join(VENDORS)} or '*'")
        for name in VENDORS:
            merged = {"rate_limit": DEFAULT_RATE_LIMITS[name], **common, **(vendors.get(name) or {})}
            unknown = set(merged) - FAULT_KEYS
            if unknown:
                raise FaultConfigError(f"{name}: unknown fault keys {sorted(unknown)}")
            faults = VendorFaults(**merged)
            for pattern_name in ("reject_pattern", "match"):
                pattern = getattr(faults, pattern_name)
                if pattern:
                    try:
                        re.compile(pattern)
                    except re.error as exc:
                        raise FaultConfigError(f"{name}: {pattern_name} is not a regular expression: {exc}") from exc
            for rate_name in ("error_rate", "drop_rate", "throttle_rate", "reject_fraction", "lose_rate"):
                value = getattr(faults, rate_name)
                if not 0 <= float(value) <= 1:
                    raise FaultConfigError(f"{name}: {rate_name} must be between 0 and 1")
            parsed[name] = faults
        with self._lock:
            self.seed = int(seed)
            self.config = {"seed": self.seed, "vendors": vendors}
            self.vendors = parsed
            self._rng = {name: random.Random(f"{self.seed}:{name}") for name in VENDORS}
            self._buckets = {
                name: _Bucket(
                    float(f.rate_limit["requests_per_second"]),
                    float(f.rate_limit.get("burst", 1)),
                    float(f.rate_limit["per_minute"]) if f.rate_limit.get("per_minute") else None,
                )
                for name, f in parsed.items()
                if f.rate_limit
            }
            self.injected: dict[str, dict[str, int]] = {name: {} for name in VENDORS}

    def _count(self, vendor: str, what: str) -> None:
        self.injected[vendor][what] = self.injected[vendor].get(what, 0) + 1

    def decide(self, vendor: str, request: str = "") -> Decision:
        """The fault for one request; ``request`` is ``"METHOD /path"`` (for ``match``)."""
        with self._lock:
            f = self.vendors[vendor]
            rng = self._rng[vendor]
            decision = Decision(latency=f.latency_ms / 1000.0)
            if f.match and not re.search(f.match, request):
                return self._paced(vendor, decision)
            if f.outage:
                self._count(vendor, "outage")
                return Decision(decision.latency, status=503, reason="outage")
            # Draw every random number each time so one fault's rate does not shift another's sequence.
            drop_draw, throttle_draw, error_draw, lose_draw = rng.random(), rng.random(), rng.random(), rng.random()
            if f.drop_next > 0:
                f.drop_next -= 1
                self._count(vendor, "dropped")
                return Decision(decision.latency, drop=True, reason="dropped")
            if f.fail_next > 0:
                f.fail_next -= 1
                self._count(vendor, f"failed_{f.fail_status}")
                return Decision(decision.latency, status=f.fail_status, reason="injected failure")
            if drop_draw < f.drop_rate:
                self._count(vendor, "dropped")
                return Decision(decision.latency, drop=True, reason="dropped")
            if f.throttle_next > 0:
                f.throttle_next -= 1
                self._count(vendor, "throttled")
                return Decision(decision.latency, status=429, reason="throttled", retry_after=f.retry_after)
            if throttle_draw < f.throttle_rate:
                self._count(vendor, "throttled")
                return Decision(decision.latency, status=429, reason="throttled", retry_after=f.retry_after)
            paced = self._paced(vendor, decision)
            if paced.status is not None:
                return paced
            if error_draw < f.error_rate:
                self._count(vendor, "errors")
                return Decision(decision.latency, status=f.error_status, reason="injected error")
            if f.lose_next > 0 or lose_draw < f.lose_rate:
                f.lose_next = max(0, f.lose_next - 1)
                self._count(vendor, "lost_responses")
                return Decision(decision.latency, lose_response=True, reason="response lost")
            return decision

    def _paced(self, vendor: str, decision: Decision) -> Decision:
        """The rate limit (a 429 when the vendor's bucket is empty), else ``decision``. Holds the lock."""
        bucket = self._buckets.get(vendor)
        if bucket is not None:
            wait = bucket.take()
            if wait is not None:
                self._count(vendor, "rate_limited")
                return Decision(decision.latency, status=429, reason="rate limited", retry_after=max(wait, 0.001))
        return decision

    def rejects(self, vendor: str, identifier: Any) -> bool:
        """Whether the partial-rejection fault refuses this record (stable per identifier)."""
        f = self.vendors[vendor]
        text = "" if identifier is None else str(identifier)
        if f.reject_pattern and re.search(f.reject_pattern, text):
            return True
        if f.reject_fraction > 0:
            digest = hashlib.sha256(f"{self.seed}:{text}".encode()).digest()
            return int.from_bytes(digest[:8], "big") / 2**64 < f.reject_fraction
        return False

    def count_rejection(self, vendor: str) -> None:
        with self._lock:
            self._count(vendor, "rejected_records")

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "config": self.config,
                "effective": {name: vars(f).copy() for name, f in self.vendors.items()},
                "injected": {k: dict(v) for k, v in self.injected.items()},
            }
