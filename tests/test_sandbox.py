"""The channel sandbox behaves like the vendors it emulates: auth, validation, limits, dedupe, faults."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
import requests
from click.testing import CliRunner

from activation.sandbox import SANDBOX_DEFAULTS, SandboxServer
from activation.sandbox.faults import FaultConfigError, FaultInjector

BRAZE_AUTH = {"Authorization": f"Bearer {SANDBOX_DEFAULTS['ATC_SANDBOX_BRAZE_API_KEY']}"}
ITERABLE_AUTH = {"Api-Key": SANDBOX_DEFAULTS["ATC_SANDBOX_ITERABLE_API_KEY"]}
CIO_AUTH = (SANDBOX_DEFAULTS["ATC_SANDBOX_CUSTOMERIO_SITE_ID"], SANDBOX_DEFAULTS["ATC_SANDBOX_CUSTOMERIO_API_KEY"])
KLAVIYO_AUTH = {
    "Authorization": f"Klaviyo-API-Key {SANDBOX_DEFAULTS['ATC_SANDBOX_KLAVIYO_API_KEY']}",
    "revision": "2026-01-15",
    "Content-Type": "application/vnd.api+json",
}
SEGMENT_AUTH = (SANDBOX_DEFAULTS["ATC_SANDBOX_SEGMENT_WRITE_KEY"], "")


@pytest.fixture(scope="module")
def server():
    with SandboxServer() as sandbox:
        yield sandbox


@pytest.fixture()
def sandbox(server):
    server.reset()
    yield server
    server.reset()


def post(sandbox, path, **kwargs):
    return requests.post(sandbox.url + path, timeout=10, **kwargs)


def sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def webhook_post(sandbox, payload, msg_id="msg_1", secret=None):
    body = json.dumps(payload).encode()
    ts = str(int(time.time()))
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": ts,
        "webhook-signature": sign(secret or SANDBOX_DEFAULTS["ATC_SANDBOX_WEBHOOK_SECRET"], msg_id, ts, body),
        "Content-Type": "application/json",
    }
    return post(sandbox, "/webhook/journeys", data=body, headers=headers)


# -- authentication -----------------------------------------------------------------


def test_each_vendor_refuses_a_wrong_credential_with_its_own_401_body(sandbox):
    braze = post(
        sandbox,
        "/braze/users/track",
        json={"attributes": [{"external_id": "u"}]},
        headers={"Authorization": "Bearer nope"},
    )
    iterable = post(sandbox, "/iterable/api/users/bulkUpdate", json={"users": []}, headers={"Api-Key": "nope"})
    cio = post(sandbox, "/customerio/api/v2/batch", json={"batch": []}, auth=("site", "nope"))
    klaviyo = requests.get(
        sandbox.url + "/klaviyo/api/accounts", headers={**KLAVIYO_AUTH, "Authorization": "Klaviyo-API-Key nope"}
    )
    segment = post(sandbox, "/segment/v1/batch", json={"batch": []}, auth=("nope", ""))
    webhook = webhook_post(
        sandbox,
        {"type": "profile.entered", "data": {"key": "u"}},
        secret="whsec_" + base64.b64encode(b"other").decode(),
    )
    assert [r.status_code for r in (braze, iterable, cio, klaviyo, segment, webhook)] == [401] * 6
    assert "message" in braze.json()
    assert iterable.json()["code"] == "BadApiKey"
    assert "error" in cio.json()["meta"]
    assert klaviyo.json()["errors"][0]["code"] == "not_authenticated"
    assert segment.json()["success"] is False
    assert "signature" in webhook.json()["error"]
    assert sandbox.state()["braze"]["users"] == {}


def test_the_right_credentials_are_the_documented_sandbox_defaults(sandbox):
    assert (
        post(
            sandbox,
            "/braze/users/track",
            json={"attributes": [{"external_id": "u1", "plan": "gold"}]},
            headers=BRAZE_AUTH,
        ).status_code
        == 201
    )
    assert requests.get(sandbox.url + "/iterable/api/lists", headers=ITERABLE_AUTH).status_code == 200
    assert requests.get(sandbox.url + "/customerio/api/v1/accounts/region", auth=CIO_AUTH).status_code == 200
    assert requests.get(sandbox.url + "/klaviyo/api/accounts", headers=KLAVIYO_AUTH).status_code == 200
    assert post(sandbox, "/segment/v1/batch", json={"batch": []}, auth=SEGMENT_AUTH).status_code == 200
    assert sandbox.state()["braze"]["users"] == {"u1": {"plan": "gold"}}


# -- validation in each vendor's error format -----------------------------------------


def test_a_braze_object_without_identifier_is_a_minor_error_and_the_rest_is_applied(sandbox):
    r = post(
        sandbox,
        "/braze/users/track",
        json={"attributes": [{"plan": "x"}, {"external_id": "u2", "plan": "y"}]},
        headers=BRAZE_AUTH,
    )
    assert r.status_code == 201
    assert r.json()["message"] == "success"
    assert r.json()["errors"] == [{"type": r.json()["errors"][0]["type"], "input_array": "attributes", "index": 0}]
    assert sandbox.state()["braze"]["users"] == {"u2": {"plan": "y"}}


def test_malformed_bodies_get_400_in_each_vendors_format(sandbox):
    braze = post(sandbox, "/braze/users/track", json={"attributes": {"external_id": "u"}}, headers=BRAZE_AUTH)
    iterable = post(sandbox, "/iterable/api/users/bulkUpdate", json={"people": []}, headers=ITERABLE_AUTH)
    cio = post(sandbox, "/customerio/api/v2/batch", json={"entities": []}, auth=CIO_AUTH)
    klaviyo = post(
        sandbox,
        "/klaviyo/api/profile-bulk-import-jobs",
        json={"data": {"type": "profile", "attributes": {}}},
        headers=KLAVIYO_AUTH,
    )
    segment = post(sandbox, "/segment/v1/batch", json={"batch": [{"type": "track", "userId": "u"}]}, auth=SEGMENT_AUTH)
    assert [r.status_code for r in (braze, iterable, cio, klaviyo, segment)] == [400] * 5
    assert braze.json()["message"]
    assert iterable.json()["code"] == "InvalidJsonBody"
    assert cio.json()["errors"][0]["field"] == "batch"
    assert klaviyo.json()["errors"][0]["source"]["pointer"] == "/data/type"
    assert "event" in segment.json()["message"]


def test_klaviyo_requires_a_revision_header(sandbox):
    headers = {k: v for k, v in KLAVIYO_AUTH.items() if k != "revision"}
    r = requests.get(sandbox.url + "/klaviyo/api/accounts", headers=headers)
    assert r.status_code == 400
    assert "revision" in r.json()["errors"][0]["detail"]


# -- batch and size limits -------------------------------------------------------------


def test_oversize_batches_are_refused_with_400_or_413(sandbox):
    braze = post(
        sandbox,
        "/braze/users/track",
        json={"attributes": [{"external_id": f"u{i}"} for i in range(76)]},
        headers=BRAZE_AUTH,
    )
    iterable = post(
        sandbox,
        "/iterable/api/users/bulkUpdate",
        json={"users": [{"email": f"u{i}@x.io"} for i in range(1001)]},
        headers=ITERABLE_AUTH,
    )
    big = "x" * 20_000
    cio = post(
        sandbox,
        "/customerio/api/v2/batch",
        json={
            "batch": [
                {"type": "person", "identifiers": {"id": str(i)}, "action": "identify", "attributes": {"b": big}}
                for i in range(30)
            ]
        },
        auth=CIO_AUTH,
    )
    segment_batch = post(
        sandbox,
        "/segment/v1/batch",
        json={"batch": [{"type": "identify", "userId": str(i), "traits": {"b": big}} for i in range(30)]},
        auth=SEGMENT_AUTH,
    )
    segment_message = post(
        sandbox,
        "/segment/v1/batch",
        json={"batch": [{"type": "identify", "userId": "u", "traits": {"b": "x" * 40_000}}]},
        auth=SEGMENT_AUTH,
    )
    klaviyo = post(
        sandbox,
        "/klaviyo/api/lists/SbxLstA/relationships/profiles",
        json={"data": [{"type": "profile", "id": str(i)} for i in range(1001)]},
        headers=KLAVIYO_AUTH,
    )
    assert (braze.status_code, iterable.status_code, cio.status_code) == (400, 400, 413)
    assert (segment_batch.status_code, segment_message.status_code, klaviyo.status_code) == (400, 400, 400)
    state = sandbox.state()
    assert state["braze"]["users"] == {} and state["iterable"]["users"] == {} and state["customerio"]["people"] == {}
    assert state["segment"]["users"] == {}


# -- idempotency -------------------------------------------------------------------------


def test_segment_applies_a_resent_message_id_once(sandbox):
    batch = {"batch": [{"type": "track", "userId": "u1", "event": "Audience Entered", "messageId": "m-1"}]}
    assert post(sandbox, "/segment/v1/batch", json=batch, auth=SEGMENT_AUTH).status_code == 200
    assert post(sandbox, "/segment/v1/batch", json=batch, auth=SEGMENT_AUTH).status_code == 200
    state = sandbox.state()["segment"]
    assert len(state["events"]) == 1
    assert state["stats"]["duplicates"] == 1


def test_the_webhook_receiver_applies_a_resent_webhook_id_once(sandbox):
    payload = {
        "type": "audience.entered",
        "timestamp": "2026-11-01T00:00:00Z",
        "data": {"key": "u1", "audience_id": "welcome", "payload": {}},
    }
    assert webhook_post(sandbox, payload, msg_id="msg_a").status_code == 200
    assert webhook_post(sandbox, payload, msg_id="msg_a").json()["duplicate"] is True
    state = sandbox.state()["webhook"]
    assert len(state["deliveries"]) == 1
    assert state["members"] == {"welcome": {"u1": {}}}


def test_the_webhook_receiver_refuses_a_stale_timestamp(sandbox):
    body = json.dumps({"type": "profile.entered", "data": {"key": "u"}}).encode()
    ts = str(int(time.time()) - 3600)
    headers = {
        "webhook-id": "m",
        "webhook-timestamp": ts,
        "webhook-signature": sign(SANDBOX_DEFAULTS["ATC_SANDBOX_WEBHOOK_SECRET"], "m", ts, body),
    }
    r = post(sandbox, "/webhook/x", data=body, headers=headers)
    assert r.status_code == 401
    assert "tolerance" in r.json()["error"]


# -- rate limits and faults ------------------------------------------------------------------


def test_the_rate_limit_answers_429_with_retry_after_and_vendor_headers(sandbox):
    sandbox.set_faults({"vendors": {"braze": {"rate_limit": {"requests_per_second": 0.5, "burst": 2}}}})
    codes = [
        post(sandbox, "/braze/users/track", json={"attributes": [{"external_id": "u"}]}, headers=BRAZE_AUTH)
        for _ in range(3)
    ]
    assert [r.status_code for r in codes] == [201, 201, 429]
    assert float(codes[2].headers["Retry-After"]) > 0
    assert int(codes[2].headers["X-RateLimit-Reset"]) > time.time()


def test_klaviyo_holds_its_documented_burst_and_steady_limits_by_default():
    from activation.sandbox.faults import DEFAULT_RATE_LIMITS

    # Bulk import jobs and list relationships: burst 10/s, steady 150/min.
    assert DEFAULT_RATE_LIMITS["klaviyo"] == {"requests_per_second": 10.0, "burst": 10, "per_minute": 150}


def test_a_steady_per_minute_limit_refuses_past_its_window_until_the_window_ends():
    faults = FaultInjector(
        {"vendors": {"klaviyo": {"rate_limit": {"requests_per_second": 1000, "burst": 1000, "per_minute": 5}}}}
    )
    decisions = [faults.decide("klaviyo", "POST /klaviyo/api/profile-bulk-import-jobs") for _ in range(7)]
    assert [d.status for d in decisions] == [None] * 5 + [429, 429]
    assert 55 < decisions[5].retry_after <= 60  # until the minute's window closes


def test_klaviyo_takes_an_import_job_of_ten_thousand_profiles_and_refuses_one_more(sandbox):
    def job(n):
        profiles = [{"type": "profile", "attributes": {"external_id": f"e{i}"}} for i in range(n)]
        body = {"data": {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": profiles}}}}
        return post(sandbox, "/klaviyo/api/profile-bulk-import-jobs", json=body, headers=KLAVIYO_AUTH)

    sandbox.set_faults({"vendors": {"klaviyo": {"rate_limit": None}}})
    assert job(10_001).status_code == 400
    accepted = job(10_000)
    assert accepted.status_code == 202
    assert accepted.json()["data"]["attributes"]["total_count"] == 10_000
    assert len(sandbox.state()["klaviyo"]["profiles"]) == 10_000


def test_klaviyo_serves_a_jobs_import_errors_in_cursor_pages(sandbox):
    profiles = [{"type": "profile", "attributes": {"email": f"bad-{i}"}} for i in range(45)]
    body = {"data": {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": profiles}}}}
    spawned = post(sandbox, "/klaviyo/api/profile-bulk-import-jobs", json=body, headers=KLAVIYO_AUTH)
    job_id = spawned.json()["data"]["id"]
    url = f"{sandbox.url}/klaviyo/api/profile-bulk-import-jobs/{job_id}/import-errors"
    pages = []
    while url:
        page = requests.get(url, headers=KLAVIYO_AUTH).json()
        pages.append(len(page["data"]))
        url = page["links"]["next"]
    assert pages == [20, 20, 5]  # Klaviyo's default page size
    first = requests.get(
        f"{sandbox.url}/klaviyo/api/profile-bulk-import-jobs/{job_id}/import-errors",
        params={"page[size]": 100},
        headers=KLAVIYO_AUTH,
    ).json()
    assert len(first["data"]) == 45 and first["links"]["next"] is None
    bad_cursor = requests.get(
        f"{sandbox.url}/klaviyo/api/profile-bulk-import-jobs/{job_id}/import-errors",
        params={"page[cursor]": "nope"},
        headers=KLAVIYO_AUTH,
    )
    assert bad_cursor.status_code == 400


def test_an_outage_answers_503_until_it_is_lifted(sandbox):
    sandbox.set_faults({"vendors": {"iterable": {"outage": True}}})
    assert requests.get(sandbox.url + "/iterable/api/lists", headers=ITERABLE_AUTH).status_code == 503
    requests.post(sandbox.url + "/_sandbox/faults", json={}).raise_for_status()
    assert requests.get(sandbox.url + "/iterable/api/lists", headers=ITERABLE_AUTH).status_code == 200


def test_a_dropped_connection_closes_the_socket_without_an_answer(sandbox):
    sandbox.set_faults({"vendors": {"segment": {"drop_next": 1}}})
    with pytest.raises(requests.ConnectionError):
        post(sandbox, "/segment/v1/batch", json={"batch": []}, auth=SEGMENT_AUTH)
    assert post(sandbox, "/segment/v1/batch", json={"batch": []}, auth=SEGMENT_AUTH).status_code == 200


def test_latency_is_injected(sandbox):
    sandbox.set_faults({"vendors": {"customerio": {"latency_ms": 250}}})
    started = time.perf_counter()
    requests.get(sandbox.url + "/customerio/api/v1/accounts/region", auth=CIO_AUTH)
    assert time.perf_counter() - started >= 0.25


def test_a_429_storm_then_normal_service(sandbox):
    sandbox.set_faults({"vendors": {"klaviyo": {"throttle_next": 2, "retry_after": 3}}})
    codes = [requests.get(sandbox.url + "/klaviyo/api/accounts", headers=KLAVIYO_AUTH) for _ in range(3)]
    assert [r.status_code for r in codes] == [429, 429, 200]
    assert codes[0].headers["Retry-After"] == "3"
    assert codes[0].json()["errors"][0]["code"] == "throttled"


def test_partial_rejections_refuse_only_matching_records(sandbox):
    sandbox.set_faults({"vendors": {"iterable": {"reject_pattern": "@blocked\\."}}})
    users = [{"email": "ok@x.io"}, {"email": "no@blocked.io"}]
    r = post(sandbox, "/iterable/api/users/bulkUpdate", json={"users": users}, headers=ITERABLE_AUTH)
    assert r.json()["successCount"] == 1
    assert r.json()["failedUpdates"]["invalidEmails"] == ["no@blocked.io"]


def test_the_same_seed_gives_the_same_faults():
    config = {"seed": 11, "vendors": {"braze": {"error_rate": 0.5, "drop_rate": 0.2}}}
    first = [FaultInjector(config).decide("braze").reason for _ in range(1)]
    a, b = FaultInjector(config), FaultInjector(config)
    seq_a = [a.decide("braze").reason for _ in range(40)]
    seq_b = [b.decide("braze").reason for _ in range(40)]
    assert seq_a == seq_b
    assert {"injected error", "dropped", ""} <= set(seq_a)
    assert first[0] == seq_a[0]
    other = FaultInjector({**config, "seed": 12})
    assert [other.decide("braze").reason for _ in range(40)] != seq_a


def test_a_fraction_of_identifiers_is_rejected_stably():
    injector = FaultInjector({"seed": 3, "vendors": {"braze": {"reject_fraction": 0.3}}})
    picks = [injector.rejects("braze", f"user{i}") for i in range(1000)]
    assert 0.25 < sum(picks) / 1000 < 0.35
    assert picks == [injector.rejects("braze", f"user{i}") for i in range(1000)]


def test_an_invalid_fault_configuration_is_refused_with_a_clear_message(sandbox):
    with pytest.raises(FaultConfigError, match="unknown vendor"):
        FaultInjector({"vendors": {"mailchimp": {}}})
    r = requests.post(sandbox.url + "/_sandbox/faults", json={"vendors": {"braze": {"error_rate": 2}}})
    assert r.status_code == 400
    assert "between 0 and 1" in r.json()["error"]


# -- admin endpoints ------------------------------------------------------------------------


def test_state_and_reset_admin_endpoints(sandbox):
    post(
        sandbox,
        "/braze/users/track",
        json={"attributes": [{"external_id": "u9", "journeys": {"add": ["j1"]}}]},
        headers=BRAZE_AUTH,
    )
    state = requests.get(sandbox.url + "/_sandbox/state").json()
    assert state["braze"]["users"] == {"u9": {"journeys": ["j1"]}}
    assert set(state) >= {"braze", "iterable", "customerio", "klaviyo", "segment", "webhook", "faults"}
    assert requests.post(sandbox.url + "/_sandbox/reset").json() == {"ok": True}
    assert requests.get(sandbox.url + "/_sandbox/state").json()["braze"]["users"] == {}


def test_the_sandbox_command_lists_its_options():
    from journey_atc.cli import main

    result = CliRunner().invoke(main, ["sandbox", "--help"])
    assert result.exit_code == 0
    assert "--faults" in result.output and "--port" in result.output


def test_the_sandbox_command_refuses_a_broken_fault_file(tmp_path):
    from journey_atc.cli import main

    faults = tmp_path / "faults.yaml"
    faults.write_text("vendors:\n  braze:\n    error_rat: 0.5\n")
    result = CliRunner().invoke(main, ["sandbox", "--faults", str(faults)])
    assert result.exit_code != 0
    assert "error_rat" in result.output


def test_a_lost_response_is_applied_but_never_answered(sandbox):
    sandbox.set_faults({"vendors": {"segment": {"lose_next": 1}}})
    batch = {"batch": [{"type": "identify", "userId": "u1", "traits": {"plan": "gold"}, "messageId": "m-lost"}]}
    with pytest.raises(requests.ConnectionError):
        post(sandbox, "/segment/v1/batch", json=batch, auth=SEGMENT_AUTH)
    assert sandbox.state()["segment"]["users"] == {"u1": {"plan": "gold"}}
    assert post(sandbox, "/segment/v1/batch", json=batch, auth=SEGMENT_AUTH).status_code == 200
    assert sandbox.state()["segment"]["stats"]["duplicates"] == 1


def test_a_fault_file_configures_the_sandbox(tmp_path):
    from activation.sandbox.faults import load_fault_file

    path = tmp_path / "faults.yaml"
    path.write_text("seed: 3\nvendors:\n  braze:\n    outage: true\n")
    with SandboxServer(faults=load_fault_file(path)) as sandbox:
        r = post(sandbox, "/braze/users/track", json={"attributes": [{"external_id": "u"}]}, headers=BRAZE_AUTH)
        assert r.status_code == 503
        assert requests.get(sandbox.url + "/iterable/api/lists", headers=ITERABLE_AUTH).status_code == 200


def test_segment_requires_a_json_content_type(sandbox):
    r = post(
        sandbox, "/segment/v1/batch", data=b'{"batch": []}', auth=SEGMENT_AUTH, headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 400


def test_a_fault_with_match_hits_only_the_requests_it_names(sandbox):
    sandbox.set_faults(
        {"vendors": {"iterable": {"match": "^POST /iterable/api/lists$", "fail_next": 1, "fail_status": 503}}}
    )
    assert requests.get(sandbox.url + "/iterable/api/lists", headers=ITERABLE_AUTH).status_code == 200
    assert post(sandbox, "/iterable/api/lists", json={"name": "a"}, headers=ITERABLE_AUTH).status_code == 503
    assert post(sandbox, "/iterable/api/lists", json={"name": "a"}, headers=ITERABLE_AUTH).status_code == 200


def test_a_match_that_is_not_a_regular_expression_is_refused():
    with pytest.raises(FaultConfigError, match="match is not a regular expression"):
        FaultInjector({"vendors": {"braze": {"match": "(POST"}}})
