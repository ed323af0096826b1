"""A loopback OTLP/HTTP receiver for tests: decodes what arrives with opentelemetry-proto."""

from __future__ import annotations

import gzip
import threading
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.loopback_http import LoopbackServer, QuietHandler


class Collector(LoopbackServer):
    def __init__(self) -> None:
        self.traces: list[ExportTraceServiceRequest] = []
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.headers: list[dict[str, str]] = []
        self.got = threading.Condition()
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                assert self.headers.get("content-type") == "application/x-protobuf"
                with outer.got:
                    outer.headers.append(dict(self.headers.items()))
                    if self.path == "/v1/traces":
                        outer.traces.append(ExportTraceServiceRequest.FromString(body))
                    elif self.path == "/v1/metrics":
                        outer.metrics.append(ExportMetricsServiceRequest.FromString(body))
                    outer.got.notify_all()
                self.send_response(200 if self.path in ("/v1/traces", "/v1/metrics") else 404)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

        super().__init__(Handler)


def spans_of(c: Collector) -> list[Any]:
    return [
        span
        for req in c.traces
        for rs in req.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]


def attributes(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:
        v = kv.value
        out[kv.key] = getattr(v, v.WhichOneof("value"))
    return out
