"""Iterable: ``POST /api/users/bulkUpdate``, ``POST /api/lists/subscribe`` / ``unsubscribe``, lists.

``GET /api/lists`` lists them, ``POST /api/lists`` creates one by name.

From https://api.iterable.com/api/docs (Users and Lists sections) and
https://support.iterable.com/hc/en-us/articles/204780579-API-Overview-and-Sample-Payloads:
``Api-Key`` header; bulkUpdate takes ``{"users": [{"email" | "userId", "dataFields", "preferUserId"}]}``
(at most 1,000 users and 4 MB); list calls take ``{"listId", "subscribers": [...]}``.
Answers carry ``successCount``, ``failCount`` and ``failedUpdates`` (``invalidEmails``,
``invalidUserIds``, ``notFoundEmails``, ``notFoundUserIds``, ...). Errors are
``{"msg", "code", "params"}`` with codes such as ``BadApiKey``, ``InvalidJsonBody``,
``BadParams`` and ``RateLimitExceeded``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from activation.sandbox.base import BodyError, Vendor, handler

MAX_USERS = 1000
MAX_BYTES = 4 * 1024 * 1024
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LISTS = {1001: "journey-atc sandbox list A", 1002: "journey-atc sandbox list B"}

_FAILED_KEYS = (
    "invalidEmails",
    "invalidUserIds",
    "notFoundEmails",
    "notFoundUserIds",
    "forgottenEmails",
    "forgottenUserIds",
    "conflictEmails",
    "conflictUserIds",
    "invalidDataEmails",
    "invalidDataUserIds",
)

CODES = {400: "BadParams", 401: "BadApiKey", 413: "BadParams", 429: "RateLimitExceeded"}


def _empty_failures() -> dict[str, list[str]]:
    return {key: [] for key in _FAILED_KEYS}


class Iterable(Vendor):
    name = "iterable"

    def reset(self) -> None:
        with self.lock:
            self.users: dict[str, dict[str, Any]] = {}
            self.lists: dict[int, set[str]] = {list_id: set() for list_id in LISTS}
            self.list_names: dict[int, str] = dict(LISTS)
            self.stats = {}

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "users": {k: dict(v) for k, v in sorted(self.users.items())},
                "lists": {str(k): sorted(v) for k, v in sorted(self.lists.items())},
                "list_names": {str(k): v for k, v in sorted(self.list_names.items())},
                "stats": dict(self.stats),
            }

    def authenticated(self, request: Request) -> bool:
        return request.headers.get("api-key") == self.credentials["ATC_SANDBOX_ITERABLE_API_KEY"]

    def unauthorized(self):
        return self.error(401, "Invalid API key", code="BadApiKey")

    def error_body(self, status: int, message: str, **extra: Any) -> Any:
        code = extra.get("code") or (CODES.get(status) if status < 500 else "GenericError")
        return {"msg": message, "code": code, "params": extra.get("params")}

    def routes(self) -> list[Route]:
        return [
            Route("/iterable/api/users/bulkUpdate", handler(self, self.bulk_update), methods=["POST"]),
            Route("/iterable/api/lists/subscribe", handler(self, self.subscribe), methods=["POST"]),
            Route("/iterable/api/lists/unsubscribe", handler(self, self.unsubscribe), methods=["POST"]),
            Route("/iterable/api/lists", handler(self, self.get_lists), methods=["GET"]),
            Route("/iterable/api/lists", handler(self, self.create_list), methods=["POST"]),
        ]

    async def get_lists(self, request: Request):
        with self.lock:
            lists = [{"id": k, "name": v, "listType": "Standard"} for k, v in sorted(self.list_names.items())]
        return JSONResponse({"lists": lists})

    async def create_list(self, request: Request):
        body = await self.read_json(request)
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            raise BodyError(400, "'name' is required", code="BadParams")
        with self.lock:
            list_id = max(self.list_names) + 1
            self.list_names[list_id] = name
            self.lists[list_id] = set()
        return JSONResponse({"listId": list_id})

    def _identify(self, user: Any, failures: dict[str, list[str]]) -> str | None:
        """The stored key for a user object, or None (recorded in failures) when it is refused."""
        if not isinstance(user, dict):
            raise BodyError(400, "each user must be an object", code="InvalidJsonBody")
        email, user_id = user.get("email"), user.get("userId")
        if email in (None, "") and user_id in (None, ""):
            raise BodyError(400, "each user needs 'email' or 'userId'", code="BadParams")
        prefer_user_id = bool(user.get("preferUserId")) or email in (None, "")
        if not prefer_user_id:
            if not isinstance(email, str) or not EMAIL.match(email):
                failures["invalidEmails"].append(str(email))
                return None
            if self.faults.rejects(self.name, email):
                self.faults.count_rejection(self.name)
                failures["invalidEmails"].append(email)
                return None
            return f"email:{email.lower()}"
        if not isinstance(user_id, str):
            failures["invalidUserIds"].append(str(user_id))
            return None
        if self.faults.rejects(self.name, email or user_id):
            self.faults.count_rejection(self.name)
            failures["invalidUserIds"].append(user_id)
            return None
        return f"userId:{user_id}"

    async def bulk_update(self, request: Request):
        body = await self.read_json(request, max_bytes=MAX_BYTES)
        if not isinstance(body, dict) or not isinstance(body.get("users"), list):
            raise BodyError(400, "body must be an object with a 'users' array", code="InvalidJsonBody")
        users = body["users"]
        if len(users) > MAX_USERS:
            raise BodyError(400, f"at most {MAX_USERS} users per request; got {len(users)}", code="BadParams")
        failures = _empty_failures()
        success = 0
        with self.lock:
            for user in users:
                data = user.get("dataFields", {}) if isinstance(user, dict) else None
                if data is not None and not isinstance(data, dict):
                    raise BodyError(400, "'dataFields' must be an object", code="InvalidJsonBody")
                key = self._identify(user, failures)
                if key is None:
                    continue
                stored = self.users.setdefault(key, {"dataFields": {}})
                for field in ("email", "userId"):
                    if user.get(field):
                        stored[field] = user[field]
                stored["dataFields"].update(data or {})
                success += 1
        return self._answer(success, failures)

    def _answer(self, success: int, failures: dict[str, list[str]]):
        fail = sum(len(v) for v in failures.values())
        return JSONResponse(
            {
                "successCount": success,
                "failCount": fail,
                "invalidEmails": failures["invalidEmails"],
                "invalidUserIds": failures["invalidUserIds"],
                "failedUpdates": {k: v for k, v in failures.items()},
            }
        )

    async def _list_call(self, request: Request, subscribe: bool):
        body = await self.read_json(request, max_bytes=MAX_BYTES)
        if not isinstance(body, dict) or not isinstance(body.get("subscribers"), list):
            raise BodyError(400, "body must carry 'listId' and a 'subscribers' array", code="InvalidJsonBody")
        list_id = body.get("listId")
        if not isinstance(list_id, int):
            raise BodyError(400, "'listId' must be an integer", code="BadParams")
        if list_id not in self.lists:
            raise BodyError(400, f"list {list_id} does not exist", code="BadParams")
        if len(body["subscribers"]) > MAX_USERS:
            raise BodyError(400, f"at most {MAX_USERS} subscribers per request", code="BadParams")
        failures = _empty_failures()
        success = 0
        with self.lock:
            for subscriber in body["subscribers"]:
                key = self._identify(subscriber, failures)
                if key is None:
                    continue
                if subscribe:
                    if body.get("updateExistingUsersOnly") and key not in self.users:
                        bucket = "notFoundEmails" if key.startswith("email:") else "notFoundUserIds"
                        failures[bucket].append(key.split(":", 1)[1])
                        continue
                    stored = self.users.setdefault(key, {"dataFields": {}})
                    for field in ("email", "userId"):
                        if subscriber.get(field):
                            stored[field] = subscriber[field]
                    self.lists[list_id].add(key)
                else:
                    self.lists[list_id].discard(key)
                success += 1
        return self._answer(success, failures)

    async def subscribe(self, request: Request):
        return await self._list_call(request, subscribe=True)

    async def unsubscribe(self, request: Request):
        return await self._list_call(request, subscribe=False)
