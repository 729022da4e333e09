"""Klaviyo JSON:API (https://developers.klaviyo.com/en/reference/api_overview).

``Authorization: Klaviyo-API-Key <private key>`` and a dated ``revision`` header
on every call. Errors are JSON:API: ``{"errors": [{"id", "status", "code", "title",
"detail", "source": {"pointer"}}]}``; 429 carries ``Retry-After`` and
``RateLimit-Limit`` / ``RateLimit-Remaining`` / ``RateLimit-Reset``.

* ``POST /api/profile-bulk-import-jobs``: up to 10,000 profiles and 5 MB, optional
  ``relationships.lists``; answers 202 with the job
  (https://developers.klaviyo.com/en/docs/use_klaviyos_bulk_profile_import_api).
  The sandbox processes the job at once (status ``complete``), or after the client has polled
  ``GET /api/profile-bulk-import-jobs/{id}`` ``job_pending_polls`` times when that fault is set;
  refused profiles are listed by ``GET /api/profile-bulk-import-jobs/{id}/import-errors``,
  in cursor pages (``page[size]`` up to 100, default 20; ``links.next``).
* ``GET /api/profiles?filter=any(email,[...])`` (page size up to 100).
* ``POST`` / ``DELETE /api/lists/{id}/relationships/profiles`` with
  ``{"data": [{"type": "profile", "id"}]}``, up to 1,000 per call, answer 204.
* ``GET /api/lists?filter=equals(name,"...")`` and ``POST /api/lists`` (create a list by name).
* ``GET /api/accounts`` for the connection check.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from activation.sandbox.base import BodyError, Vendor, handler
from activation.sandbox.vendors.braze import EMAIL

MAX_IMPORT_PROFILES = 10_000
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_RELATIONSHIPS = 1000
MAX_PAGE = 100
REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.pre)?$")
LISTS = ("SbxLstA", "SbxLstB")
NAME_FILTER = re.compile(r'^equals\(name,("(?:[^"\\]|\\.)*")\)$')
FILTER = re.compile(r"^any\((email|external_id|phone_number|id),\[(.*)\]\)$")


IDENTIFIERS = ("email", "external_id", "phone_number")


class Klaviyo(Vendor):
    name = "klaviyo"

    def reset(self) -> None:
        with self.lock:
            self.profiles: dict[str, dict[str, Any]] = {}
            # identifier -> profile id, so a lookup costs the same at 100 profiles and at a million
            self._index: dict[str, dict[Any, str]] = {field: {} for field in IDENTIFIERS}
            self.lists: dict[str, set[str]] = {list_id: set() for list_id in LISTS}
            self.list_names: dict[str, str] = {list_id: f"journey-atc sandbox {list_id}" for list_id in LISTS}
            self.jobs: dict[str, dict[str, Any]] = {}
            self.import_errors: dict[str, list[dict[str, Any]]] = {}
            self._work: dict[str, tuple[list[Any], list[str], int]] = {}
            self._next = 1
            self.stats = {}

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "profiles": {k: json.loads(json.dumps(v)) for k, v in sorted(self.profiles.items())},
                "lists": {k: sorted(v) for k, v in sorted(self.lists.items())},
                "list_names": dict(sorted(self.list_names.items())),
                "jobs": len(self.jobs),
                "stats": dict(self.stats),
            }

    def authenticated(self, request: Request) -> bool:
        expected = self.credentials["ATC_SANDBOX_KLAVIYO_API_KEY"]
        return request.headers.get("authorization", "") == f"Klaviyo-API-Key {expected}"

    def unauthorized(self):
        return self.error(401, "Incorrect authentication credentials.", code="not_authenticated")

    def error_body(self, status: int, message: str, **extra: Any) -> Any:
        codes = {400: "invalid", 401: "not_authenticated", 404: "not_found", 413: "invalid", 429: "throttled"}
        return {
            "errors": [
                {
                    "id": str(uuid.uuid4()),
                    "status": status,
                    "code": extra.get("code") or codes.get(status, "error"),
                    "title": extra.get("title") or message.split(":")[0],
                    "detail": message,
                    "source": {"pointer": extra.get("pointer", "/data/")},
                }
            ]
        }

    def rate_limit_headers(self, retry_after: float) -> dict[str, str]:
        headers = super().rate_limit_headers(retry_after)
        headers.update({"RateLimit-Limit": "10", "RateLimit-Remaining": "0", "RateLimit-Reset": headers["Retry-After"]})
        return headers

    def routes(self) -> list[Route]:
        return [
            Route("/klaviyo/api/profile-bulk-import-jobs", handler(self, self.spawn_import), methods=["POST"]),
            Route("/klaviyo/api/profile-bulk-import-jobs/{job_id}", handler(self, self.get_job), methods=["GET"]),
            Route(
                "/klaviyo/api/profile-bulk-import-jobs/{job_id}/import-errors",
                handler(self, self.get_import_errors),
                methods=["GET"],
            ),
            Route("/klaviyo/api/profiles", handler(self, self.get_profiles), methods=["GET"]),
            Route(
                "/klaviyo/api/lists/{list_id}/relationships/profiles",
                handler(self, self.list_relationships),
                methods=["POST", "DELETE"],
            ),
            Route("/klaviyo/api/accounts", handler(self, self.accounts), methods=["GET"]),
            Route("/klaviyo/api/lists", handler(self, self.get_lists), methods=["GET"]),
            Route("/klaviyo/api/lists", handler(self, self.create_list), methods=["POST"]),
        ]

    def _check_revision(self, request: Request) -> None:
        revision = request.headers.get("revision")
        if not revision:
            raise BodyError(
                400, "Missing revision header: a 'revision' header (YYYY-MM-DD) is required", code="invalid"
            )
        if not REVISION.match(revision):
            raise BodyError(400, f"Invalid revision header {revision!r}", code="invalid")

    def _check_content_type(self, request: Request) -> None:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith(("application/vnd.api+json", "application/json")):
            raise BodyError(415, "Unsupported media type: use application/vnd.api+json", code="unsupported_media_type")

    async def get_lists(self, request: Request):
        self._check_revision(request)
        wanted = None
        raw = request.query_params.get("filter")
        if raw:
            match = NAME_FILTER.match(raw)
            if not match:
                raise BodyError(400, 'filter must be equals(name,"...")', pointer="filter")
            wanted = json.loads(match.group(1))
        with self.lock:
            data = [
                {"type": "list", "id": list_id, "attributes": {"name": name}}
                for list_id, name in sorted(self.list_names.items())
                if wanted is None or name == wanted
            ]
        return JSONResponse({"data": data, "links": {"self": str(request.url), "next": None}})

    async def create_list(self, request: Request):
        self._check_revision(request)
        self._check_content_type(request)
        body = await self.read_json(request)
        data = body.get("data") if isinstance(body, dict) else None
        name = ((data or {}).get("attributes") or {}).get("name") if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("type") != "list" or not isinstance(name, str) or not name:
            raise BodyError(400, "data must be {'type': 'list', 'attributes': {'name': ...}}", pointer="/data")
        with self.lock:
            list_id = f"SbxL{len(self.list_names) + 1:03d}"
            self.list_names[list_id] = name
            self.lists[list_id] = set()
        return JSONResponse({"data": {"type": "list", "id": list_id, "attributes": {"name": name}}}, status_code=201)

    async def accounts(self, request: Request):
        self._check_revision(request)
        return JSONResponse({"data": [{"type": "account", "id": "SbxAcct", "attributes": {"test_account": True}}]})

    def _find(self, field: str, value: Any) -> str | None:
        return self._index[field].get(value)

    def _upsert(self, attributes: dict[str, Any]) -> str:
        profile_id = None
        for field in ("email", "external_id", "phone_number"):
            if attributes.get(field):
                profile_id = self._find(field, attributes[field])
                if profile_id:
                    break
        if profile_id is None:
            profile_id = f"01SBX{self._next:021d}"
            self._next += 1
            self.profiles[profile_id] = {"properties": {}}
        profile = self.profiles[profile_id]
        for key, value in attributes.items():
            if key == "properties":
                # The bulk import API does not clear fields with null; only non-null values update.
                profile["properties"].update({k: v for k, v in (value or {}).items() if v is not None})
            elif value is not None:
                if key in self._index and profile.get(key) != value:
                    index = self._index[key]
                    if index.get(profile.get(key)) == profile_id:
                        del index[profile.get(key)]
                    index.setdefault(value, profile_id)  # the first profile holding a value keeps it
                profile[key] = value
        return profile_id

    async def spawn_import(self, request: Request):
        self._check_revision(request)
        self._check_content_type(request)
        body = await self.read_json(request, max_bytes=MAX_IMPORT_BYTES, too_large_status=413)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != "profile-bulk-import-job":
            raise BodyError(400, "data.type must be 'profile-bulk-import-job'", pointer="/data/type")
        profiles = ((data.get("attributes") or {}).get("profiles") or {}).get("data")
        if not isinstance(profiles, list) or not profiles:
            raise BodyError(400, "data.attributes.profiles.data must be a non-empty array", pointer="/data/attributes")
        if len(profiles) > MAX_IMPORT_PROFILES:
            raise BodyError(400, f"at most {MAX_IMPORT_PROFILES} profiles per job; got {len(profiles)}")
        list_ids = [rel.get("id") for rel in (((data.get("relationships") or {}).get("lists") or {}).get("data") or [])]
        for list_id in list_ids:
            if list_id not in self.lists:
                raise BodyError(404, f"list {list_id} does not exist", pointer="/data/relationships/lists")
        for index, profile in enumerate(profiles):  # the whole body is validated before anything is applied
            pointer = f"/data/attributes/profiles/data/{index}"
            if not isinstance(profile, dict) or profile.get("type") != "profile":
                raise BodyError(400, "each profile must be {'type': 'profile', 'attributes': {...}}", pointer=pointer)
            attributes = profile.get("attributes") or {}
            if not any(attributes.get(k) for k in ("email", "phone_number", "external_id")):
                raise BodyError(400, "a profile needs email, phone_number or external_id", pointer=pointer)
        job_id = str(uuid.uuid4())
        now = _now()
        job = {
            "type": "profile-bulk-import-job",
            "id": job_id,
            "attributes": {
                "status": "queued",
                "created_at": now,
                "total_count": len(profiles),
                "completed_count": 0,
                "failed_count": 0,
                "completed_at": None,
                "expires_at": None,
                "started_at": None,
            },
        }
        pending = int(self.faults.vendors[self.name].job_pending_polls)
        with self.lock:
            self.jobs[job_id] = job
            self.import_errors[job_id] = []
            self._work[job_id] = (profiles, list_ids, pending)
            if pending <= 0:
                self._process(job_id)
        return JSONResponse({"data": job}, status_code=202)

    def _process(self, job_id: str) -> None:
        """Run a queued job: upsert each valid profile, list refused ones as import errors."""
        profiles, list_ids, _ = self._work.pop(job_id)
        errors: list[dict[str, Any]] = []
        for index, profile in enumerate(profiles):
            attributes = profile.get("attributes") or {}
            email = attributes.get("email")
            refused = None
            if email is not None and not (isinstance(email, str) and EMAIL.match(email)):
                refused = f"Invalid email address {email!r}"
            elif self.faults.rejects(self.name, email or attributes.get("external_id")):
                self.faults.count_rejection(self.name)
                refused = f"Profile refused: {email or attributes.get('external_id')}"
            if refused:
                errors.append(
                    {
                        "type": "import-error",
                        "id": str(uuid.uuid4()),
                        "attributes": {
                            "code": "invalid",
                            "title": "Invalid input.",
                            "detail": refused,
                            "source": {"pointer": f"/data/attributes/profiles/data/{index}/attributes/email"},
                            "original_payload": attributes,
                        },
                    }
                )
                continue
            profile_id = self._upsert(attributes)
            for list_id in list_ids:
                self.lists[list_id].add(profile_id)
        now = _now()
        self.jobs[job_id]["attributes"].update(
            {
                "status": "complete",
                "completed_count": len(profiles) - len(errors),
                "failed_count": len(errors),
                "started_at": now,
                "completed_at": now,
                "expires_at": now,
            }
        )
        self.import_errors[job_id] = errors

    async def get_job(self, request: Request):
        self._check_revision(request)
        job_id = request.path_params["job_id"]
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise BodyError(404, "job not found")
            if job_id in self._work:
                profiles, list_ids, pending = self._work[job_id]
                if pending <= 1:
                    self._process(job_id)
                else:
                    self._work[job_id] = (profiles, list_ids, pending - 1)
                    job["attributes"]["status"] = "processing"
            return JSONResponse({"data": job})

    async def get_import_errors(self, request: Request):
        self._check_revision(request)
        job_id = request.path_params["job_id"]
        if job_id not in self.jobs:
            raise BodyError(404, "job not found")
        # Cursor pages as Klaviyo serves them: page[size] (default 20, at most 100), and
        # links.next, the URL of the next page (page[cursor]), null on the last one.
        try:
            size = int(request.query_params.get("page[size]", 20))
        except ValueError:
            size = 0
        if not 1 <= size <= MAX_PAGE:
            raise BodyError(400, f"page[size] must be between 1 and {MAX_PAGE}", pointer="page[size]")
        cursor = request.query_params.get("page[cursor]")
        start = _cursor_offset(cursor) if cursor else 0
        if start is None:
            raise BodyError(400, "page[cursor] is not a cursor this endpoint gave", pointer="page[cursor]")
        errors = self.import_errors[job_id]
        following = None
        if start + size < len(errors):
            following = str(request.url.include_query_params(**{"page[cursor]": _cursor(start + size)}))
        return JSONResponse(
            {"data": errors[start : start + size], "links": {"self": str(request.url), "next": following}}
        )

    async def get_profiles(self, request: Request):
        self._check_revision(request)
        match = FILTER.match(request.query_params.get("filter", ""))
        if not match:
            raise BodyError(400, "filter must be any(<email|external_id|phone_number|id>,[...])", pointer="filter")
        field, raw = match.groups()
        try:
            values = json.loads(f"[{raw}]")
        except ValueError:
            raise BodyError(400, "filter values must be quoted strings", pointer="filter") from None
        size = int(request.query_params.get("page[size]", 20))
        if not 1 <= size <= MAX_PAGE or len(values) > MAX_PAGE:
            raise BodyError(400, f"page[size] and the filter list are limited to {MAX_PAGE}", pointer="page[size]")
        with self.lock:
            if field == "id":
                ids = {v for v in values if v in self.profiles}
            else:
                ids = {self._index[field][v] for v in values if v in self._index[field]}
            found = [
                {"type": "profile", "id": pid, "attributes": {k: v for k, v in p.items() if k != "properties"}}
                for pid, p in ((pid, self.profiles[pid]) for pid in sorted(ids))
            ]
        return JSONResponse({"data": found[:size], "links": {"self": str(request.url), "next": None}})

    async def list_relationships(self, request: Request):
        self._check_revision(request)
        self._check_content_type(request)
        list_id = request.path_params["list_id"]
        if list_id not in self.lists:
            raise BodyError(404, f"list {list_id} does not exist")
        body = await self.read_json(request)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not data:
            raise BodyError(400, "data must be a non-empty array of {'type': 'profile', 'id'}")
        if len(data) > MAX_RELATIONSHIPS:
            raise BodyError(400, f"at most {MAX_RELATIONSHIPS} profiles per call; got {len(data)}")
        ids = []
        for index, item in enumerate(data):
            if not isinstance(item, dict) or item.get("type") != "profile" or not item.get("id"):
                raise BodyError(400, "each item must be {'type': 'profile', 'id': ...}", pointer=f"/data/{index}")
            if item["id"] not in self.profiles:
                raise BodyError(404, f"profile {item['id']} does not exist", pointer=f"/data/{index}/id")
            ids.append(item["id"])
        with self.lock:
            if request.method == "POST":
                self.lists[list_id].update(ids)
            else:
                self.lists[list_id].difference_update(ids)
        return Response(status_code=204)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _cursor_offset(cursor: str) -> int | None:
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        return int(value) if kind == "offset" and int(value) >= 0 else None
    except ValueError:
        return None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
