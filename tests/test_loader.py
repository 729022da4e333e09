"""Loading Segment-style export files into the raw tables."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from journey_atc.loader import LoadFileError, load_directory, load_files

FIXTURES = Path(__file__).parent / "fixtures" / "loader"


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_camel_case_json_lines_land_in_snake_case_columns_with_their_line_numbers(tmp_path):
    db = tmp_path / "w.duckdb"
    report = load_files(db, "events", [FIXTURES / "segment_events_camel.jsonl"])

    assert report.rows == {"events": 4}
    assert report.rejected_count == 0
    rows = query(
        db,
        "select message_id, type, anonymous_id, user_id, previous_id, received_at, "
        "_source_file, _source_line from raw.events order by _source_line",
    )
    assert rows == [
        (
            "m-1",
            "track",
            "a-1",
            "u-1",
            None,
            "2026-03-29T00:30:02Z",
            "segment_events_camel.jsonl",
            1,
        ),
        (
            "m-2",
            "identify",
            "a-1",
            "u-1",
            None,
            "2026-03-29T00:31:01Z",
            "segment_events_camel.jsonl",
            2,
        ),
        (
            "m-3",
            "alias",
            None,
            "u-1",
            "a-1",
            "2026-03-29T00:32:00Z",
            "segment_events_camel.jsonl",
            4,
        ),
        ("4", "page", "a-2", None, None, "2026-03-29T00:33:00Z", "segment_events_camel.jsonl", 5),
    ]


def test_nested_objects_become_json_text_and_json_strings_stay_as_sent(tmp_path):
    db = tmp_path / "w.duckdb"
    load_files(db, "events", [FIXTURES / "segment_events_camel.jsonl"])

    ctx, props, traits, ts = query(
        db,
        "select context, properties, traits, timestamp from raw.events where message_id = 'm-1'",
    )[0]
    assert json.loads(ctx)["device"] == {"id": "d-1", "type": "ios"}
    assert json.loads(props) == {"order_id": "o-1", "revenue": 42.5, "currency": "GBP"}
    assert traits is None
    assert ts == "2026-03-29T01:30:00+01:00"
    identify_traits = query(db, "select traits from raw.events where message_id = 'm-2'")[0][0]
    assert json.loads(identify_traits)["email"] == "Jane@Example.com"
    page_ctx = query(db, "select context from raw.events where message_id = '4'")[0][0]
    assert page_ctx == '{"locale": "de-DE"}'


def test_a_line_that_is_not_json_is_rejected_by_file_and_line_while_the_rest_loads(tmp_path):
    db = tmp_path / "w.duckdb"
    report = load_files(db, "events", [FIXTURES / "events_with_bad_lines.jsonl"])

    assert query(db, "select message_id from raw.events order by _source_line") == [
        ("ok-1",),
        ("ok-2",),
    ]
    assert report.rows == {"events": 2}
    assert report.rejected_count == 4
    by_line = {e.line: e for e in report.rejected}
    assert str(by_line[2]) == "events_with_bad_lines.jsonl line 2: is not valid JSON"
    assert by_line[4].reason == "is not a JSON object, got an array"


def test_a_wrong_typed_field_is_rejected_naming_the_field_and_what_it_got(tmp_path):
    db = tmp_path / "w.duckdb"
    report = load_files(db, "events", [FIXTURES / "events_with_bad_lines.jsonl"])

    by_line = {e.line: e for e in report.rejected}
    assert by_line[3].field == "context"
    assert str(by_line[3]) == (
        'events_with_bad_lines.jsonl line 3: field "context" must be an object or JSON text, got a number'
    )
    assert by_line[5].field == "user_id"
    assert "got an object" in by_line[5].reason


def test_rejected_lines_are_kept_in_raw_load_rejects_with_their_text(tmp_path):
    db = tmp_path / "w.duckdb"
    load_files(db, "events", [FIXTURES / "events_with_bad_lines.jsonl"])

    rejects = query(
        db,
        "select source_table, _source_file, _source_line, field, raw_line from raw.load_rejects order by _source_line",
    )
    assert [(r[0], r[1], r[2], r[3]) for r in rejects] == [
        ("events", "events_with_bad_lines.jsonl", 2, None),
        ("events", "events_with_bad_lines.jsonl", 3, "context"),
        ("events", "events_with_bad_lines.jsonl", 4, None),
        ("events", "events_with_bad_lines.jsonl", 5, "user_id"),
    ]
    assert rejects[0][4] == "this line is not JSON"
    assert '"context":7' in rejects[1][4]


def test_a_parquet_file_without_message_id_is_refused_and_loads_nothing(tmp_path):
    data = tmp_path / "export"
    data.mkdir()
    good = pa.table({"message_id": ["x"], "type": ["track"], "timestamp": ["2026-01-01T00:00:00Z"]})
    pq.write_table(good, data / "events_good.parquet")
    bad = pa.table({"type": ["track"], "event": ["Search"], "timestamp": ["2026-01-01T00:00:00Z"]})
    pq.write_table(bad, data / "events_bad.parquet")
    db = tmp_path / "w.duckdb"

    with pytest.raises(LoadFileError) as caught:
        load_directory(db, data)

    assert caught.value.file == "events_bad.parquet"
    assert 'required column "message_id" is missing' in str(caught.value)
    assert query(db, "select count(*) from raw.events") == [(0,)]


def test_an_unreadable_parquet_file_is_refused_with_its_name(tmp_path):
    broken = tmp_path / "events.parquet"
    broken.write_bytes(b"PAR1 this is not really parquet")

    with pytest.raises(LoadFileError, match=r"events\.parquet: cannot be read as Parquet"):
        load_files(tmp_path / "w.duckdb", "events", [broken])


def test_parquet_rows_keep_their_row_number_and_struct_context_becomes_json_text(tmp_path):
    table = pa.table(
        {
            "messageId": ["p-1", "p-2", None],
            "type": ["track", "track", "track"],
            "timestamp": ["2026-01-01T00:00:00Z"] * 3,
            "context": [{"locale": "en-US"}, {"locale": "de-DE"}, None],
        }
    )
    path = tmp_path / "events.parquet"
    pq.write_table(table, path)
    db = tmp_path / "w.duckdb"

    report = load_files(db, "events", [path])

    assert report.rows == {"events": 3}
    rows = query(db, "select message_id, context, _source_line from raw.events order by 3")
    assert [(r[0], r[2]) for r in rows] == [("p-1", 1), ("p-2", 2), (None, 3)]
    assert json.loads(rows[1][1]) == {"locale": "de-DE"}


def test_loading_the_same_directory_again_does_not_double_rows(tmp_path):
    data = tmp_path / "export"
    (data / "events").mkdir(parents=True)
    shutil.copy(FIXTURES / "segment_events_camel.jsonl", data / "events" / "part-1.jsonl")
    shutil.copy(FIXTURES / "events_with_bad_lines.jsonl", data / "events" / "part-2.jsonl")
    db = tmp_path / "w.duckdb"

    first = load_directory(db, data, replace=True)
    second = load_directory(db, data, replace=True)

    assert first.rows["events"] == second.rows["events"] == 6
    assert query(db, "select count(*) from raw.events") == [(6,)]
    assert query(db, "select count(*) from raw.load_rejects") == [(4,)]
    assert first.files == ["events/part-1.jsonl", "events/part-2.jsonl"]


def test_reloading_a_file_replaces_its_earlier_rows(tmp_path):
    db = tmp_path / "w.duckdb"
    path = FIXTURES / "segment_events_camel.jsonl"

    load_files(db, "events", [path])
    load_files(db, "events", [path])

    assert query(db, "select count(*) from raw.events") == [(4,)]


def test_a_json_array_file_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "events.json"
    path.write_text('[{"messageId": "a"}]')

    with pytest.raises(LoadFileError, match="one JSON object per line"):
        load_files(tmp_path / "w.duckdb", "events", [path])


def test_directory_files_are_matched_to_tables_by_name(tmp_path):
    data = tmp_path / "export"
    data.mkdir()
    rows = [
        {
            "eventId": "e1",
            "messageId": "m1",
            "channel": "email",
            "eventType": "sent",
            "timestamp": "2026-01-01T00:00:00Z",
        },
    ]
    (data / "message_events.ndjson").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (data / "venues.jsonl").write_text('{"venue_id": "v1", "name": "Hall", "capacity": 500}\n')
    (data / "notes.jsonl").write_text("{}\n")

    report = load_directory(tmp_path / "w.duckdb", data)

    assert report.rows["message_events"] == 1
    assert report.rows["venues"] == 1
    assert report.rows["events"] == 0
    assert report.ignored == ["notes.jsonl"]
    assert query(tmp_path / "w.duckdb", "select capacity from raw.venues") == [(500,)]


def test_loading_again_without_replace_keeps_one_copy_of_each_file_and_catalog(tmp_path):
    data = tmp_path / "export"
    data.mkdir()
    shutil.copy(FIXTURES / "segment_events_camel.jsonl", data / "events.jsonl")
    (data / "venues.jsonl").write_text('{"venue_id": "v1"}\n{"venue_id": "v2"}\n')
    db = tmp_path / "w.duckdb"

    load_directory(db, data, replace=False)
    load_directory(db, data, replace=False)

    assert query(db, "select count(*) from raw.events") == [(4,)]
    assert query(db, "select count(*) from raw.venues") == [(2,)]
