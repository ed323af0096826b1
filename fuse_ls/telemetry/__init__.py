"""Local session telemetry, Rudel upload and OpenTelemetry export (see docs/telemetry.md).

Modules are imported directly, never through this package, so that importing one pulls
in nothing else (the `otel` module needs the optional `otel` extra). Secret redaction
lives in `fuse_ls.core.redact` (the engine uses it too):

- `session`: `open_session`, the one observer the server and the CLI hold (recorder and,
  when on, OpenTelemetry);
- `recorder`: `SessionRecorder`, the engine observer writing Rudel-shaped transcripts;
  `writer` (the file: lines, rotation), `ordering` (a fusion's lines in Rudel's order),
  `transcript` (line shapes, usage mapping), `models` (vendor model ids), `gitinfo`;
- `otel`: `OtelObserver`, traces and metrics over OTLP/HTTP;
- `store`: data-dir layout, crash-safe appends, readers, retention;
- `stats` / `aggregate` / `report` / `html`: `fuse-ls stats` (terminal, JSON, HTML);
- `upload` / `envelope` / `rudel`: `fuse-ls upload` to a Rudel server, done as Rudel's CLI
  does (credentials, organization, error codes);
- `synthetic`: generated corpora for tests and `bench/bench_stats.py`.
"""
