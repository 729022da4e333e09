"""Each destination speaks its vendor's API: checked against the sandbox, which validates and stores."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time

import pytest
import requests

from activation.destinations import build_destination, destination_class, destination_names, sandbox_settings
from activation.http import Secret, parse_retry_after
from activation.protocol import (
    Batch,
    BatchRejected,
    ConfigurationError,
    Destination,
    Record,
    RecordResult,
    TransientError,
)
from activation.sandbox import SANDBOX_DEFAULTS, SandboxServer

FAST = {
    "retry_attempts": 3,
    "retry_initial_wait": 0.01,
    "retry_max_wait": 0.5,
    "retry_jitter": 0.01,
    "timeout": 5,
    "requests_per_second": 1000,
    "burst": 1000,
    "job_poll_seconds": 0.01,
}
AUDIENCE = {
    "braze": "welcome",
    "iterable": "1001",
    "customerio": "1",
    "klaviyo": "welcome",
    "segment": "welcome",
    "webhook": "welcome",
}
ALL = destination_names()


@pytest.fixture(scope="module")
def server():
    with SandboxServer() as sandbox:
        yield sandbox


@pytest.fixture()
def sandbox(server):
    server.reset()
    yield server
    server.reset()


class Sleeps(list):
    """Records the waits asked for, without waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(name: str, sandbox, env=None, sleep=None, **extra):
    settings = {**sandbox_settings(name, sandbox.url), **FAST, **extra}
    cls = destination_class(name)
    if sleep is not None:
        return cls(settings, env or {}, sleep=sleep)
    return build_destination(name, settings, env or {})


def rec(key, change="added", idem=None, previous=None, **payload):
    return Record(
        key=key, change=change, payload=payload, idempotency_key=idem or f"k-{key}-{change}", previous=previous
    )


def profile_batch(records, mode="upsert"):
    return Batch(sync_name="people", object="profile", mode=mode, records=records)


def audience_batch(name, records):
    return Batch(sync_name="journeys", object="audience", mode="audience", records=records, audience_id=AUDIENCE[name])


def state_list_id(state, name):
    return next(list_id for list_id, list_name in state["list_names"].items() if list_name == name)


def key_for(name, i):
    return f"user{i}@example.com" if name in ("iterable", "klaviyo") else f"user{i}"


# -- the protocol ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_every_destination_follows_the_protocol_and_passes_its_check(sandbox, name):
    destination = make(name, sandbox)
    assert isinstance(destination, Destination)
    assert destination.limits.max_batch_size > 0
    assert destination.supported_modes <= {"upsert", "mirror", "add-only", "audience"}
    destination.check()


def test_modes_are_declared_honestly():
    assert "mirror" not in destination_class("klaviyo").supported_modes  # bulk import cannot clear fields
    assert "mirror" not in destination_class("iterable").supported_modes
    assert "event" not in destination_class("klaviyo").supported_objects
    for name in ALL:
        assert "audience" in destination_class(name).supported_modes


def test_an_unsupported_mode_is_refused_not_skipped(sandbox):
    klaviyo = make("klaviyo", sandbox)
    with pytest.raises(ConfigurationError, match="mirror"):
        klaviyo.write(profile_batch([rec("a@x.io", email="a@x.io")], mode="mirror"))
    assert sandbox.state()["klaviyo"]["profiles"] == {}


def test_an_unknown_destination_names_the_known_ones():
    with pytest.raises(ConfigurationError, match="braze"):
        build_destination("mailchimp", {})


# -- payload shapes, checked by the sandbox and read back from its state ----------------------


def test_braze_sends_only_changed_attributes_and_clears_removed_ones(sandbox):
    braze = make("braze", sandbox)
    first = braze.write(profile_batch([rec("u1", email="a@x.io", plan="gold", journey="welcome")], mode="mirror"))
    assert first == [RecordResult(key="u1", ok=True)]
    changed = rec(
        "u1",
        "changed",
        previous={"email": "a@x.io", "plan": "gold", "journey": "welcome"},
        email="a@x.io",
        plan="gold",
        journey="vip",
    )
    braze.write(profile_batch([changed], mode="mirror"))
    assert sandbox.state()["braze"]["users"]["u1"] == {"email": "a@x.io", "plan": "gold", "journey": "vip"}
    braze.write(profile_batch([rec("u1", "removed", email="a@x.io", plan="gold", journey="vip")], mode="mirror"))
    assert sandbox.state()["braze"]["users"]["u1"] == {"email": "a@x.io"}


def test_braze_audience_adds_and_removes_the_journey_and_sends_transition_events(sandbox):
    braze = make("braze", sandbox, time_field="entered_at")
    braze.write(audience_batch("braze", [rec("u1", entered_at="2026-11-01 08:00:00", channel="email"), rec("u2")]))
    braze.write(audience_batch("braze", [rec("u2", "removed")]))
    state = sandbox.state()["braze"]
    assert state["users"] == {"u1": {"journeys": ["welcome"]}, "u2": {"journeys": []}}
    names = [(e["external_id"], e["name"]) for e in state["events"]]
    assert names == [("u1", "journey_entered"), ("u2", "journey_entered"), ("u2", "journey_exited")]
    assert state["events"][0]["time"] == "2026-11-01T08:00:00Z"
    assert state["events"][0]["properties"]["channel"] == "email"


def test_braze_splits_a_full_audience_batch_without_breaking_the_75_object_limit(sandbox):
    braze = make("braze", sandbox)
    size = braze.max_records(audience_batch("braze", []))
    assert size * 2 <= 75
    results = braze.write(audience_batch("braze", [rec(f"u{i}") for i in range(size)]))
    assert all(r.ok for r in results)
    assert len(sandbox.state()["braze"]["users"]) == size


def test_iterable_bulk_update_and_list_membership(sandbox):
    iterable = make("iterable", sandbox)
    iterable.write(profile_batch([rec("a@x.io", journey="welcome", score=3)]))
    iterable.write(audience_batch("iterable", [rec("a@x.io"), rec("b@x.io")]))
    iterable.write(audience_batch("iterable", [rec("b@x.io", "removed")]))
    state = sandbox.state()["iterable"]
    assert state["users"]["email:a@x.io"]["dataFields"] == {"journey": "welcome", "score": 3}
    assert state["lists"]["1001"] == ["email:a@x.io"]


def test_customerio_identifies_people_and_keeps_manual_segment_membership(sandbox):
    cio = make("customerio", sandbox)
    cio.write(profile_batch([rec("42", email="a@x.io", journey="welcome")]))
    cio.write(audience_batch("customerio", [rec("42"), rec("43", email="b@x.io")]))
    cio.write(audience_batch("customerio", [rec("42", "removed")]))
    cio.write(
        Batch("events", "event", "add-only", [rec("42", name="journey_entered", attributes={"journey": "welcome"})])
    )
    state = sandbox.state()["customerio"]
    assert state["people"]["42"] == {"id": "42", "email": "a@x.io", "journey": "welcome"}
    assert state["segments"]["1"] == ["43"]
    assert state["events"][0]["name"] == "journey_entered"


def test_klaviyo_imports_profiles_and_keeps_list_relationships(sandbox):
    klaviyo = make("klaviyo", sandbox)
    klaviyo.write(profile_batch([rec("a@x.io", first_name="Ada", journey="welcome")]))
    klaviyo.write(audience_batch("klaviyo", [rec("a@x.io"), rec("b@x.io")]))
    klaviyo.write(audience_batch("klaviyo", [rec("a@x.io", "removed"), rec("never@x.io", "removed")]))
    state = sandbox.state()["klaviyo"]
    by_email = {p["email"]: pid for pid, p in state["profiles"].items()}
    assert state["profiles"][by_email["a@x.io"]] == {
        "email": "a@x.io",
        "first_name": "Ada",
        "properties": {"journey": "welcome"},
    }
    assert sandbox.members("klaviyo", "welcome") == {"b@x.io"}
    assert state["lists"][state_list_id(state, "welcome")] == [by_email["b@x.io"]]


def test_segment_sends_identify_and_audience_events_with_deterministic_message_ids(sandbox):
    segment = make("segment", sandbox)
    batch = audience_batch("segment", [rec("u1", idem="sync:u1:abc", channel="sms")])
    segment.write(batch)
    segment.write(batch)  # a re-sent batch (say after a timeout) is deduplicated by messageId
    segment.write(audience_batch("segment", [rec("u1", "removed", idem="sync:u1:gone")]))
    state = sandbox.state()["segment"]
    assert state["users"]["u1"] == {"welcome": False, "channel": "sms"}
    assert [(e["event"], e["messageId"]) for e in state["events"]] == [
        ("Audience Entered", "sync:u1:abc-track"),
        ("Audience Exited", "sync:u1:gone-track"),
    ]
    assert state["events"][0]["properties"] == {"audience_key": "welcome", "channel": "sms"}


def test_the_webhook_sends_one_signed_payload_per_transition(sandbox):
    webhook = make("webhook", sandbox)
    webhook.write(audience_batch("webhook", [rec("u1", idem="i1", channel="email")]))
    webhook.write(
        audience_batch("webhook", [rec("u1", "changed", idem="i2", previous={"channel": "email"}, channel="sms")])
    )
    webhook.write(audience_batch("webhook", [rec("u1", "removed", idem="i3", channel="sms")]))
    webhook.write(
        audience_batch("webhook", [rec("u1", "removed", idem="i3", channel="sms")])
    )  # re-sent: same webhook-id
    state = sandbox.state()["webhook"]
    assert [(d["id"], d["type"]) for d in state["deliveries"]] == [
        ("i1", "audience.entered"),
        ("i2", "audience.changed"),
        ("i3", "audience.exited"),
    ]
    assert state["deliveries"][1]["data"]["previous"] == {"channel": "email"}
    assert state["members"] == {"welcome": {}}


def test_webhook_signatures_verify_with_an_independent_implementation(sandbox):
    from activation.destinations.webhook import WebhookDestination

    captured = {}

    class Capture(WebhookDestination):
        def _post(self, msg_id, payload):
            response = super()._post(msg_id, payload)
            captured.update(response.request.headers, body=response.request.body)
            return response

    destination = Capture({**sandbox_settings("webhook", sandbox.url), **FAST}, {})
    destination.write(audience_batch("webhook", [rec("u1", idem="msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")]))
    secret = SANDBOX_DEFAULTS["ATC_SANDBOX_WEBHOOK_SECRET"]
    # The Standard Webhooks reference algorithm, written out independently.
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{captured['webhook-id']}.{captured['webhook-timestamp']}.{captured['body'].decode()}"
    expected = base64.b64encode(hmac.new(key, signed.encode(), hashlib.sha256).digest()).decode()
    assert captured["webhook-id"] == "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    assert abs(int(captured["webhook-timestamp"]) - time.time()) < 60
    assert captured["webhook-signature"].split(" ") == [f"v1,{expected}"]
    assert json.loads(captured["body"])["type"] == "audience.entered"


# -- limits ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_a_full_batch_at_the_declared_limit_is_accepted_by_the_vendor(sandbox, name):
    destination = make(name, sandbox)
    obj = "profile"
    size = destination.max_records(Batch("s", obj, "upsert", []))
    records = [rec(key_for(name, i), email=f"user{i}@example.com", note="x" * 200) for i in range(size)]
    results = destination.write(profile_batch(records))
    assert len(results) == size and all(r.ok for r in results), [r for r in results if not r.ok][:3]


@pytest.mark.parametrize("name", ["segment", "customerio"])
def test_a_batch_over_500_kb_is_split_into_requests_the_vendor_accepts(sandbox, name):
    destination = make(name, sandbox)
    records = [rec(f"user{i}", blob="y" * 20_000) for i in range(40)]  # about 800 KB in all
    results = destination.write(profile_batch(records))
    assert all(r.ok for r in results)
    stored = sandbox.state()[name]["users" if name == "segment" else "people"]
    assert len(stored) == 40
    assert sandbox.state()[name]["stats"]["requests"] >= 2


@pytest.mark.parametrize("name", ["segment", "customerio"])
def test_a_record_over_32_kb_is_refused_without_sending_it(sandbox, name):
    destination = make(name, sandbox)
    results = destination.write(profile_batch([rec("small", plan="a"), rec("huge", blob="z" * 40_000)]))
    assert [r.ok for r in results] == [True, False]
    assert "32768" in results[1].message


@pytest.mark.parametrize("name", ALL)
def test_a_batch_larger_than_declared_is_refused_so_the_engine_splits_it(sandbox, name):
    destination = make(name, sandbox)
    size = destination.max_records(Batch("s", "profile", "upsert", []))
    with pytest.raises(BatchRejected):
        destination.write(profile_batch([rec(key_for(name, i)) for i in range(size + 1)]))


# -- error classification --------------------------------------------------------------------------


WRONG = {
    "braze": {"ATC_SANDBOX_BRAZE_API_KEY": "wrong-braze-key-7f3a"},
    "iterable": {"ATC_SANDBOX_ITERABLE_API_KEY": "wrong-iterable-key-7f3a"},
    "customerio": {"ATC_SANDBOX_CUSTOMERIO_API_KEY": "wrong-cio-key-7f3a"},
    "klaviyo": {"ATC_SANDBOX_KLAVIYO_API_KEY": "pk_wrong_klaviyo_7f3a"},
    "segment": {"ATC_SANDBOX_SEGMENT_WRITE_KEY": "wrong-segment-key-7f3a"},
    "webhook": {"ATC_SANDBOX_WEBHOOK_SECRET": "whsec_" + base64.b64encode(b"wrong-webhook-secret-7f3a").decode()},
}


@pytest.mark.parametrize("name", ALL)
def test_a_wrong_credential_is_a_configuration_error_that_never_shows_the_credential(sandbox, name, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    destination = make(name, sandbox, env=WRONG[name])
    with pytest.raises(ConfigurationError) as error:
        destination.write(audience_batch(name, [rec(key_for(name, 1))]))
    with pytest.raises(ConfigurationError) as check_error:
        destination.check()
    secret = next(iter(WRONG[name].values()))
    encoded = base64.b64encode(secret.encode()).decode()
    out, err = capsys.readouterr()
    for text in (
        str(error.value),
        repr(error.value),
        str(check_error.value),
        caplog.text,
        out,
        err,
        repr(destination.client.secrets),
    ):
        assert secret not in text and encoded[:16] not in text
    assert "401" in str(error.value)


@pytest.mark.parametrize("name", ALL)
def test_429_is_retried_after_the_wait_the_vendor_asks_for(sandbox, name):
    sandbox.set_faults({"vendors": {name: {"throttle_next": 2, "retry_after": 7}}})
    sleeps = Sleeps()
    destination = make(name, sandbox, sleep=sleeps, retry_max_wait=30)
    results = destination.write(audience_batch(name, [rec(key_for(name, 1))]))
    assert all(r.ok for r in results)
    assert destination.retries == 2
    assert [round(s) for s in sleeps if s >= 1] == [7, 7]


@pytest.mark.parametrize("name", ALL)
def test_5xx_is_retried_and_then_reported_as_transient(sandbox, name):
    sandbox.set_faults({"vendors": {name: {"outage": True}}})
    destination = make(name, sandbox)
    with pytest.raises(TransientError) as error:
        destination.write(audience_batch(name, [rec(key_for(name, 1))]))
    assert error.value.status == 503
    assert destination.retries == FAST["retry_attempts"] - 1


@pytest.mark.parametrize("name", ALL)
def test_a_dropped_connection_and_a_5xx_are_retried_until_the_write_succeeds(sandbox, name):
    sandbox.set_faults({"vendors": {name: {"drop_next": 1, "fail_next": 1, "fail_status": 502}}})
    destination = make(name, sandbox, retry_attempts=4)
    results = destination.write(audience_batch(name, [rec(key_for(name, 1))]))
    assert all(r.ok for r in results)
    assert destination.retries == 2


@pytest.mark.parametrize("name", [n for n in ALL if n != "webhook"])
@pytest.mark.parametrize("status", [400, 413])
def test_a_refused_batch_is_batch_rejected(sandbox, name, status):
    sandbox.set_faults({"vendors": {name: {"fail_next": 1, "fail_status": status}}})
    destination = make(name, sandbox)
    with pytest.raises(BatchRejected) as error:
        destination.write(profile_batch([rec(key_for(name, 1), plan="a")]))
    assert error.value.status == status
    assert destination.retries == 0


def test_a_webhook_receiver_refusing_one_payload_refuses_that_record_only(sandbox):
    sandbox.set_faults({"vendors": {"webhook": {"reject_pattern": "^bad"}}})
    results = make("webhook", sandbox).write(audience_batch("webhook", [rec("good1"), rec("bad2"), rec("good3")]))
    assert [r.ok for r in results] == [True, False, True]
    assert "422" in results[1].message and "bad2" in results[1].message


@pytest.mark.parametrize("name", ["braze", "iterable", "customerio", "klaviyo"])
def test_a_record_the_vendor_refuses_gets_its_message_and_the_others_are_applied(sandbox, name):
    sandbox.set_faults({"vendors": {name: {"reject_pattern": "@blocked\\."}}})
    keys = {"iterable": ("ok@x.io", "no@blocked.io"), "klaviyo": ("ok@x.io", "no@blocked.io")}
    good, bad = keys.get(name, ("u-ok", "u-bad"))
    records = [rec(good, email="ok@x.io", plan="a"), rec(bad, email="no@blocked.io", plan="b")]
    results = make(name, sandbox).write(profile_batch(records))
    assert [r.ok for r in results] == [True, False]
    assert "blocked" in results[1].message
    assert not results[1].retryable


def test_an_invalid_email_is_a_record_result_with_brazes_own_words(sandbox):
    results = make("braze", sandbox).write(profile_batch([rec("u1", email="a@x.io"), rec("u2", email="not-an-email")]))
    assert results[0].ok and not results[1].ok
    assert results[1].message == "Invalid email address: 'not-an-email'"


# -- secrets and configuration ---------------------------------------------------------------------


def test_a_secret_is_masked_wherever_it_is_printed():
    secret = Secret("s3cr3t-value", source="ATC_BRAZE_API_KEY")
    assert "s3cr3t" not in repr(secret) and "s3cr3t" not in str(secret) and "s3cr3t" not in f"{secret}"
    assert "ATC_BRAZE_API_KEY" in repr(secret)


def test_a_credential_written_into_the_settings_is_refused():
    with pytest.raises(ConfigurationError, match="api_key_env"):
        build_destination("braze", {"api_key": "literal"}, {})


def test_a_missing_credential_names_the_variable_not_a_value():
    with pytest.raises(ConfigurationError, match="ATC_BRAZE_API_KEY is not set"):
        build_destination("braze", {}, {})


def test_sandbox_credentials_need_no_configuration(sandbox):
    make("segment", sandbox, env={}).check()


def test_retry_after_and_reset_headers_are_understood():
    now = 1_800_000_000
    assert parse_retry_after({"Retry-After": "12"}, now) == 12
    assert parse_retry_after({"Retry-After": "Thu, 01 Jan 2027 00:00:10 GMT"}, 1798761600) == 10
    assert parse_retry_after({"X-RateLimit-Reset": str(now + 5)}, now) == 5
    assert parse_retry_after({"RateLimit-Reset": "3"}, now) == 3
    assert parse_retry_after({}, now) is None


@pytest.mark.parametrize("name", ALL)
def test_audience_members_read_back_as_the_keys_that_were_written(sandbox, name):
    destination = make(name, sandbox)
    keys = [key_for(name, i) for i in range(5)]
    destination.write(audience_batch(name, [rec(k) for k in keys]))
    destination.write(audience_batch(name, [rec(keys[0], "removed"), rec(keys[3], "removed")]))
    assert sandbox.members(name, AUDIENCE[name]) == {keys[1], keys[2], keys[4]}
    response = requests.get(f"{sandbox.url}/_sandbox/members/{name}/{AUDIENCE[name]}")
    assert response.json() == sorted({keys[1], keys[2], keys[4]})


def test_a_resent_customerio_event_is_deduplicated_by_its_ulid(sandbox):
    cio = make("customerio", sandbox)
    batch = Batch("events", "event", "add-only", [rec("42", idem="evt-1", name="journey_entered")])
    cio.write(batch)
    time.sleep(1.1)  # a re-send a second later carries the same id
    cio.write(batch)
    events = sandbox.state()["customerio"]["events"]
    assert len(events) == 1
    assert len(events[0]["id"]) == 26


MIXED_FAULTS = {
    "error_rate": 0.15,
    "drop_rate": 0.1,
    "throttle_rate": 0.1,
    "lose_rate": 0.1,
    "retry_after": 0,
}


@pytest.mark.parametrize("name", ALL)
def test_under_mixed_faults_every_change_lands_once_after_re_sending_unacknowledged_batches(sandbox, name):
    sandbox.set_faults({"seed": 5, "vendors": {name: MIXED_FAULTS}})
    destination = make(name, sandbox, retry_attempts=2)
    keys = [key_for(name, i) for i in range(24)]
    waves = [
        [rec(k, idem=f"in-{k}") for k in keys[:12]],
        [rec(k, idem=f"in-{k}") for k in keys[12:]],
        [rec(k, "removed", idem=f"out-{k}") for k in keys[::3]],
    ]
    transient = 0
    for records in waves:
        for _ in range(30):  # what the engine does: an unacknowledged batch is sent again on the next run
            try:
                results = destination.write(audience_batch(name, records))
            except TransientError:
                transient += 1
                continue
            assert all(r.ok for r in results)
            break
        else:
            pytest.fail("a batch never got through")
    assert sandbox.members(name, AUDIENCE[name]) == set(keys) - set(keys[::3])
    injected = (
        sandbox.state()["faults"]
        if "faults" in sandbox.state()
        else requests.get(f"{sandbox.url}/_sandbox/state").json()["faults"]
    )
    assert sum(injected[name].values()) > 0
    if name == "segment":
        events = sandbox.state()["segment"]["events"]
        assert len(events) == len({e["messageId"] for e in events}) == 24 + 8
    if name == "webhook":
        deliveries = sandbox.state()["webhook"]["deliveries"]
        assert len(deliveries) == len({d["id"] for d in deliveries}) == 24 + 8


CREDENTIAL_VARS = {
    "braze": ["ATC_SANDBOX_BRAZE_API_KEY"],
    "iterable": ["ATC_SANDBOX_ITERABLE_API_KEY"],
    "customerio": ["ATC_SANDBOX_CUSTOMERIO_SITE_ID", "ATC_SANDBOX_CUSTOMERIO_API_KEY"],
    "klaviyo": ["ATC_SANDBOX_KLAVIYO_API_KEY"],
    "segment": ["ATC_SANDBOX_SEGMENT_WRITE_KEY"],
    "webhook": ["ATC_SANDBOX_WEBHOOK_SECRET"],
}


@pytest.mark.parametrize("name", ALL)
def test_a_run_with_retries_rejections_and_failures_logs_no_credential(sandbox, name, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    destination = make(name, sandbox)
    sandbox.set_faults(
        {"vendors": {name: {"throttle_next": 1, "retry_after": 0, "reject_pattern": "bad", "drop_next": 1}}}
    )
    results = destination.write(
        audience_batch(name, [rec(key_for(name, 1)), rec("bad@x.io" if name in ("iterable", "klaviyo") else "bad")])
    )
    sandbox.set_faults({"vendors": {name: {"outage": True}}})
    with pytest.raises(TransientError) as error:
        destination.write(audience_batch(name, [rec(key_for(name, 2))]))
    out, err = capsys.readouterr()
    texts = [caplog.text, out, err, str(error.value), repr(destination.__dict__)] + [r.message or "" for r in results]
    assert "retry" in caplog.text
    for var in CREDENTIAL_VARS[name]:
        value = SANDBOX_DEFAULTS[var]
        for text in texts:
            assert value not in text
            assert base64.b64encode(value.encode()).decode()[:12] not in text


def test_a_call_slower_than_the_timeout_is_retried_then_transient(sandbox):
    sandbox.set_faults({"vendors": {"braze": {"latency_ms": 400}}})
    braze = make("braze", sandbox, timeout=0.1, retry_attempts=2)
    with pytest.raises(TransientError, match="timed out"):
        braze.write(profile_batch([rec("u1", plan="a")]))
    assert braze.retries == 1


def test_the_token_bucket_paces_requests_at_the_declared_rate():
    from activation.ratelimit import TokenBucket

    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    bucket = TokenBucket(2.0, 2, clock=lambda: now[0], sleep=sleep)
    for _ in range(6):
        bucket.acquire()
    # two tokens at once, then one every half second
    assert now[0] == pytest.approx(2.0)
    assert bucket.waited_seconds == pytest.approx(2.0)


def test_a_destination_paces_itself_from_its_limits(sandbox):
    segment = make("segment", sandbox, requests_per_second=5, burst=1)
    assert (segment.bucket.rate, segment.bucket.capacity) == (5, 1)
    # A clock that moves only when the bucket sleeps: the waits are exact, whatever the machine's load.
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    segment.bucket._clock, segment.bucket._sleep, segment.bucket._updated = (lambda: now[0]), sleep, 0.0
    for i in range(3):
        segment.write(profile_batch([rec(f"u{i}", plan="a")]))
    # three requests at five per second, burst one: two waits of 0.2 s
    assert segment.bucket.waited_seconds == pytest.approx(0.4)


def test_klaviyo_waits_for_a_slow_import_job_before_acknowledging(sandbox):
    sandbox.set_faults({"vendors": {"klaviyo": {"job_pending_polls": 3}}})
    sleeps = Sleeps()
    klaviyo = destination_class("klaviyo")({**sandbox_settings("klaviyo", sandbox.url), **FAST}, {}, sleep=sleeps)
    results = klaviyo.write(audience_batch("klaviyo", [rec("a@x.io"), rec("bad@address")]))
    assert [r.ok for r in results] == [True, False]
    assert len([s for s in sleeps if s == FAST["job_poll_seconds"]]) == 3
    assert sandbox.members("klaviyo", "welcome") == {"a@x.io"}


def test_klaviyo_gives_up_on_an_import_job_that_never_finishes(sandbox):
    sandbox.set_faults({"vendors": {"klaviyo": {"job_pending_polls": 10_000}}})
    klaviyo = make("klaviyo", sandbox, job_timeout_seconds=0.2)
    with pytest.raises(TransientError, match="did not complete"):
        klaviyo.write(profile_batch([rec("a@x.io", plan="a")]))


@pytest.mark.parametrize("name", ["iterable", "klaviyo"])
def test_a_list_named_after_the_journey_is_found_or_created_once(sandbox, name):
    destination = make(name, sandbox)
    batch = Batch("journeys", "audience", "audience", [rec(key_for(name, 1))], audience_id="vip_upsell")
    destination.write(batch)
    destination.write(batch)
    make(name, sandbox).write(
        Batch("journeys", "audience", "audience", [rec(key_for(name, 2))], audience_id="vip_upsell")
    )
    names = list(sandbox.state()[name]["list_names"].values())
    assert names.count("vip_upsell") == 1
    assert sandbox.members(name, "vip_upsell") == {key_for(name, 1), key_for(name, 2)}


def test_mapped_identifiers_win_over_the_record_key(sandbox):
    """An audience keyed by person_id reaches the tool under the userId / external_id the sync maps."""
    iterable, klaviyo = make("iterable", sandbox), make("klaviyo", sandbox)
    member = rec("person-1", userId="u-1", email="p1@x.io", external_id="ext-1")
    iterable.write(Batch("journeys", "audience", "audience", [member], audience_id="1001"))
    klaviyo.write(Batch("journeys", "audience", "audience", [member], audience_id="welcome"))
    assert sandbox.members("iterable", "1001") == {"u-1"}
    assert sandbox.members("klaviyo", "welcome") == {"ext-1"}
    gone = rec("person-1", "removed", userId="u-1", email="p1@x.io", external_id="ext-1")
    iterable.write(Batch("journeys", "audience", "audience", [gone], audience_id="1001"))
    klaviyo.write(Batch("journeys", "audience", "audience", [gone], audience_id="welcome"))
    assert sandbox.members("iterable", "1001") == set() and sandbox.members("klaviyo", "welcome") == set()


def test_profiles_keyed_by_user_id_keep_the_email_as_an_attribute(sandbox):
    make("iterable", sandbox).write(profile_batch([rec("u-7", email="u7@x.io", phoneNumber="+15550100")]))
    make("klaviyo", sandbox).write(profile_batch([rec("ext-7", email="u7@x.io", locale="en-GB")]))
    iterable_user = sandbox.state()["iterable"]["users"]["userId:u-7"]
    assert iterable_user["email"] == "u7@x.io" and iterable_user["dataFields"] == {"phoneNumber": "+15550100"}
    assert sandbox.profiles("klaviyo")["ext-7"] == {"external_id": "ext-7", "email": "u7@x.io", "locale": "en-GB"}


def test_a_webhook_configured_with_a_full_url_posts_to_exactly_that_url(sandbox):
    settings = {"url": f"{sandbox.url}/webhook/journey-assignments", "secret_env": "ATC_SANDBOX_WEBHOOK_SECRET", **FAST}
    webhook = build_destination("webhook", settings, {})
    webhook.write(Batch("assignments", "journey_assignment", "mirror", [rec("p1", journey_id="welcome")]))
    delivery = sandbox.state()["webhook"]["deliveries"][0]
    assert delivery["endpoint"] == "journey-assignments"
    assert delivery["type"] == "journey_assignment.entered"


def test_the_engine_rate_limit_setting_overrides_the_declared_pacing(sandbox):
    destination = make("klaviyo", sandbox, rate_limit={"requests_per_second": 40, "burst": 4})
    assert (destination.bucket.rate, destination.bucket.capacity) == (40, 4)


def test_a_webhook_pointed_at_a_wrong_url_fails_its_check(sandbox):
    settings = {"url": f"{sandbox.url}/nowhere", "secret_env": "ATC_SANDBOX_WEBHOOK_SECRET", **FAST}
    with pytest.raises(ConfigurationError, match="404"):
        build_destination("webhook", settings, {}).check()


def test_redaction_covers_a_credential_and_its_basic_auth_forms():
    from activation.http import HttpClient

    client = HttpClient("x", "http://127.0.0.1:9", auth=("site-1", "key-2"), secrets=[Secret("key-2")])
    basic = base64.b64encode(b"site-1:key-2").decode()
    text = client.redact(f"echo key-2 and Authorization: Basic {basic}")
    assert "key-2" not in text and basic not in text


@pytest.mark.parametrize("name", ["iterable", "klaviyo"])
@pytest.mark.parametrize(
    ("fault", "counted"),
    [
        ({"lose_next": 1}, "lost_responses"),
        ({"fail_next": 1, "fail_status": 503}, "failed_503"),
        ({"drop_next": 1}, "dropped"),
    ],
    ids=["answer lost", "503", "connection dropped"],
)
def test_a_list_creation_that_failed_in_transit_never_creates_the_list_twice(sandbox, name, fault, counted):
    # The fault hits only the create call: the list may or may not have been made before it failed.
    sandbox.set_faults({"vendors": {name: {"match": f"^POST /{name}/api/lists$", **fault}}})
    destination = make(name, sandbox)
    batch = Batch(
        sync_name="journeys",
        object="audience",
        mode="audience",
        records=[rec("a@x.io"), rec("b@x.io")],
        audience_id="journey vip_loyalty",
    )
    results = destination.write(batch)
    assert all(r.ok for r in results)
    state = sandbox.state()[name]
    assert list(state["list_names"].values()).count("journey vip_loyalty") == 1
    assert len(state["lists"][state_list_id(state, "journey vip_loyalty")]) == 2
    injected = sandbox.sandbox.faults.describe()["injected"][name]
    assert {k: v for k, v in injected.items() if k != "rate_limited"} == {counted: 1}  # the fault did fire


# -- concurrency -------------------------------------------------------------------------


def test_the_token_bucket_holds_its_rate_when_several_threads_share_it():
    import threading

    from activation.ratelimit import TokenBucket

    bucket = TokenBucket(100.0, 2)
    stamps: list[float] = []
    lock = threading.Lock()

    def take(n):
        for _ in range(n):
            bucket.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=take, args=(8,)) for _ in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 64 tokens at 100 per second with a burst of 2: never faster than the rate, whatever the threads.
    assert time.monotonic() - started >= (64 - 2) / 100 * 0.95
    stamps.sort()
    for i in range(len(stamps) - 20):
        assert stamps[i + 20] - stamps[i] >= (20 - 2) / 100 * 0.95


def test_klaviyo_sends_up_to_ten_thousand_profiles_in_one_import_job(sandbox):
    klaviyo = make("klaviyo", sandbox)
    assert klaviyo.max_records(profile_batch([])) == 10_000
    assert klaviyo.max_records(audience_batch("klaviyo", [])) == 1_000  # list membership: 1,000 per call
    records = [rec(f"ext-{i}", email=f"user{i}@example.com", journey="welcome") for i in range(10_000)]
    results = klaviyo.write(profile_batch(records))
    assert all(r.ok for r in results)
    state = sandbox.state()["klaviyo"]
    assert state["jobs"] == 1 and len(state["profiles"]) == 10_000


def test_klaviyo_paces_within_its_burst_and_its_steady_limit(sandbox):
    from activation.ratelimit import TokenBucket

    klaviyo = destination_class("klaviyo")({**sandbox_settings("klaviyo", sandbox.url)}, {})
    assert 1 < klaviyo.max_concurrency <= 3
    # The same pacing on a clock that moves only when it sleeps: 400 requests as fast as it allows.
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    bucket = TokenBucket(
        klaviyo.bucket.rate, klaviyo.bucket.capacity, clock=lambda: now[0], sleep=sleep, windows=klaviyo.bucket.windows
    )
    stamps = []
    for _ in range(400):
        bucket.acquire()
        stamps.append(now[0])
    assert stamps[8] == 0.0  # a burst of nine leaves at once
    # Never more than 10 in any second nor 150 in any minute, wherever Klaviyo's windows start.
    for i, start in enumerate(stamps):
        assert sum(1 for s in stamps[i:] if s < start + 1.0) <= 10
        assert sum(1 for s in stamps[i:] if s < start + 60.0) <= 150
    assert stamps[-1] < 3 * 61.0  # and no slower than that: 147 a minute


def test_every_destination_declares_how_many_batches_it_takes_at_once(sandbox):
    for name in ALL:
        destination = make(name, sandbox)
        assert destination.max_concurrency >= 1, name
    assert make("braze", sandbox, max_concurrency=2).max_concurrency == 2  # a sync's settings may lower it


@pytest.mark.parametrize("name", ["iterable", "klaviyo"])
def test_batches_of_one_new_list_sent_at_once_create_the_list_once(sandbox, name):
    from concurrent.futures import ThreadPoolExecutor

    sandbox.set_faults({"vendors": {name: {"rate_limit": None}}})
    destination = make(name, sandbox)
    batches = [
        Batch("journeys", "audience", "audience", [rec(f"u{i}@x.io")], audience_id="journey flash_sale")
        for i in range(8)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(destination.write, batches))
    assert all(r.ok for batch_results in results for r in batch_results)
    state = sandbox.state()[name]
    assert list(state["list_names"].values()).count("journey flash_sale") == 1
    assert len(state["lists"][state_list_id(state, "journey flash_sale")]) == 8


def test_a_pause_holds_every_other_thread_sharing_the_bucket_but_not_the_one_that_was_told():
    import threading

    from activation.ratelimit import TokenBucket

    bucket = TokenBucket(1000.0, 10)
    bucket.pause(0.4)
    started = time.monotonic()
    assert bucket.acquire() == 0.0  # the thread the vendor answered waits in its own retry
    waited = {}

    def other():
        waited["seconds"] = bucket.acquire()
        waited["at"] = time.monotonic() - started

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert waited["at"] >= 0.35 and waited["seconds"] >= 0.3
    assert not bucket.try_acquire() or time.monotonic() - started >= 0.35


def test_a_retry_after_one_thread_receives_pauses_the_other_threads_of_the_destination(sandbox):
    import threading

    sandbox.set_faults({"vendors": {"braze": {"throttle_next": 1, "retry_after": 1}}})
    braze = make("braze", sandbox, retry_max_wait=5)
    sent_at: list[float] = []
    original = braze.client._pool

    def pool(url):  # called once a request has its token, just before it leaves
        sent_at.append(time.monotonic())
        return original(url)

    braze.client._pool = pool
    first = threading.Thread(target=braze.write, args=(audience_batch("braze", [rec("u1")]),))
    first.start()
    deadline = time.monotonic() + 5
    while braze.bucket.pauses == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    told_at = time.monotonic()
    assert braze.bucket.pauses == 1  # the 429 paused the bucket the threads share
    # Another thread's batch, sent while the first waits out Retry-After, waits as well.
    results = braze.write(audience_batch("braze", [rec("u2")]))
    first.join()
    assert all(r.ok for r in results)
    assert len(sent_at) == 3
    assert min(sent_at[1:]) - told_at >= 0.8  # nothing left during the second the vendor asked for


@pytest.mark.parametrize("identifier", ["auto", "email", "external_id"])
def test_klaviyo_profiles_the_warehouse_writes_are_the_profiles_write_builds(identifier):
    import duckdb

    from activation.destinations.base import JsonPayload
    from activation.destinations.klaviyo import KlaviyoDestination

    destination = KlaviyoDestination({"identifier": identifier}, {"ATC_KLAVIYO_API_KEY": "pk_test"})
    fields = ["email", "external_id", "journey_channel", "journey_id", "locale", "phone_number", "context"]
    payloads = [
        ("u1", {"email": "a@x.io", "journey_id": "j", "locale": "en", "external_id": None, "context": {"a": None}}),
        ("b@x.io", {"email": "", "journey_channel": "sms", "phone_number": "+1", "external_id": "e1"}),
        ("u3", {"external_id": "", "journey_id": None}),
        ("u4", {"email": 'é"x', "journey_channel": 3, "journey_id": [1, None], "external_id": "x", "context": 0}),
    ]
    with duckdb.connect() as con:
        for key, values in payloads:
            text = json.dumps({f: values.get(f) for f in fields}, separators=(",", ":"))
            spec = destination.render_sql("profile", "upsert", fields)
            written = con.execute(
                f"select {spec.entity['added']} from (select ? as record_key, ? as payload)", [key, text]
            ).fetchone()[0]
            built = destination._profile(Record(key, "added", JsonPayload(text), "k"))
            assert json.loads(written) == built
            assert written.count('"email"') <= 1 and written.count('"external_id"') <= 1


def test_the_http_client_goes_through_the_proxy_the_environment_names(monkeypatch):
    from activation.http import HttpClient

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    client = HttpClient("x", "https://api.example.com")
    pool, path = client._pool("https://api.example.com/v1/batch?x=1")
    assert path == "/v1/batch?x=1"
    assert pool.proxy is not None and pool.proxy.host == "proxy.internal"
    direct, _ = client._pool("http://127.0.0.1:9/x")
    assert direct.proxy is None


# -- redirects ---------------------------------------------------------------------------


@pytest.fixture()
def redirecting():
    """A server that answers every request with a redirect (a wrong or moved base URL)."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        status = 301

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(Handler.status)
            self.send_header("Location", "https://moved.example.com/api")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, Handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [301, 302, 307])
@pytest.mark.parametrize("name", ["braze", "customerio", "iterable", "klaviyo"])
def test_a_redirect_fails_the_batch_as_a_configuration_error_and_is_not_retried(redirecting, name, status):
    server, handler = redirecting
    handler.status = status
    url = f"http://127.0.0.1:{server.server_address[1]}"
    settings = {**sandbox_settings(name, url), **FAST}
    destination = build_destination(name, settings, {})
    key = key_for(name, 1)
    with pytest.raises(ConfigurationError, match=rf"{status}.*https://moved\.example\.com/api") as caught:
        destination.write(profile_batch([rec(key, email="r@x.io")]))
    assert "sandbox-" not in str(caught.value)  # no credential in the message
    assert destination.retries == 0


# -- the shared pause --------------------------------------------------------------------


class _Answer:
    def __init__(self, status, headers):
        self.status, self.headers, self.data, self.reason = status, headers, b"{}", ""


class _FakePool:
    """Answers every request with the same status and headers."""

    def __init__(self, status, headers):
        self.answer = _Answer(status, headers)
        self.calls = 0

    def urlopen(self, *args, **kwargs):
        self.calls += 1
        return self.answer


def paced_client(status, headers, attempts=3, max_wait=2.0):
    from activation.http import HttpClient, RetryPolicy
    from activation.ratelimit import TokenBucket

    clock = [1000.0]
    bucket = TokenBucket(1000.0, 10, clock=lambda: clock[0], sleep=lambda s: None)
    policy = RetryPolicy(attempts=attempts, initial_wait=0.01, max_wait=max_wait, jitter=0.01)
    client = HttpClient("braze", "https://rest.example.com", policy=policy, bucket=bucket, sleep=Sleeps())
    pool = _FakePool(status, headers)
    client._pool = lambda url: (pool, "/users/track")
    return client, bucket, clock


def test_a_vendor_pause_is_capped_at_max_wait_for_every_thread():
    client, bucket, clock = paced_client(429, {"Retry-After": "3600"})
    with pytest.raises(TransientError):
        client.request("POST", "/users/track", json={})
    assert bucket.pauses >= 1
    assert bucket._paused_until - clock[0] <= 2.0  # not the hour the vendor named


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (500, {"X-RateLimit-Reset": str(int(time.time()) + 3600)}),  # Braze sends it on every answer
        (502, {"Retry-After": "30"}),
        (503, {"X-RateLimit-Reset": str(int(time.time()) + 3600)}),
    ],
    ids=["500 with a quota reset", "502 with Retry-After", "503 without Retry-After"],
)
def test_a_server_error_pauses_only_the_thread_that_received_it(status, headers):
    client, bucket, _ = paced_client(status, headers)
    with pytest.raises(TransientError):
        client.request("POST", "/users/track", json={})
    assert bucket.pauses == 0


def test_a_503_with_retry_after_pauses_the_shared_bucket():
    client, bucket, clock = paced_client(503, {"Retry-After": "1"})
    with pytest.raises(TransientError):
        client.request("POST", "/users/track", json={})
    assert bucket.pauses >= 1 and bucket._paused_until - clock[0] <= 1.0


def test_the_last_attempt_pauses_nobody():
    client, bucket, _ = paced_client(429, {"Retry-After": "1"}, attempts=1)
    with pytest.raises(TransientError):
        client.request("POST", "/users/track", json={})
    assert bucket.pauses == 0
    client, bucket, _ = paced_client(429, {"Retry-After": "1"}, attempts=3)
    with pytest.raises(TransientError):
        client.request("POST", "/users/track", json={})
    assert bucket.pauses == 1  # the first two attempts pause (the second extends nothing); the third does not


@pytest.mark.parametrize("setting", ["entered_event", "exited_event"])
@pytest.mark.parametrize("value", ["", None])
def test_segment_renders_no_audience_sql_when_an_event_name_is_configured_empty(sandbox, setting, value):
    segment = make("segment", sandbox, **{setting: value})
    assert segment.render_sql("audience", "audience", []) is None  # write() refuses those records instead
    change = "added" if setting == "entered_event" else "removed"
    results = segment.write(audience_batch("segment", [rec("u1", change)]))
    assert not results[0].ok
    assert make("segment", sandbox).render_sql("audience", "audience", []) is not None


# -- Klaviyo import errors ---------------------------------------------------------------


def test_klaviyo_reads_every_page_of_a_jobs_import_errors(sandbox):
    klaviyo = make("klaviyo", sandbox)
    bad = [rec(f"ext-{i}", email=f"not-an-email-{i}") for i in range(130)]
    good = [rec(f"ext-good-{i}", email=f"good{i}@x.io") for i in range(20)]
    results = klaviyo.write(profile_batch(bad + good))
    assert [r.ok for r in results] == [False] * 130 + [True] * 20
    assert all("Invalid email" in r.message for r in results[:130])


def _errors_naming_no_profile(klaviyo):
    from activation.http import Response

    original = klaviyo._send

    def send(method, path, *args, **kwargs):
        response = original(method, path, *args, **kwargs)
        if path.endswith("/import-errors"):
            body = response.json()
            for error in body["data"]:
                error["attributes"].pop("source", None)
                error["attributes"].pop("original_payload", None)
            return Response(200, response.headers, json.dumps(body).encode())
        return response

    klaviyo._send = send


def test_a_klaviyo_job_whose_refusals_name_no_profile_acknowledges_nothing(sandbox):
    klaviyo = make("klaviyo", sandbox)
    _errors_naming_no_profile(klaviyo)
    batch = profile_batch([rec("ext-1", email="one@x.io"), rec("ext-2", email="not-an-email")])
    with pytest.raises(BatchRejected, match="name no profile"):
        klaviyo.write(batch)


def test_a_rendered_klaviyo_job_places_every_refusal_across_the_error_pages(sandbox):
    from activation.protocol import RenderedBatch

    klaviyo = make("klaviyo", sandbox)
    profiles = [f'{{"type":"profile","attributes":{{"external_id":"e-{i}","email":"bad-{i}"}}}}' for i in range(130)]
    keys = [f"e-{i}" for i in range(130)]
    rendered = RenderedBatch("people", "profile", "upsert", "added", ",".join(profiles), 130, keys)
    problems = klaviyo.write_rendered(rendered)
    assert sorted(problems) == list(range(130))


# -- proxies -----------------------------------------------------------------------------


@pytest.fixture()
def forward_proxy():
    """A forward proxy stand-in: records each request line and Proxy-Authorization, answers 200."""
    import http.server
    import threading

    seen: list[tuple[str, str | None]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            seen.append((self.requestline, self.headers.get("Proxy-Authorization")))
            body = b'{"ok":true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def _no_proxy_env(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_a_plain_http_destination_goes_through_the_proxy_with_its_credentials(monkeypatch, forward_proxy, caplog):
    from activation.http import HttpClient

    port, seen = forward_proxy
    _no_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", f"http://proxy-user:s3cr%40t@127.0.0.1:{port}")
    client = HttpClient("x", "http://api.example.test")
    response = client.request("POST", "/v1/batch", json={"a": 1})
    assert response.status_code == 200 and response.json() == {"ok": True}
    expected = "Basic " + base64.b64encode(b"proxy-user:s3cr@t").decode()
    assert seen == [("POST http://api.example.test/v1/batch HTTP/1.1", expected)]  # the absolute URL
    assert "s3cr@t" not in client.redact("proxy said s3cr@t")
    client.close()


def test_an_https_proxy_tunnel_carries_the_proxy_credentials(monkeypatch):
    from activation.http import HttpClient

    _no_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy-user:pa%3Ass@proxy.internal:3128")
    client = HttpClient("x", "https://api.example.com")
    pool, path = client._pool("https://api.example.com/v1/batch")
    assert path == "/v1/batch"
    assert pool.proxy.host == "proxy.internal" and pool.proxy.auth is None
    expected = "Basic " + base64.b64encode(b"proxy-user:pa:ss").decode()
    assert pool.proxy_headers == {"proxy-authorization": expected}
