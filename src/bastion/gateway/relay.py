"""Streams from an upstream (or the mock) to the client, frame by frame, as they arrive.

Two shapes: :class:`PassthroughRelay` forwards the upstream's own SSE frames byte for byte (same
protocol on both sides) while a sniffer reads usage; :class:`TranslatingRelay` turns canonical
events into the client's protocol. Both record the request *before* writing the final frame, so a
client that looks at ``/metrics`` after its stream ended sees it, and both record in ``finally``
when the stream breaks or the client goes away, billing what was generated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from bastion.domain.errors import BastionError
from bastion.domain.usage import Usage
from bastion.gateway.context import CallContext
from bastion.gateway.surfaces import StreamEncoder
from bastion.protocols.canonical import BlockDelta, MessageEnd, MessageStart, StreamError, StreamEvent
from bastion.protocols.sse import Event, FrameSplitter, parse_frame
from bastion.providers.base import UsageSniffer
from bastion.providers.http import UpstreamStream

__all__ = ["Finisher", "FrameObserver", "PassthroughRelay", "StreamRelay", "TranslatingRelay", "Writer"]


class Finisher(Protocol):
    def __call__(self, ctx: CallContext, *, status: int = 200, error: BastionError | None = None) -> None: ...


class FrameObserver(Protocol):
    """Sees a pass-through stream's frames (the response cache rebuilds the answer from them)."""

    def feed(self, event: str | None, data: bytes) -> None: ...

    def complete(self) -> None:
        """The provider's last frame arrived and the stream ended well."""


class StreamRelay(Protocol):
    def run(self) -> AsyncIterator[bytes]: ...

    def client_gone(self) -> None: ...


#: A client writer: writes a chunk at once and returns ``None``, or returns what to await before
#: the chunk is written (a client that reads slowly).
Writer = Callable[[bytes], Awaitable[None] | None]


class PassthroughRelay:
    """Forwards the upstream's frames as they are while its sniffer reads them.

    With :meth:`write_through`, the frames of each upstream read are passed on in the read callback
    itself (one turn of the event loop per token, no task wake): the relay's task then only sees
    the first frames, the end (the frame that records the call), a client that reads slowly, the
    upstream's errors and time-outs, and the client going away."""

    def __init__(
        self,
        ctx: CallContext,
        upstream: UpstreamStream,
        chunks: AsyncIterator[bytes],
        splitter: FrameSplitter,
        first_frames: list[bytes],
        sniffer: UsageSniffer,
        finish: Finisher,
        estimate_input: Callable[[], int],
        *,
        observer: FrameObserver | None = None,
    ) -> None:
        self._ctx = ctx
        self._observer = observer
        self._upstream = upstream
        self._chunks = chunks
        self._splitter = splitter
        self._pending = first_frames
        self._sniffer = sniffer
        self._finish = finish
        self._estimate_input = estimate_input
        # Until the first content frame: after it, the time to first token is known.
        self._timing = ctx.record.ttft_ms is None
        self._write: Writer | None = None
        #: Whether the read callback may pass frames on (only while the task waits for a chunk).
        self._taking = False
        #: What the read callback left for the task: frames to pass on, a write to await, an error.
        self._handoff: tuple[list[Event], Awaitable[None] | None, BaseException | None] | None = None

    def client_gone(self) -> None:
        self._ctx.record.client_disconnected = True

    def write_through(self, write: Writer) -> None:
        """Write later frames with ``write`` straight from the upstream's read callback."""
        self._write = write

    async def run(self) -> AsyncIterator[bytes]:
        ctx = self._ctx
        next_chunk, split = self._chunks.__anext__, self._splitter.events
        status, error = 200, None
        through = self._write is not None
        try:
            frames = [(frame, *parse_frame(frame)) for frame in self._pending]
            self._pending = []
            ended = False
            while True:
                out = self._pass(frames)
                # Whatever arrived together leaves together: one write, never held back.
                if out:
                    yield out
                if ended:
                    break
                if through:
                    through = False
                    self._upstream.deliver(self._take)
                self._taking = True
                try:
                    chunk = await next_chunk()
                except StopAsyncIteration:
                    ended = True  # one more round for frames held back at the very end
                    frames = [(frame, *parse_frame(frame)) for frame in self._splitter.finish()]
                    continue
                finally:
                    self._taking = False
                handoff = self._handoff
                if handoff is None:
                    frames = split(chunk)
                    continue
                # ``chunk`` is the piece the read callback handed over: what it left is here.
                self._handoff = None
                frames, waiting, failed = handoff
                if failed is not None:
                    raise failed
                if waiting is not None:
                    await waiting
        except BastionError as err:
            status, error = err.status, err
            yield ctx.surface.stream_error(err.status, err.kind, err.message)
        finally:
            self._taking = False
            self._upstream.deliver(None)
            self._upstream.close()
            sniffer, record = self._sniffer, ctx.record
            if sniffer.error is not None and error is None:
                status, record.error_kind = sniffer.error
            if not ctx.recorded:
                self._settle()
                self._finish(ctx, status=status, error=error)

    def _take(self, chunk: bytes) -> bool:
        """The upstream's read callback: pass ``chunk``'s frames on now, as :meth:`run` would;
        ``False`` (the piece is queued, the task wakes) when the task must act: the last frame
        (the call is recorded in the task, as ever), a write to wait for, an error."""
        if not self._taking:
            return False
        try:
            frames = self._splitter.events(chunk)
            is_terminal = self._ctx.surface.is_terminal
            for _, event, data in frames:
                if is_terminal(event, data):
                    self._hand_over(frames, None, None)
                    return False
            out = self._pass(frames)
            if out:
                assert self._write is not None
                waiting = self._write(out)
                if waiting is not None:
                    self._hand_over([], waiting, None)
                    return False
        except Exception as exc:  # raised in the task instead: never into the HTTP parser
            self._hand_over([], None, exc)
            return False
        return True

    def _hand_over(
        self, frames: list[Event], waiting: Awaitable[None] | None, failed: BaseException | None
    ) -> None:
        self._taking = False
        self._handoff = (frames, waiting, failed)

    def _pass(self, frames: list[Event]) -> bytes | None:
        """Account for ``frames`` (usage, time to first token, the observer; the call is recorded
        at its last frame, before that frame is written) and return what goes to the client."""
        ctx, sniffer, observer = self._ctx, self._sniffer, self._observer
        observe = sniffer.observe
        out: list[bytes] = []
        for frame, event, data in frames:
            keep = observe(frame, event, data)
            if observer is not None and data is not None:
                observer.feed(event, data)
            if self._timing and sniffer.content_frames:
                self._timing = False
                record = ctx.record
                if record.ttft_ms is None:
                    record.ttft_ms = ctx.elapsed_ms()
            if not ctx.recorded and ctx.surface.is_terminal(event, data):
                self._settle()
                if sniffer.error is None:
                    if observer is not None:
                        observer.complete()
                    self._finish(ctx)
                else:
                    status, ctx.record.error_kind = sniffer.error
                    self._finish(ctx, status=status)
            if keep:
                out.append(frame)
        if not out:
            return None
        return out[0] if len(out) == 1 else b"".join(out)

    def _settle(self) -> None:
        sniffer, record = self._sniffer, self._ctx.record
        usage = sniffer.usage
        if not sniffer.reported:
            # The stream broke (or the client left) before the provider reported usage: estimate
            # one token per content frame, which is how providers stream.
            record.usage_estimated = True
            usage = Usage(
                input_tokens=usage.input_tokens or self._estimate_input(),
                output_tokens=max(usage.output_tokens, sniffer.content_frames),
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
            )
        record.usage = usage


class TranslatingRelay:
    def __init__(
        self,
        ctx: CallContext,
        events: AsyncIterator[StreamEvent],
        encoder: StreamEncoder,
        finish: Finisher,
        estimate_input: Callable[[], int],
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._ctx = ctx
        self._events = events
        self._encoder = encoder
        self._finish = finish
        self._estimate_input = estimate_input
        self._on_close = on_close
        self._usage = Usage()
        self._deltas = 0

    def client_gone(self) -> None:
        self._ctx.record.client_disconnected = True

    async def run(self) -> AsyncIterator[bytes]:
        ctx, encode = self._ctx, self._encoder.encode
        status, error = 200, None
        ended = False
        try:
            async for event in self._events:
                kind = type(event)
                if kind is MessageEnd:
                    assert isinstance(event, MessageEnd)
                    ended = True
                    ctx.record.usage = event.usage
                    self._finish(ctx)
                elif kind is StreamError:
                    assert isinstance(event, StreamError)
                    status = event.status
                    ctx.record.error_kind = event.kind
                    self._settle()
                    yield self._held() + ctx.surface.stream_error(event.status, event.kind, event.message)
                    return
                else:
                    self._observe(event)
                out = encode(event)
                if out:
                    if ctx.record.ttft_ms is None and self._deltas:
                        ctx.record.ttft_ms = ctx.elapsed_ms()
                    yield out
        except BastionError as err:
            status, error = err.status, err
            self._settle()
            yield self._held() + ctx.surface.stream_error(err.status, err.kind, err.message)
        finally:
            if self._on_close is not None:
                self._on_close()
            if not ctx.recorded:
                if not ended:
                    self._settle()
                self._finish(ctx, status=status, error=error)

    def _held(self) -> bytes:
        """What the encoder still holds when the stream fails (the token stream keeps one token
        back to mark the last); it was generated, so the client gets it before the error."""
        flush = getattr(self._encoder, "flush", None)
        return flush() if flush is not None else b""

    def _observe(self, event: StreamEvent) -> None:
        if type(event) is BlockDelta:
            self._deltas += 1
        elif type(event) is MessageStart:
            assert isinstance(event, MessageStart)
            self._usage.merge(event.usage)

    def _settle(self) -> None:
        record = self._ctx.record
        record.usage_estimated = True
        record.usage = Usage(
            input_tokens=self._usage.input_tokens or self._estimate_input(),
            output_tokens=self._deltas,
            cache_read_tokens=self._usage.cache_read_tokens,
            cache_write_tokens=self._usage.cache_write_tokens,
        )
