"""Klaviyo (JSON:API): profiles through bulk import jobs, list membership through list relationships.

Vendor documentation (read for this module):
* https://developers.klaviyo.com/en/reference/api_overview : ``Authorization: Klaviyo-API-Key
  <private key>``, a dated ``revision`` header on every request, JSON:API bodies
  (``application/vnd.api+json``), errors as ``{"errors": [{"status", "code", "title",
  "detail", "source"}]}``; rate limits per endpoint in fixed windows, burst and steady, with
  ``RateLimit-*`` headers and ``Retry-After`` on 429.
* https://developers.klaviyo.com/en/docs/use_klaviyos_bulk_profile_import_api :
  ``POST /api/profile-bulk-import-jobs`` (up to 10,000 profiles, 5 MB; asynchronous job;
  optional ``relationships.lists`` adds every imported profile to the list; null values do
  not clear fields); ``GET /api/profile-bulk-import-jobs/{id}`` and ``/import-errors``.
  Rate limits: 10/s burst, 150/min steady.
* Add / Remove Profiles to List: ``POST`` / ``DELETE /api/lists/{id}/relationships/profiles``
  with ``{"data": [{"type": "profile", "id"}]}``, up to 1,000 per call; 10/s burst, 150/min
  steady; removing a profile from a list does not change its consent.
* Get Profiles: ``GET /api/profiles?filter=any(email,[...])``, up to 100 per page.

Objects and modes: ``profile`` (upsert / add-only; every mapped field is sent: a bulk import
sets what it is given) and ``audience`` (a list named ``audience_id``, looked up with
``GET /api/lists?filter=equals(name,...)`` and created with ``POST /api/lists`` when missing, or
used as a list id with ``list_ids: true``; added and changed records are imported with the list
relationship, which creates missing profiles; removed records are looked up by their mapped
``external_id`` / ``email`` and removed with ``DELETE``). Creating a list is not idempotent, so
the create call is never retried blindly: after a transient failure (its answer may have been
lost after Klaviyo made the list) the name is looked up again, and the list is created again
only when it is still missing.

Identifiers: mapped ``email`` / ``external_id`` / ``phone_number`` fields go on the profile; the
record key fills ``identifier`` (``auto``: a key containing ``@`` is an email, anything else an
``external_id``) unless the payload already carries that field. ``mirror`` is not
offered for profiles because the bulk import cannot clear fields.

The job is polled until it completes (``job_poll_seconds``, ``job_timeout_seconds``); a job
that does not finish in time raises ``TransientError`` and the batch is sent again later
(imports are upserts, so that is safe). Refused profiles come from ``import-errors``.

Settings: ``base_url`` (default ``https://a.klaviyo.com``), ``api_key_env`` (default
``ATC_KLAVIYO_API_KEY``), ``revision`` (default below), ``identifier`` (``auto`` default,
``email`` or ``external_id``), ``list_ids``, ``create_lists`` (default true), ``job_poll_seconds``,
``job_timeout_seconds``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from activation.destinations.base import HttpDestination, as_dict, ok, refused, sql_json, sql_text
from activation.http import HttpClient, vendor_message
from activation.protocol import (
    Batch,
    BatchRejected,
    ConfigurationError,
    DestinationLimits,
    Record,
    RecordResult,
    RenderedBatch,
    RenderSpec,
    TransientError,
)

REVISION = "2026-04-15"
MAX_IMPORT = 10_000
MAX_IMPORT_BYTES = 5 * 1024 * 1024
BURST_PER_SECOND = 10
STEADY_PER_MINUTE = 150
JOB_ENVELOPE_BYTES = 512  # the job's type, relationships and brackets, generously
MAX_RELATIONSHIPS = 1000
MAX_FILTER = 100
STANDARD_FIELDS = {
    "email",
    "phone_number",
    "external_id",
    "first_name",
    "last_name",
    "organization",
    "locale",
    "title",
    "image",
}
PLAIN_FIELD = re.compile(r"^[A-Za-z0-9_]+$")
POINTER = re.compile(r"/data/attributes/profiles/data/(\d+)")
JSONAPI = "application/vnd.api+json"


class KlaviyoDestination(HttpDestination):
    name: ClassVar[str] = "klaviyo"
    limits: ClassVar[DestinationLimits] = DestinationLimits(
        # A profile batch is one bulk import job (up to 10,000 profiles and 5 MB); an audience
        # batch stays within what one list-relationships call takes (1,000), for its removals.
        max_batch_size=MAX_IMPORT,
        max_batch_bytes=MAX_IMPORT_BYTES,
        # Burst 10/s and steady 150/min, in fixed windows. Sliding windows of 9 in 1.1 s and 147 in
        # 61 s can never put more in one of Klaviyo's windows, even with a request that travels
        # a little slower than the one before it; a burst of 9 leaves at once.
        requests_per_second=float(BURST_PER_SECOND),
        burst=BURST_PER_SECOND - 1,
        extra={
            "windows": [(BURST_PER_SECOND - 1, 1.1), (STEADY_PER_MINUTE - 3, 61.0)],
            "max_batch_size_by_mode": {"audience": MAX_RELATIONSHIPS},
            "max_import_profiles": MAX_IMPORT,
            # Up to three import jobs in flight at once (our choice, not a documented limit):
            # a job is asynchronous, so the next one is submitted while the last is processed.
            "max_concurrency": 3,
        },
    )
    supported_modes: ClassVar[frozenset[str]] = frozenset({"upsert", "add-only", "audience"})
    supported_objects: ClassVar[frozenset[str]] = frozenset({"profile", "audience"})
    default_base_url: ClassVar[str] = "https://a.klaviyo.com"

    def _make_client(self) -> HttpClient:
        self._lists: dict[str, str] = {}
        key = self.secret("api_key_env", "ATC_KLAVIYO_API_KEY")
        headers = {
            "Authorization": f"Klaviyo-API-Key {key.reveal()}",
            "revision": str(self.settings.get("revision", REVISION)),
            "Accept": JSONAPI,
            "Content-Type": JSONAPI,
        }
        return self.http(headers=headers, secrets=[key])

    @property
    def identifier(self) -> str:
        value = self.settings.get("identifier", "auto")
        if value not in ("auto", "email", "external_id"):
            raise ConfigurationError("klaviyo: 'identifier' must be 'auto', 'email' or 'external_id'")
        return value

    def _key_field(self, record: Record) -> str:
        """The profile field the record key fills: set by ``identifier``, or an address -> email."""
        if self.identifier != "auto":
            return self.identifier
        return "email" if "@" in str(record.key) else "external_id"

    def _lookup(self, record: Record) -> tuple[str, str]:
        """The field and value that find this record's profile: a mapped external_id or email first."""
        for field in ("external_id", "email"):
            if record.payload.get(field):
                return field, str(record.payload[field])
        return self._key_field(record), str(record.key)

    def check(self) -> None:
        response = self.client.request("GET", "/api/accounts")
        if response.status_code >= 400:
            raise ConfigurationError(self.client.redact(f"klaviyo: check failed: {vendor_message(response)}"))

    def _profile(self, record: Record) -> dict[str, Any]:
        payload = as_dict(record.payload)
        key_field = self._key_field(record)
        attributes: dict[str, Any] = {}
        if not payload.get(key_field):
            attributes[key_field] = record.key
        properties: dict[str, Any] = {}
        for field, value in payload.items():
            if field in STANDARD_FIELDS:
                if value is not None:
                    attributes[field] = value
            elif value is not None:
                properties[field] = value
        if properties:
            attributes["properties"] = properties
        return {"type": "profile", "attributes": attributes}

    def _render_sql(self, object: str, mode: str, fields: list[str]) -> RenderSpec | None:
        """Profiles for import jobs, as ``_profile`` builds them, from the payload's known fields."""
        if object != "profile" or not fields or not all(PLAIN_FIELD.match(f) for f in fields):
            return None
        paths = "[" + ", ".join(sql_text(f'$."{f}"') for f in fields) + "]"
        value = {f: f"v[{i + 1}]" for i, f in enumerate(fields)}  # JSON text, 'null' for a null

        def member(field: str) -> str:
            name = sql_text("," + json.dumps(field) + ":")
            return f"case when {value[field]} != 'null' then {name} || {value[field]} else '' end"

        def key_member(field: str) -> str:
            """The key field first: its mapped value, or the record key where the value is null."""
            name = sql_text("," + json.dumps(field) + ":")
            if field not in value:
                return f"{name} || {sql_json('record_key')}"
            return f"{name} || case when {value[field]} = 'null' then {sql_json('record_key')} else {value[field]} end"

        def standard_members(key_field: str) -> str:
            members = [member(f) for f in fields if f in STANDARD_FIELDS and f != key_field]
            return " || ".join([key_member(key_field), *members])

        if self.identifier == "auto":
            standard = (
                f"case when contains(record_key, '@') then {standard_members('email')} "
                f"else {standard_members('external_id')} end"
            )
        else:
            standard = standard_members(self.identifier)
        custom = " || ".join([member(f) for f in fields if f not in STANDARD_FIELDS] or ["''"])
        properties = "case when p = '' then '' else ',\"properties\":{' || substr(p, 2) || '}' end"
        attributes = f"substr({standard} || {properties}, 2)"
        # The payload is parsed once per record: lambdas bind its values (v) and the custom members (p).
        head = '\'{"type":"profile","attributes":{\''
        entity = (
            f"list_transform([json_extract(payload, {paths})::varchar[]], lambda v: "
            f"list_transform([{custom}], lambda p: {head} || {attributes} || '}}}}')[1])[1]"
        )
        return RenderSpec(
            entity={"added": entity, "changed": entity}, max_request_bytes=MAX_IMPORT_BYTES - JOB_ENVELOPE_BYTES
        )

    def write_rendered(self, batch: RenderedBatch) -> dict[int, str]:
        """One import job of profiles the warehouse wrote.

        A refusal that names no profile position or key cannot be laid at one record's door:
        the batch is refused whole, and the engine splits it through ``write``.
        """
        if batch.count > MAX_IMPORT:
            raise BatchRejected(f"klaviyo: {batch.count} profiles exceed the {MAX_IMPORT} a job takes")
        by_identifier = {str(key).lower(): i for i, key in enumerate(batch.keys)}
        problems, unplaced = self._import_job(list(range(batch.count)), batch.entities, None, by_identifier)
        if unplaced:
            raise BatchRejected(f"klaviyo: {unplaced} import error(s) name no profile of the job")
        return problems

    def write(self, batch: Batch) -> list[RecordResult]:
        self.accept(batch)
        problems: dict[int, str] = {}
        importing = [(i, r) for i, r in enumerate(batch.records) if batch.object == "profile" or r.change != "removed"]
        removing = [(i, r) for i, r in enumerate(batch.records) if batch.object == "audience" and r.change == "removed"]
        list_id = self._list_id(str(batch.audience_id)) if batch.object == "audience" else None
        if importing:
            problems.update(self._import(importing, list_id))
        if removing and list_id:
            self._remove(removing, list_id)
        return [refused(record, problems[i]) if i in problems else ok(record) for i, record in enumerate(batch.records)]

    def _import(self, records: list[tuple[int, Record]], list_id: str | None) -> dict[int, str]:
        """One job per 10,000 profiles and 5 MB (the engine's batches usually fit in one)."""
        chunks: list[tuple[list[tuple[int, Record]], list[str]]] = [([], [])]
        size = JOB_ENVELOPE_BYTES
        for item in records:
            encoded = json.dumps(self._profile(item[1]), separators=(",", ":"))
            needed = len(encoded.encode()) + 1
            chunk_records, chunk_profiles = chunks[-1]
            if chunk_records and (len(chunk_records) >= MAX_IMPORT or size + needed > MAX_IMPORT_BYTES):
                chunks.append(([], []))
                size = JOB_ENVELOPE_BYTES
            chunks[-1][0].append(item)
            chunks[-1][1].append(encoded)
            size += needed
        problems: dict[int, str] = {}
        for chunk_records, chunk_profiles in chunks:
            by_identifier = {}
            for i, r in chunk_records:
                by_identifier[str(r.key).lower()] = i
                by_identifier[self._lookup(r)[1].lower()] = i
            found, unplaced = self._import_job(
                [i for i, _ in chunk_records], ",".join(chunk_profiles), list_id, by_identifier
            )
            if unplaced:
                # Some refused profiles cannot be told apart: none of the job is acknowledged,
                # and the engine splits the batch until each refusal has its record.
                raise BatchRejected(f"klaviyo: {unplaced} import error(s) name no profile of the job")
            problems.update(found)
        return problems

    def _import_job(
        self, positions: list[int], profiles: str, list_id: str | None, by_identifier: dict[str, int]
    ) -> tuple[dict[int, str], int]:
        """One job of the encoded ``profiles`` (``positions[i]`` is the i-th profile's record):
        the refused records with Klaviyo's words, and how many refusals matched no record
        (the job's ``failed_count`` beyond the records its import errors name)."""
        # The profiles are encoded once; the body is assembled around them.
        relationships = ""
        if list_id:
            relationships = ',"relationships":' + json.dumps(
                {"lists": {"data": [{"type": "list", "id": list_id}]}}, separators=(",", ":")
            )
        body = (
            '{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":['
            + profiles
            + "]}}"
            + relationships
            + "}}"
        ).encode()
        response = self._send("POST", "/api/profile-bulk-import-jobs", raw=body)
        job = _json(response).get("data") or {}
        job_id = job.get("id")
        if not job_id:
            raise BatchRejected(f"klaviyo: the import answered without a job id ({response.status_code})")
        job = self._wait(job_id, job)
        attributes = job.get("attributes") or {}
        if attributes.get("status") == "cancelled":
            raise TransientError(f"klaviyo: import job {job_id} was cancelled")
        failed = int(attributes.get("failed_count") or 0)
        if not failed:
            return {}, 0
        problems: dict[int, str] = {}
        unplaced = 0
        for error in self._import_errors(job_id):
            details = error.get("attributes") or {}
            position = None
            match = POINTER.search(str((details.get("source") or {}).get("pointer", "")))
            if match and int(match.group(1)) < len(positions):
                position = positions[int(match.group(1))]
            if position is None:
                original = details.get("original_payload") or {}
                for field in ("external_id", "email", "phone_number"):
                    position = by_identifier.get(str(original.get(field, "")).lower())
                    if position is not None:
                        break
            if position is not None:
                text = details.get("detail") or details.get("title") or "refused"
                problems[position] = self.client.redact(f"klaviyo: {text}")
            else:
                unplaced += 1
        # A failure no error names (a page not served, an error without pointer or payload)
        # must not pass for a delivery.
        return problems, max(unplaced, failed - len(problems))

    def _import_errors(self, job_id: str) -> list[dict[str, Any]]:
        """Every import error of the job: Klaviyo serves them in cursor pages (``links.next``).

        The next page is asked of the same endpoint with the cursor the link carries, never of
        the link's host.
        """
        path = f"/api/profile-bulk-import-jobs/{job_id}/import-errors"
        params = {"page[size]": str(MAX_FILTER)}
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        while True:
            body = _json(self._send("GET", path, params=params))
            errors.extend(body.get("data") or [])
            following = (body.get("links") or {}).get("next")
            if not following:
                return errors
            query = {k: v[-1] for k, v in parse_qs(urlsplit(str(following)).query).items()}
            cursor = query.get("page[cursor]")
            if not cursor or cursor in seen:
                raise TransientError(f"klaviyo: the import errors of job {job_id} did not page on")
            seen.add(cursor)
            params = {**query, "page[size]": query.get("page[size]", str(MAX_FILTER))}

    def _wait(self, job_id: str, job: dict[str, Any]) -> dict[str, Any]:
        poll = float(self.settings.get("job_poll_seconds", 2.0))
        deadline = time.monotonic() + float(self.settings.get("job_timeout_seconds", 300.0))
        while (job.get("attributes") or {}).get("status") not in ("complete", "cancelled"):
            if time.monotonic() > deadline:
                raise TransientError(f"klaviyo: import job {job_id} did not complete in time")
            self._sleep(poll)
            job = _json(self._send("GET", f"/api/profile-bulk-import-jobs/{job_id}")).get("data") or {}
        return job

    def _remove(self, records: list[tuple[int, Record]], list_id: str) -> None:
        by_field: dict[str, list[str]] = {}
        for _, record in records:
            field, value = self._lookup(record)
            by_field.setdefault(field, []).append(value)
        ids: list[str] = []
        for field, values in by_field.items():
            for start in range(0, len(values), MAX_FILTER):
                chunk = values[start : start + MAX_FILTER]
                params = {"filter": f"any({field},{json.dumps(chunk)})", "page[size]": str(MAX_FILTER)}
                response = self._send("GET", "/api/profiles", params=params)
                ids.extend(p["id"] for p in _json(response).get("data") or [] if p.get("id"))
        # Keys that match no profile are not members: nothing to remove, and the removal holds.
        for start in range(0, len(ids), MAX_RELATIONSHIPS):
            body = {"data": [{"type": "profile", "id": pid} for pid in ids[start : start + MAX_RELATIONSHIPS]]}
            self._send("DELETE", f"/api/lists/{list_id}/relationships/profiles", body)

    def _list_id(self, audience_id: str) -> str:
        """A Klaviyo list id as is (``list_ids: true``), else a list name looked up and created if missing.

        Under the instance's lock: two batches of one list sent at once never both create it.
        """
        if self.settings.get("list_ids"):
            return audience_id
        return self._named_list(audience_id, self._lists, self._find_list, self._create_list)

    def _find_list(self, name: str) -> str | None:
        """The id of the list with this name (``GET /api/lists?filter=equals(name,"...")``), or None."""
        response = self._send("GET", "/api/lists", params={"filter": f"equals(name,{json.dumps(name)})"})
        found = [item["id"] for item in _json(response).get("data") or [] if item.get("id")]
        return found[0] if found else None

    def _create_list(self, name: str) -> str:
        """``POST /api/lists`` once per attempt; before each new attempt, look the name up again.

        Klaviyo documents no idempotency for list creation: a retried create whose first
        answer was lost would make a second list with the same name.
        """
        attempts = max(1, self.policy.attempts)
        body = {"data": {"type": "list", "attributes": {"name": name}}}
        failure: TransientError | None = None
        for attempt in range(attempts):
            if attempt:
                self._sleep(min(self.policy.max_wait, self.policy.initial_wait * 2 ** (attempt - 1)))
                found = self._find_list(name)
                if found is not None:
                    return found
            try:  # no blind retry of the create
                created = _json(self._send("POST", "/api/lists", body, attempts=1)).get("data") or {}
            except TransientError as exc:
                failure = exc
                continue
            if not created.get("id"):
                raise ConfigurationError(f"klaviyo: creating list {name!r} answered without an id")
            return created["id"]
        raise TransientError(f"klaviyo: creating list {name!r} failed {attempts} times: {failure}")

    def _send(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, str] | None = None,
        *,
        raw: bytes | None = None,
        attempts: int | None = None,
    ):
        data = raw
        if data is None and body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
        response = self.client.request(method, path, data=data, params=params, attempts=attempts)
        if response.status_code == 404:
            raise ConfigurationError(self.client.redact(f"klaviyo: {path}: {vendor_message(response)}"))
        if response.status_code >= 400:
            raise BatchRejected(self.client.redact(f"klaviyo: {vendor_message(response)}"), status=response.status_code)
        return response


def _json(response) -> Any:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
