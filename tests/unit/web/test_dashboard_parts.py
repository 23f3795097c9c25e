"""The dashboard's pure parts: session cookies and CSRF tokens, overview numbers, SVG charts, escaping."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from bastion.store.spend import RequestTiming
from bastion.web._html import Markup, e, page, table
from bastion.web.charts import bar_chart, ranking_chart
from bastion.web.sessions import SessionSigner, cookie_header, read_cookie
from bastion.web.stats import WINDOWS, percentile, summarize

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_a_session_cookie_round_trips_and_forgeries_fail() -> None:
    """Issued cookies read back; a changed byte, another secret or an expired one reads as None."""
    signer = SessionSigner(b"secret-one", lifetime_seconds=60)
    cookie, session = signer.issue("user", "u-1", signer.stamp("pwd"), now=1000.0)
    assert signer.read(cookie, now=1001.0) == session
    assert signer.read(cookie, now=1060.0) is None
    body, _, sig = cookie.partition(".")
    assert signer.read(body[:-1] + ("A" if body[-1] != "A" else "B") + "." + sig, now=1001.0) is None
    assert SessionSigner(b"secret-two").read(cookie, now=1001.0) is None
    assert signer.read("garbage", now=1001.0) is None and signer.read(None) is None


def test_csrf_tokens_belong_to_one_session() -> None:
    signer = SessionSigner(b"s")
    _, one = signer.issue("master", "", "x")
    _, two = signer.issue("master", "", "x")
    assert signer.check_csrf(one, signer.csrf(one))
    assert not signer.check_csrf(one, signer.csrf(two))
    assert not signer.check_csrf(one, None) and not signer.check_csrf(one, "")


def test_stamps_hide_the_credential_and_follow_it() -> None:
    signer = SessionSigner(b"s")
    assert signer.stamp("sk-master-1") != signer.stamp("sk-master-2")
    assert "sk-master" not in signer.stamp("sk-master-1")


def test_cookies_are_http_only_strict_and_secure_on_https() -> None:
    name, value = cookie_header("bastion_session", "v", secure=True, max_age=10)
    assert name == b"set-cookie"
    assert value == b"bastion_session=v; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=10; Secure"
    assert b"Secure" not in cookie_header("c", "v", secure=False, max_age=0)[1]
    assert read_cookie("a=1; bastion_session=xyz; b=2", "bastion_session") == "xyz"
    assert read_cookie(None, "a") is None and read_cookie("a=1", "b") is None


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([], 50) is None
    assert percentile([3.0], 99) == 3.0


def test_summarize_buckets_requests_errors_latency_and_first_token() -> None:
    """Each request lands in its bucket; latency and TTFT percentiles come from the logged times."""
    window = WINDOWS["hour"]
    rows = [
        RequestTiming(
            NOW - timedelta(minutes=59),
            NOW - timedelta(minutes=59) + timedelta(seconds=1),
            None,
            "success",
            10,
            0.5,
        ),
        RequestTiming(
            NOW - timedelta(minutes=1),
            NOW - timedelta(minutes=1) + timedelta(seconds=3),
            NOW - timedelta(minutes=1) + timedelta(seconds=0.5),
            "failure",
            4,
            0.25,
        ),
    ]
    o = summarize(rows, window, NOW, sampled=False)
    assert (o.requests, o.errors, o.prompt_and_completion_tokens, o.cost) == (2, 1, 14, 0.75)
    assert (
        o.requests_per_bucket[0] == 1 and o.requests_per_bucket[-1] == 1 and sum(o.requests_per_bucket) == 2
    )
    assert o.errors_per_bucket[-1] == 1 and o.cost_per_bucket[0] == 0.5
    assert o.latency == (1.0, 3.0, 3.0)
    assert o.ttft == (0.5, 0.5, 0.5)
    assert len(o.labels) == window.buckets == 12


def test_charts_carry_their_numbers_and_escape_labels() -> None:
    svg = bar_chart("Requests", ["a", "b"], [0.0, 2.0], chart_id="c")
    assert 'data-label="b" data-value="2"' in svg and 'id="c"' in svg
    ranking = ranking_chart("Spend", [("<team>", 1.5)], chart_id="r")
    assert "&lt;team&gt;" in ranking and "<team>" not in ranking
    assert "No requests" in ranking_chart("Spend", [], chart_id="r")


def test_values_are_escaped_unless_built_as_markup() -> None:
    assert e('<script>"x"</script>') == "&lt;script&gt;&quot;x&quot;&lt;/script&gt;"
    assert e(Markup("<b>ok</b>")) == "<b>ok</b>"
    assert e(None) == "&ndash;"
    html = table(["h"], [["<i>"]], table_id="t", empty="none")
    assert "<td>&lt;i&gt;</td>" in html
    assert b"<title>&lt;x&gt; \xc2\xb7 Bastion</title>" in page("<x>", "")


def test_after_login_only_dashboard_paths_are_followed() -> None:
    from bastion.web.dashboard import _local_target

    assert _local_target("/ui/keys?page=2") == "/ui/keys?page=2"
    assert _local_target("/ui") == "/ui"
    for bad in (
        "https://evil.example/ui",
        "//evil.example",
        "/uievil",
        "/ui/\r\nSet-Cookie: x=1",
        "/ui/\\evil",
        "",
    ):
        assert _local_target(bad) == "/ui", bad


def test_a_chart_over_time_has_both_axes_with_values_and_dates() -> None:
    """The value axis says 0, the middle and the top; the time axis writes out at most six
    evenly spaced bucket dates, the first one always; the axis says its time zone."""
    labels = [f"2026-11-{day:02}" for day in range(1, 31)]
    svg = bar_chart("Spend", labels, [float(i) for i in range(30)], chart_id="c", axis="UTC days")
    ticks = re.findall(r'class="x-tick"[^>]*>([^<]+)<', svg)
    assert ticks[0] == "2026-11-01" and 2 <= len(ticks) <= 6 and set(ticks) <= set(labels)
    assert re.findall(r'class="y-tick"[^>]*>([^<]+)<', svg) == ["0", "25", "50"]  # a round top
    assert "UTC days" in svg and svg.count('class="bar"') == 30

    def marks(values: list[float]) -> list[str]:
        return re.findall(
            r'class="y-tick"[^>]*>([^<]+)<', bar_chart("c", ["a"] * len(values), values, chart_id="c")
        )

    assert marks([0.0, 0.0]) == ["0"]  # nothing to scale: one mark
    assert marks([1.0, 0.0]) == ["0", "1"]  # a count is never half a request
    assert marks([0.00002]) == ["0", "0.00001", "0.00002"]
    assert marks([7.0]) == ["0", "5", "10"]


def test_csv_is_quoted_and_formulas_are_defused() -> None:
    from bastion.web.spend import csv_text

    text = csv_text(["a", "b"], [['x, "y"', "=1+1"], ["-2", 3], ["@me", "line\nbreak"]])
    assert text.split("\r\n")[0] == "a,b"
    assert list(csv.reader(io.StringIO(text))) == [
        ["a", "b"],
        ['x, "y"', "'=1+1"],
        ["'-2", "3"],
        ["'@me", "line\nbreak"],
    ]


def test_a_failed_request_says_why() -> None:
    from bastion.store.records import SpendLogRecord
    from bastion.web.requests import failure_reason

    def log(**fields: object) -> SpendLogRecord:
        return SpendLogRecord(request_id="r", api_key="", start_time=NOW, **fields)  # type: ignore[arg-type]

    assert failure_reason(log()) is None
    assert (
        failure_reason(log(status="failure", http_status=429, metadata={"error_kind": "rate_limit"}))
        == "rate_limit: rate limited (HTTP 429)"
    )
    assert failure_reason(log(status="failure", metadata={"error_kind": ["odd"]})) == "failed"
    assert failure_reason(log(client_disconnected=True)) == "the client disconnected"


def test_filters_read_only_what_they_know() -> None:
    from bastion.web.filters import Filters

    read = Filters.read(
        {"status": "maybe", "range": "decade", "start": "2026-02-30", "end": "2026-11-01", "team": " t "}
    )
    assert (read.status, read.range, read.start, read.end, read.team) == ("", "day", "", "2026-11-01", "t")
    assert read.query(page=2) == "team=t&range=day&end=2026-11-01&page=2"
    start, end = read.span(NOW)
    assert start is None and end == datetime(2026, 11, 2, tzinfo=UTC)  # the end day is included
    assert Filters.read({"range": "hour"}).span(NOW) == (NOW - timedelta(hours=1), None)
    assert Filters.read({"start": "9999-12-31"}).start == ""  # no day after it to end on
