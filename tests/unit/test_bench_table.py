"""The bench's table: every column from tiny hand-made results, the ratios, the dashes (no timing here)."""
from bench.loadgen import parse_head
from bench.table import HEAD, LevelResult, format_table


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def test_table_prints_both_ratios_and_dashes_for_the_pipeline_row():
    rows = [
        LevelResult(label="4", lifecycles=10, transitions_per_s=30.0, p50=0.1, p95=0.25, p99=0.3004,
                    lag_p50=0.5, lag_p99=1.25, events=30, events_per_s=12.5, emails=50, emails_per_s=20.0,
                    errors=0, pg_tps=1500.0, floor_rps=300.0),
        LevelResult(label="pipeline", lifecycles=200, events=600, events_per_s=40.0, emails=1000,
                    emails_per_s=66.66, errors=2, drained=False),
    ]
    lines = format_table(rows).splitlines()
    assert len(lines) == 4
    assert _cells(lines[0]) == list(HEAD)
    assert set(lines[1]) == {"|", "-"}
    assert len({len(line) for line in lines}) == 1  # aligned
    level = dict(zip(HEAD, _cells(lines[2])))
    assert level == {"level": "4", "lifecycles": "10", "trans/s": "30.0", "p50 ms": "100", "p95 ms": "250",
                     "p99 ms": "300", "lag p50 ms": "500", "lag p99 ms": "1250", "events": "30",
                     "events/s": "12.5", "emails": "50", "emails/s": "20.0", "errors": "0", "PG tx/s": "1500",
                     "/PG": "0.02", "floor tr/s": "300", "/floor": "0.10"}
    pipeline = dict(zip(HEAD, _cells(lines[3])))
    assert pipeline["errors"] == "2 (not drained)"
    assert pipeline["events/s"] == "40.0" and pipeline["emails/s"] == "66.7"
    for column in ("trans/s", "p50 ms", "lag p99 ms", "PG tx/s", "/PG", "floor tr/s", "/floor"):
        assert pipeline[column] == "—", column


def test_floor_errors_are_shown_next_to_the_floor_rate():
    row = LevelResult(label="1", lifecycles=1, transitions_per_s=3.0, pg_tps=0.0, floor_rps=60.0, floor_errors=3)
    cells = dict(zip(HEAD, _cells(format_table([row]).splitlines()[2])))
    assert cells["floor tr/s"] == "60 (3 errors)"
    assert cells["/floor"] == "0.05"
    assert cells["/PG"] == "—"  # no reference rate, no ratio (never a division by zero)


def test_response_head_parsing_knows_length_and_close():
    assert parse_head(b"HTTP/1.1 201 CREATED\r\nContent-Length: 12\r\nConnection: close") == (201, 12, True)
    assert parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 0") == (200, 0, False)
    assert parse_head(b"HTTP/1.0 404 NOT FOUND\r\nServer: x") == (404, None, True)
