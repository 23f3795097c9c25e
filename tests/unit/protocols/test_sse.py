"""Server-Sent Events framing: FrameSplitter, parse_frame and encode_event."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.protocols.sse import FrameSplitter, encode_event, parse_frame

_LINE_ENDS = (b"\n", b"\r\n", b"\r")
# Characters str.splitlines breaks on that may legally sit inside a JSON string (UTF-8 encoded).
_JSON_LINE_BREAKERS = ("\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e")


def split_all(data: bytes, cuts: list[int]) -> tuple[list[bytes], bytes]:
    """Feed ``data`` cut at the given offsets; return the frames and what flush() leaves."""
    splitter = FrameSplitter()
    frames: list[bytes] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        frames.extend(splitter.feed(data[start:cut]))
        start = cut
    return frames, splitter.flush()


@pytest.mark.parametrize("eol", _LINE_ENDS, ids=["LF", "CRLF", "CR"])
def test_each_line_end_terminates_frames(eol: bytes) -> None:
    """LF, CRLF and CR line ends each end a frame at the blank line, raw bytes kept."""
    first = b"event: a" + eol + b"data: 1" + eol + eol
    second = b"data: 2" + eol + eol
    splitter = FrameSplitter()
    # The next event's first byte proves a trailing CR is not the start of a CRLF.
    assert splitter.feed(first + second + b"data: 3") == [first, second]
    assert splitter.flush() == b"data: 3"


def test_mixed_line_ends_in_one_stream() -> None:
    """Frames that end with different line-end styles in one stream are all found."""
    data = b"data: 1\n\ndata: 2\r\n\r\ndata: 3\r\rdata: 4\n\r\n"
    assert FrameSplitter().feed(data) == [
        b"data: 1\n\n",
        b"data: 2\r\n\r\n",
        b"data: 3\r\r",
        b"data: 4\n\r\n",
    ]


def test_crlf_split_across_chunks_is_one_line_break() -> None:
    """A CR ending one chunk and an LF starting the next make one line break, not a blank line."""
    splitter = FrameSplitter()
    assert splitter.feed(b"data: 1\r") == []
    assert splitter.feed(b"\n") == []
    assert splitter.feed(b"data: 2\r\n\r") == []
    assert splitter.feed(b"\n") == [b"data: 1\r\ndata: 2\r\n\r\n"]
    assert splitter.flush() == b""


def test_trailing_cr_is_held_until_the_next_byte() -> None:
    """A frame whose blank line might still be a CRLF is not released before the next byte."""
    splitter = FrameSplitter()
    assert splitter.feed(b"data: 1\r\r") == []
    assert splitter.feed(b"data: 2") == [b"data: 1\r\r"]
    assert splitter.flush() == b"data: 2"


def test_stream_ending_in_cr_cr_leaves_the_last_frame_to_flush() -> None:
    """At end of stream a CR-terminated last frame is still held: only flush() returns it."""
    splitter = FrameSplitter()
    assert splitter.feed(b"data: 1\r\r") == []
    assert splitter.flush() == b"data: 1\r\r"


def test_flush_returns_the_unterminated_rest_and_clears() -> None:
    """flush() hands back bytes after the last complete frame, then the splitter is empty."""
    splitter = FrameSplitter()
    assert splitter.feed(b"data: 1\n\ndata: par") == [b"data: 1\n\n"]
    assert splitter.flush() == b"data: par"
    assert splitter.flush() == b""
    assert splitter.feed(b"tial\n\n") == [b"tial\n\n"]


@pytest.mark.parametrize("char", _JSON_LINE_BREAKERS)
def test_unicode_line_separators_inside_json_never_split(char: str) -> None:
    """U+2028, U+2029, NEL and other splitlines() breakers inside JSON stay inside one frame."""
    payload = ('{"text": "a' + char + char + 'b"}').encode()
    data = b"data: " + payload + b"\n\n"
    frames, rest = split_all(data, list(range(1, len(data))))
    assert frames == [data]
    assert rest == b""
    assert parse_frame(frames[0]) == (None, payload)


_field_value = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12)
_line = st.tuples(st.sampled_from(["data", "event", ":", "id"]), _field_value).map(
    lambda pair: (pair[0] + (" " if pair[0] == ":" else ": ") + pair[1]).encode()
)
_frame = st.tuples(st.lists(_line, min_size=1, max_size=4), st.sampled_from(_LINE_ENDS)).map(
    lambda pair: b"".join(line + pair[1] for line in pair[0]) + pair[1]
)


@given(
    frames=st.lists(_frame, min_size=1, max_size=5),
    tail=st.sampled_from([b"", b"data: x", b"data: x\r", b"data: x\n"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_any_chunking_gives_the_same_frames(frames: list[bytes], tail: bytes, cuts: list[int]) -> None:
    """Cutting the stream at arbitrary byte offsets yields the same frames and the same remainder."""
    data = b"".join(frames) + tail
    whole, whole_rest = split_all(data, [])
    chunked, chunked_rest = split_all(data, [c for c in cuts if c < len(data)])
    assert chunked == whole
    assert chunked_rest == whole_rest
    assert b"".join(whole) + whole_rest == data


@given(frames=st.lists(_frame, min_size=1, max_size=3))
def test_every_single_byte_boundary_gives_the_same_frames(frames: list[bytes]) -> None:
    """Feeding one byte at a time finds exactly the frames the whole buffer contains."""
    data = b"".join(frames) + b"data: next"
    bytewise, rest = split_all(data, list(range(1, len(data))))
    assert bytewise == frames
    assert rest == b"data: next"


@given(
    frames=st.lists(_frame, min_size=1, max_size=5),
    tail=st.sampled_from([b"", b"data: x", b"data: x\r", b"data: x\n"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_events_are_the_frames_with_their_parse(frames: list[bytes], tail: bytes, cuts: list[int]) -> None:
    """``events`` (the pass-through relay's one pass) gives exactly ``feed``'s frames, in order,
    each with what ``parse_frame`` says of it, for any chunking; the rest is kept the same way."""
    data = b"".join(frames) + tail
    framed, evented = FrameSplitter(), FrameSplitter()
    expected: list[tuple[bytes, str | None, bytes | None]] = []
    got: list[tuple[bytes, str | None, bytes | None]] = []
    start = 0
    for cut in [*sorted({c for c in cuts if c < len(data)}), len(data)]:
        expected.extend((frame, *parse_frame(frame)) for frame in framed.feed(data[start:cut]))
        got.extend(evented.events(data[start:cut]))
        start = cut
    assert got == expected
    held = evented.finish()  # a frame ending in CR CR waits for an LF that now never comes
    assert held == framed.finish()
    assert [frame for frame, _, _ in got] + held == frames


def test_parse_frame_joins_data_lines_with_lf() -> None:
    """Several data lines become one payload joined by LF, whatever the frame's line ends."""
    assert parse_frame(b"data: a\ndata: b\ndata: c\n\n") == (None, b"a\nb\nc")
    assert parse_frame(b"data: a\r\ndata: b\r\n\r\n") == (None, b"a\nb")
    assert parse_frame(b"data: a\rdata: b\r\r") == (None, b"a\nb")


def test_parse_frame_ignores_comments_and_unknown_fields() -> None:
    """Comment lines and fields other than data/event do not change the result."""
    frame = b": keep-alive\nid: 7\nretry: 100\nevent: delta\ndata: {}\n\n"
    assert parse_frame(frame) == ("delta", b"{}")


def test_parse_frame_removes_exactly_one_space_after_colon() -> None:
    """Only the first space after the colon is dropped; no space means nothing is dropped."""
    assert parse_frame(b"data:  two\n\n") == (None, b" two")
    assert parse_frame(b"data:none\n\n") == (None, b"none")
    assert parse_frame(b"event:ping\ndata:x\n\n") == ("ping", b"x")


def test_parse_frame_data_line_without_colon_is_empty_data() -> None:
    """A bare 'data' line is a data field with an empty value."""
    assert parse_frame(b"data\ndata: x\n\n") == (None, b"\nx")


def test_parse_frame_keeps_the_last_event_name() -> None:
    """The event name is decoded and the last event line wins."""
    assert parse_frame(b"event: first\nevent: message_stop\ndata: {}\n\n") == ("message_stop", b"{}")


def test_parse_frame_without_data_returns_none() -> None:
    """A frame with no data line has data None (the event name is still reported)."""
    assert parse_frame(b"event: ping\n\n") == ("ping", None)
    assert parse_frame(b": comment only\n\n") == (None, None)


def test_encode_event_wire_shape() -> None:
    """encode_event writes an optional event line, one data line with a space, and a blank line."""
    assert encode_event(b'{"a":1}') == b'data: {"a":1}\n\n'
    assert encode_event(b"{}", "message_start") == b"event: message_start\ndata: {}\n\n"


@given(
    data=st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b),
    event=st.none() | st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.", min_size=1, max_size=20),
)
def test_encode_then_split_and_parse_round_trips(data: bytes, event: str | None) -> None:
    """An encoded event is one whole frame and parses back to the same event and data."""
    encoded = encode_event(data, event)
    assert FrameSplitter().feed(encoded) == [encoded]
    assert parse_frame(encoded) == (event, data)


def test_finish_releases_a_frame_held_for_a_crlf_that_never_came() -> None:
    """At end of stream finish() returns the CR-terminated last frame and drops an unterminated rest."""
    splitter = FrameSplitter()
    assert splitter.feed(b"data: 1\r\rdata: 2\r\r") == [b"data: 1\r\r"]
    assert splitter.finish() == [b"data: 2\r\r"]
    splitter.feed(b"data: 3\n\ndata: cut")
    assert splitter.finish() == []
