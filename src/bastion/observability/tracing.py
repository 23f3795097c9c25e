"""OpenTelemetry traces: one span per finished request, exported over OTLP/HTTP.

Loaded only when ``bastion_settings.otlp_endpoint`` is set: the OpenTelemetry SDK and its exporter
(several MiB) are imported by :class:`RequestTracer`'s constructor, never by importing this module.
Spans are handed to a batch processor whose own thread sends them, so the request path only builds
the span. No global tracer provider is installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

__all__ = ["AttributeValue", "RequestTracer", "traces_url"]

AttributeValue = str | bool | int | float

_TRACES_PATH = "/v1/traces"


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a collector's base URL (``http://collector:4318``), as the
    OpenTelemetry SDK derives it from ``OTEL_EXPORTER_OTLP_ENDPOINT``; a URL that already ends with
    ``/v1/traces`` is kept."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(_TRACES_PATH) else endpoint + _TRACES_PATH


class RequestTracer:
    def __init__(self, endpoint: str, *, service_name: str = "bastion", version: str = "") -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create({"service.name": service_name, "service.version": version})
        self._provider: TracerProvider = TracerProvider(resource=resource)
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint))))
        self._tracer: Tracer = self._provider.get_tracer("bastion", version)

    def span(
        self,
        name: str,
        *,
        start_ns: int,
        end_ns: int,
        attributes: Mapping[str, AttributeValue | None],
        error: str | None = None,
    ) -> None:
        """Record one finished request as a server span (``None`` attributes are left out)."""
        from opentelemetry.trace import SpanKind, Status, StatusCode

        present = {key: value for key, value in attributes.items() if value is not None}
        span = self._tracer.start_span(name, kind=SpanKind.SERVER, attributes=present, start_time=start_ns)
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=end_ns)

    def close(self) -> None:
        """Send the spans still queued, then stop the exporter's thread."""
        self._provider.shutdown()
