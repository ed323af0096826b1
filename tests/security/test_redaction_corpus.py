"""Issue 10 item 2: secrets never reach the models, look-alikes do.

The corpus (tests/security/secrets_corpus.py) is measured as a whole and the counts are
printed; the goal is >= 98% of secrets redacted and >= 97% of look-alikes kept. Then the
cases the adversarial run found are pinned one by one, and the whole-file rule (a
private key whose BEGIN line is above the selection) is checked through build_request.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from fuse_ls.config import Settings, replace
from fuse_ls.context import build_request
from fuse_ls.core.redact import redact
from tests.security.counts import record
from tests.security.secrets_corpus import B64, Secret, build_lookalikes, build_secrets, rnd

SECRETS = build_secrets()
LOOKALIKES = build_lookalikes()
_MARK = re.compile(r"\[REDACTED:[a-z0-9\-]+\]")


def leaked(secret: Secret, output: str) -> bool:
    """Any 8 characters in a row of the secret still in the output (a kept prefix such
    as `hunter2-secret-` counts as a leak), unless they are also in the snippet outside
    the secret (`https://` of a webhook URL next to another URL)."""
    value = secret.value
    around = secret.text.replace(value, "\0")
    window = min(8, len(value))
    pieces = (value[i : i + window] for i in range(len(value) - window + 1))
    return any(p in output and p not in around for p in pieces)


def test_corpus_is_what_the_issue_asks_for() -> None:
    assert len(SECRETS) >= 150
    assert len({s.language for s in SECRETS}) >= 10
    assert len(LOOKALIKES) >= 60
    for item in [*SECRETS, *LOOKALIKES]:
        assert item.value and item.value in item.text, item


def test_corpus_secrets_redacted_and_lookalikes_kept() -> None:
    missed = [s for s in SECRETS if leaked(s, redact(s.text).text)]
    spoiled = [a for a in LOOKALIKES if redact(a.text).text != a.text]
    redacted = len(SECRETS) - len(missed)
    kept = len(LOOKALIKES) - len(spoiled)
    languages = Counter(s.language for s in SECRETS)
    summary = (
        f"{redacted}/{len(SECRETS)} secrets redacted ({redacted / len(SECRETS):.1%}) in "
        f"{len(languages)} languages; {kept}/{len(LOOKALIKES)} look-alikes kept "
        f"({kept / len(LOOKALIKES):.1%})"
    )
    record("redaction corpus", summary)
    print(summary)
    for s in missed:
        print(f"  missed {s.kind} ({s.language}): {redact(s.text).text}")
    for a in spoiled:
        print(f"  spoiled {a.kind} ({a.language}): {redact(a.text).text}")
    assert redacted / len(SECRETS) >= 0.98, [(s.kind, s.language) for s in missed]
    assert kept / len(LOOKALIKES) >= 0.97, [a.kind for a in spoiled]


def test_redaction_keeps_lines_and_is_idempotent_on_the_whole_corpus() -> None:
    text = "\n".join(s.text for s in SECRETS) + "\n" + "\n".join(a.text for a in LOOKALIKES)
    once = redact(text)
    assert once.text.count("\n") == text.count("\n")
    assert redact(once.text).text == once.text
    # No mark is ever cut into or rewritten by another rule.
    assert _MARK.sub("", once.text).count("REDACTED") == 0


# The exact shapes the adversarial run saw leaking (issue 10 item 2), by kind.
ISSUE_CASES = [
    "azure-sas",
    "redis-url",
    "rails-secret-key-base",
    "basic-auth-http",
    "sendgrid",
    "mailgun",
    "npm",
    "twilio",
    "discord-bot",
    "telegram-bot",
    "php-db-pass",
    "ansible",
    "python-bytes-key",
    "xml-password",
    "psycopg2",
    "password-with-akia",
    # session 5
    "php-define",
    "go-setenv",
    "getenv-default",
    "java-setter",
    "java-property",
    "go-basic-auth",
    "dotnet-credential",
    "smtp-login",
    "js-fallback",
    "docker-login",
    "sshpass",
    "keytool",
    "openssl-pass",
    "curl-u-glued",
    "curl-continued",
    "httpie",
    "k8s-env",
    "ecs-env",
    "spring-xml",
    "makefile",
    "dockerfile-env-space",
    "drf-token",
    "powershell-securestring",
    "telegram-url",
    "discord-webhook",
    "huggingface",
    "groq",
    "xai",
    "digitalocean",
    "shopify",
    "databricks",
    "pulumi",
    "linear",
    "vault",
    "age",
    # session 6
    "rust-string-from",
    "rust-struct-string-from",
    "go-byte-slice",
    "htpasswd-b",
    "htpasswd-nb",
    "htpasswd-cost",
    "putty-ppk",
    "putty-ppk-mac",
    "putty-ppk-v2",
    "putty-ppk-escaped",
    "telegram-bot-prefix",
    "telegram-bot-query",
]


@pytest.mark.parametrize("kind", ISSUE_CASES)
def test_each_leak_the_adversarial_run_found_is_closed(kind: str) -> None:
    cases = [s for s in SECRETS if s.kind == kind]
    assert cases
    for secret in cases:
        out = redact(secret.text).text
        assert not leaked(secret, out), out


# Look-alikes that were redacted before session 6, kept one by one.
KEPT_CASES = [
    "markdown-backticks",
    "markdown-backticks-bold",
    "names-its-key",
    "names-its-key-camel",
    "htpasswd-prompt",
    "htpasswd-env",
    "htpasswd-delete",
    "bot-status",
    "ppk-prose",
]


@pytest.mark.parametrize("kind", KEPT_CASES)
def test_each_lookalike_session_6_found_is_kept(kind: str) -> None:
    cases = [a for a in LOOKALIKES if a.kind == kind]
    assert cases
    for lookalike in cases:
        assert redact(lookalike.text).text == lookalike.text


@pytest.mark.parametrize("seed", range(12))
def test_every_seed_draws_real_cases(seed: int) -> None:
    """The corpus is drawn from a seed; another seed must give as real a corpus (the
    k8s secret's value was read off its line up to a base64 `=`: `=` or nothing)."""
    secrets, lookalikes = build_secrets(seed), build_lookalikes(seed)
    assert [s.kind for s in secrets] == [s.kind for s in SECRETS]
    for secret in secrets:
        assert len(secret.value) >= 8 and secret.value in secret.text, secret
    for lookalike in lookalikes:
        assert lookalike.value and lookalike.value in lookalike.text, lookalike
    missed = [s for s in secrets if leaked(s, redact(s.text).text)]
    spoiled = [a for a in lookalikes if redact(a.text).text != a.text]
    assert len(missed) / len(secrets) <= 0.02, [(s.kind, s.language) for s in missed]
    assert len(spoiled) / len(lookalikes) <= 0.03, [a.kind for a in spoiled]


def private_key_document() -> tuple[str, list[str]]:
    body = [rnd(64, B64) for _ in range(12)]
    lines = [
        "import jwt",
        "",
        "SIGNING_KEY = '''-----BEGIN RSA PRIVATE" + " KEY-----",
        *body,
        "-----END RSA PRIVATE" + " KEY-----'''",
        "",
        "def sign(claims):",
        "    return jwt.encode(claims, SIGNING_KEY, algorithm='RS256')",
    ]
    return "\n".join(lines) + "\n", body


def test_a_private_key_whose_begin_line_is_above_the_selection_is_not_sent(
    tmp_path: Path,
) -> None:
    text, body = private_key_document()
    settings = Settings()
    settings = replace(settings, {"review.context_lines": 0})
    # Lines 6-13: inside the key, BEGIN (line 3) outside the selection and its context.
    request = build_request("review", tmp_path / "sign.py", text, 6, 13, settings, tmp_path)
    sent = request.code + request.context_before + request.context_after
    assert not any(line in sent for line in body)
    assert request.code.count("\n") == 8  # the lines are still there, numbered the same
    assert request.start_line == 6 and request.end_line == 13
    record("private key below a BEGIN above the selection: body lines sent", 0)


def test_redact_secrets_false_is_the_users_choice(tmp_path: Path) -> None:
    text, body = private_key_document()
    settings = Settings()
    settings = replace(settings, {"review.redact_secrets": False})
    request = build_request("review", tmp_path / "sign.py", text, 6, 13, settings, tmp_path)
    assert body[2] in request.code  # so the test above is what the setting changes


def test_detect_secrets_plugins_load_without_pyyaml() -> None:
    """The VS Code bundle is pure Python and leaves pyyaml out: the format plugins we use
    must still load there (else SendGrid, Discord, Telegram... would pass unredacted)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'yaml': raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from fuse_ls.core import redact\n"
        "print(len(redact._plugin_rules()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) >= 9
