"""OpenTelemetry: with ``otlp_endpoint`` set, each request becomes one span at an OTLP/HTTP collector.

The collector is a fake on loopback that decodes what the exporter sends (protobuf) with the
OTLP protocol's own message classes.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from test_sdk_passthrough import openai_client

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import Fault, MockUpstream
from support import MASTER_KEY, UPSTREAM_KEY, standard_models


class FakeCollector:
    """Records every OTLP/HTTP trace export it receives: (path, decoded request)."""

    def __init__(self) -> None:
        self.exports: list[tuple[str, ExportTraceServiceRequest, str]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                message = ExportTraceServiceRequest()
                message.ParseFromString(raw)
                collector.exports.append((self.path, message, self.headers.get("Content-Type", "")))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def spans(self) -> list[Any]:
        return [
            span
            for _, message, _ in self.exports
            for resource in message.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    fake = FakeCollector()
    yield fake
    fake.close()


def attributes(span: Any) -> dict[str, object]:
    out: dict[str, object] = {}
    for kv in span.attributes:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind)
    return out


def test_each_request_is_one_span_at_the_collector(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, collector: FakeCollector
) -> None:
    gw = start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "router_settings": {"num_retries": 1},
            "bastion_settings": {"otlp_endpoint": collector.url, "otlp_service_name": "bastion-test"},
        }
    )
    client = openai_client(gw)
    upstream.script(Fault(status=500, retry_after=0.01))
    client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}], max_tokens=3)
    with pytest.raises(openai.BadRequestError):
        upstream.script(Fault(status=400))
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "x"}])
    gw.stop()  # shutting down sends the spans still queued

    assert {path for path, _, _ in collector.exports} == {"/v1/traces"}
    assert {ctype for _, _, ctype in collector.exports} == {"application/x-protobuf"}
    resource = {
        kv.key: kv.value.string_value
        for _, message, _ in collector.exports
        for rs in message.resource_spans
        for kv in rs.resource.attributes
    }
    assert resource["service.name"] == "bastion-test"
    spans = sorted(collector.spans(), key=lambda s: s.start_time_unix_nano)
    assert [s.name for s in spans] == ["openai gpt", "openai claude"]
    ok, failed = (attributes(s) for s in spans)
    assert ok["gen_ai.request.model"] == "gpt" and ok["gen_ai.system"] == "openai"
    assert ok["gen_ai.usage.output_tokens"] == 3 and ok["bastion.attempts"] == 2
    assert ok["http.response.status_code"] == 200 and "error.type" not in ok
    assert spans[0].status.code == 0  # unset: fine
    assert failed["http.response.status_code"] == 400 and failed["error.type"] == "invalid_request"
    assert spans[1].status.code == 2  # error
    assert all(s.end_time_unix_nano >= s.start_time_unix_nano > 0 for s in spans)
    assert len({s.trace_id for s in spans}) == 2
    dump = b"".join(message.SerializeToString() for _, message, _ in collector.exports)
    assert MASTER_KEY.encode() not in dump and UPSTREAM_KEY.encode() not in dump


def test_without_an_endpoint_opentelemetry_is_never_imported(tmp_path: Path) -> None:
    """Idle memory matters: building and serving a gateway without otlp_endpoint loads no OpenTelemetry."""
    config = tmp_path / "config.yaml"
    config.write_text("model_list:\n  - model_name: m\n    litellm_params: {model: mock/echo}\n")
    script = (
        "import sys\n"
        "from bastion.app import build_app\n"
        "from bastion.settings import load_settings\n"
        f"build_app(load_settings({str(config)!r}))\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
