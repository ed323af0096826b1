"""An endpoint that answers with a redirect. The request carries the code under review and,
for most endpoints, a key in `Authorization`; a redirect may point at any host. It is not
followed, and the user is told where it pointed (it said "not JSON: ''" before)."""

from __future__ import annotations

from pathlib import Path

from tests.loopback_http import LoopbackServer, QuietHandler
from tests.pool_sample import outside_env, run_cli

KEY = "sk-local-0123456789abcdef"
seen: list[tuple[str, str | None]] = []


class Sink(QuietHandler):
    def do_POST(self) -> None:
        seen.append((self.path, self.headers.get("Authorization")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST


def test_a_redirect_is_not_followed_and_says_where_it_pointed(tmp_path: Path) -> None:
    seen.clear()
    with LoopbackServer(Sink) as sink:
        target = sink.url.replace("127.0.0.1", "localhost")

        class Redirect(QuietHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(307)
                self.send_header("Location", f"{target}{self.path}?copy=1")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

        with LoopbackServer(Redirect) as endpoint:
            (tmp_path / "a.py").write_text("x = 1\n", encoding="utf-8")
            env = outside_env("XDG_")
            env.update(
                FUSE_LS_BASE_URL=f"{endpoint.url}/v1",
                FUSE_LS_PROVIDER__API_KEY_ENV="LOCAL_LLM_KEY",
                LOCAL_LLM_KEY=KEY,
                FUSE_LS_MODELS="local/coder",
                FUSE_LS_JUDGE="local/coder",
                XDG_CONFIG_HOME=str(tmp_path / "config"),
                FUSE_LS_DATA_DIR=str(tmp_path / "data"),
            )
            res = run_cli(["review", "a.py"], env, tmp_path)
    assert seen == []  # neither the code nor the key went where the redirect pointed
    said = " ".join(res.stderr.split())
    assert res.returncode != 0 and "Traceback" not in said
    assert "answered 307, a redirect to http://localhost, which fuse-ls does not follow" in said
    assert "copy=1" not in said and KEY not in said + res.stdout
