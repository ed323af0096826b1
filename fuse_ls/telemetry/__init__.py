"""Local session telemetry (see docs/telemetry.md).

Modules are imported directly, never through this package, so that the engine's
`from fuse_ls.telemetry.redact import redact` pulls in nothing else:

- `redact`: secret redaction, a pure function (also used on code sent to models);
- `recorder`: `SessionRecorder`, the engine observer writing Rudel-shaped transcripts;
- `store`: data-dir layout, crash-safe appends, readers, retention;
- `transcript`: line-level helpers (timestamps, stable ids, usage mapping);
- `stats` / `report` / `html`: `fuse-ls stats` (terminal, JSON, HTML);
- `upload`: `fuse-ls upload` to a self-hosted Rudel;
- `synthetic`: generated corpora for tests and `bench/bench_stats.py`.
"""
