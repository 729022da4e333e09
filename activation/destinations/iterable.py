"""Iterable: user fields through ``POST /api/users/bulkUpdate``, list membership through
``POST /api/lists/subscribe`` and ``POST /api/lists/unsubscribe``.

Vendor documentation (read for this module):
* https://api.iterable.com/api/docs (Users: bulkUpdate; Lists: subscribe, unsubscribe, get lists)
  and https://support.iterable.com/hc/en-us/articles/204780579-API-Overview-and-Sample-Payloads:
  ``Api-Key`` header; US ``https://api.iterable.com``, EU ``https://api.eu.iterable.com``;
  ``{"users": [{"email" | "userId", "dataFields", "preferUserId"}]}`` up to 1,000 users and
  about 4 MB; answers ``successCount``, ``failCount`` and ``failedUpdates`` (``invalidEmails``,
  ``invalidUserIds``, ``notFoundEmails``, ``conflictEmails``, ...), which this module maps to
  one result per record. Errors are ``{"msg", "code", "params"}``.
* Project identifiers (email-based, userID-based, hybrid):
  https://support.iterable.com/hc/en-us/articles/9216719179796-Project-Types-and-Unique-Identifiers
* Rate limit: bulkUpdate is documented at 5 requests per second per project in secondary
  sources; this module paces at that rate (``requests_per_second`` overrides it).

Objects and modes: ``profile`` (upsert / add-only; only changed fields are sent) and
``audience`` (a static list: ``audience_id`` is the numeric list id, or a list name that is
looked up with ``GET /api/lists`` and created with ``POST /api/lists`` when missing, unless
``create_lists: false``; added and changed records subscribe, removed records unsubscribe).
Creating a list is not idempotent (a second ``POST /api/lists`` with the same name makes a
second list), so the create call is never retried blindly: after a transient failure (its
answer may have been lost after Iterable made the list) the name is looked up again, and
the list is created again only when it is still missing.
Users are identified by the payload's ``userId`` / ``email`` when the sync maps them, else by the
record key (``identifier: auto`` treats a key containing ``@`` as an email).
``mirror`` is not offered: bulkUpdate has no documented way to clear fields.

Settings: ``base_url``, ``api_key_env`` (default ``ATC_ITERABLE_API_KEY``), ``identifier``
(``auto`` default, ``email`` or ``userId``), ``update_existing_users_only`` (list subscribe),
``create_lists`` (default true).
"""

from __future__ import annotations

from typing import Any, ClassVar

from activation.destinations.base import HttpDestination, changed_fields, ok, refused
from activation.http import HttpClient, vendor_message
from activation.protocol import (
    Batch,
    BatchRejected,
    ConfigurationError,
    DestinationLimits,
    Record,
    RecordResult,
    TransientError,
)

MAX_USERS = 1000
MAX_BYTES = 4 * 1024 * 1024

FAILURE_MESSAGES = {
    "invalidEmails": "invalid email",
    "invalidUserIds": "invalid userId",
    "notFoundEmails": "email not found (updateExistingUsersOnly)",
    "notFoundUserIds": "userId not found (updateExistingUsersOnly)",
    "forgottenEmails": "user was forgotten (GDPR)",
    "forgottenUserIds": "user was forgotten (GDPR)",
    "conflictEmails": "email conflicts with another user",
    "conflictUserIds": "userId conflicts with another user",
    "invalidDataEmails": "invalid data fields",
    "invalidDataUserIds": "invalid data fields",
}


class IterableDestination(HttpDestination):
    name: ClassVar[str] = "iterable"
    limits: ClassVar[DestinationLimits] = DestinationLimits(
        max_batch_size=MAX_USERS,
        max_batch_bytes=MAX_BYTES,
        requests_per_second=5.0,
        burst=5,
        # Batches in flight at once: the 5/s bucket is shared, so this hides latency, not the limit.
        extra={"max_concurrency": 4},
    )
    supported_modes: ClassVar[frozenset[str]] = frozenset({"upsert", "add-only", "audience"})
    supported_objects: ClassVar[frozenset[str]] = frozenset({"profile", "audience"})
    default_base_url: ClassVar[str] = "https://api.iterable.com"

    def _make_client(self) -> HttpClient:
        self._lists: dict[str, int] = {}
        key = self.secret("api_key_env", "ATC_ITERABLE_API_KEY")
        return self.http(headers={"Api-Key": key.reveal()}, secrets=[key])

    @property
    def identifier(self) -> str:
        value = self.settings.get("identifier", "auto")
        if value not in ("auto", "email", "userId"):
            raise ConfigurationError("iterable: 'identifier' must be 'auto', 'email' or 'userId'")
        return value

    def check(self) -> None:
        response = self.client.request("GET", "/api/lists")
        if response.status_code >= 400:
            raise ConfigurationError(self.client.redact(f"iterable: check failed: {vendor_message(response)}"))

    def _who(self, record: Record) -> dict[str, Any]:
        """The user's identifiers: ``userId`` / ``email`` from the payload when mapped, else the key.

        With ``identifier: auto`` a key that looks like an address is an email, anything else a userId.
        """
        payload = record.payload
        user_id = payload.get("userId")
        email = payload.get("email")
        mode = self.identifier
        if mode == "email" or (mode == "auto" and not user_id and "@" in str(record.key)):
            return {"email": email or record.key}
        who: dict[str, Any] = {"userId": user_id or record.key, "preferUserId": True}
        if email:
            who["email"] = email
        return who

    def _data_fields(self, record: Record) -> dict[str, Any]:
        return {k: v for k, v in changed_fields(record).items() if k not in ("email", "userId")}

    def write(self, batch: Batch) -> list[RecordResult]:
        self.accept(batch)
        if batch.object == "profile":
            users = [{**self._who(r), "dataFields": self._data_fields(r)} for r in batch.records]
            failures = self._call("/api/users/bulkUpdate", {"users": users})
            return self._results(batch.records, failures)
        list_id = self._list_id(str(batch.audience_id))
        joining = [r for r in batch.records if r.change != "removed"]
        leaving = [r for r in batch.records if r.change == "removed"]
        failures: dict[str, str] = {}
        if joining:
            body = {"listId": list_id, "subscribers": [self._who(r) for r in joining]}
            if self.settings.get("update_existing_users_only"):
                body["updateExistingUsersOnly"] = True
            failures.update(self._call("/api/lists/subscribe", body))
        if leaving:
            body = {"listId": list_id, "subscribers": [self._who(r) for r in leaving]}
            failures.update(self._call("/api/lists/unsubscribe", body))
        return self._results(batch.records, failures)

    def _list_id(self, audience_id: str) -> int:
        """A numeric list id as is; a name is looked up in ``GET /api/lists`` and, if missing, created.

        Under the instance's lock: two batches of one list sent at once never both create it.
        """
        if audience_id.isdigit():
            return int(audience_id)
        return self._named_list(audience_id, self._lists, self._find_list, self._create_list)

    def _find_list(self, name: str) -> int | None:
        """The id of the list with this name (``GET /api/lists``), or None."""
        response = self.client.request("GET", "/api/lists")
        if response.status_code >= 400:
            raise ConfigurationError(self.client.redact(f"iterable: listing lists failed: {vendor_message(response)}"))
        for item in _json(response).get("lists") or []:
            if item.get("name") == name:
                return int(item["id"])
        return None

    def _create_list(self, name: str) -> int:
        """``POST /api/lists`` once per attempt; before each new attempt, look the name up again."""
        attempts = max(1, self.policy.attempts)
        failure: TransientError | None = None
        for attempt in range(attempts):
            if attempt:
                self._sleep(min(self.policy.max_wait, self.policy.initial_wait * 2 ** (attempt - 1)))
                found = self._find_list(name)
                if found is not None:
                    return found
            try:
                response = self._request_once("POST", "/api/lists", json={"name": name})
            except TransientError as exc:
                failure = exc
                continue
            answer = _json(response)
            if response.status_code >= 400 or "listId" not in answer:
                raise ConfigurationError(
                    self.client.redact(f"iterable: creating list failed: {vendor_message(response)}")
                )
            return int(answer["listId"])
        raise TransientError(f"iterable: creating list {name!r} failed {attempts} times: {failure}")

    def _request_once(self, method: str, path: str, **kwargs: Any):
        """One request without the HTTP helper's retries (for a call that is not idempotent)."""
        return self.client.request(method, path, attempts=1, **kwargs)

    def _call(self, path: str, body: dict[str, Any]) -> dict[str, str]:
        """POST and return identifier (lower-cased) -> the vendor's reason for each refused user."""
        response = self.client.request("POST", path, json=body)
        if response.status_code == 404:
            raise ConfigurationError(f"iterable: {self.base_url}{path} not found: check base_url")
        if response.status_code >= 400:
            message = self.client.redact(f"iterable: {vendor_message(response)}")
            answer = _json(response)
            text = str(answer.get("msg", "")).lower() if isinstance(answer, dict) else ""
            if "list" in text and ("not exist" in text or "not found" in text):
                raise ConfigurationError(message)
            raise BatchRejected(message, status=response.status_code)
        answer = _json(response)
        failed: dict[str, str] = {}
        buckets = dict(answer.get("failedUpdates") or {}) if isinstance(answer, dict) else {}
        for top in ("invalidEmails", "invalidUserIds"):
            if isinstance(answer, dict) and answer.get(top):
                buckets.setdefault(top, answer[top])
        for bucket, values in buckets.items():
            for value in values or []:
                failed.setdefault(str(value).lower(), f"{value}: {FAILURE_MESSAGES.get(bucket, bucket)} ({bucket})")
        return failed

    def _results(self, records, failures: dict[str, str]) -> list[RecordResult]:
        results = []
        for record in records:
            ids = {str(record.key).lower()}
            for field in ("email", "userId"):
                if record.payload.get(field):
                    ids.add(str(record.payload[field]).lower())
            reason = next((failures[i] for i in ids if i in failures), None)
            results.append(refused(record, f"iterable: {reason}") if reason else ok(record))
        return results


def _json(response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}
