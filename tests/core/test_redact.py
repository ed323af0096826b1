"""Redaction corpus: realistic (fake, correctly shaped) secrets and look-alikes.

Secrets are assembled from a seeded generator so that the corpus itself contains no
string a secret scanner would flag, while keeping each provider's exact shape.
"""

from __future__ import annotations

import random
import re
import string

import pytest

from fuse_ls.core.errors import RedactedFix
from fuse_ls.core.redact import redact, restore, shannon_entropy

_rng = random.Random(4)
ALNUM = string.ascii_letters + string.digits


def rnd(n: int, alphabet: str = ALNUM) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


UPPER = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"

OPENAI_PROJ = "sk-" + "proj-" + rnd(74, URLSAFE) + "T3BlbkFJ" + rnd(74, URLSAFE)
OPENAI_CLASSIC = "sk-" + rnd(20) + "T3BlbkFJ" + rnd(20)
OPENROUTER = "sk-" + "or-v1-" + rnd(64, HEX)
ANTHROPIC = "sk-" + "ant-api03-" + rnd(93, URLSAFE) + "AA"
AWS_ID = "AKIA" + rnd(16, UPPER)
AWS_STS = "ASIA" + rnd(16, UPPER)
AWS_SECRET = rnd(40, B64)
GH_PAT = "ghp_" + rnd(36)
GH_OAUTH = "gho_" + rnd(36)
GH_FINE = "github_pat_" + rnd(22) + "_" + rnd(59)
SLACK = "xoxb-" + rnd(12, string.digits) + "-" + rnd(13, string.digits) + "-" + rnd(24)
STRIPE = "sk_" + "live_" + rnd(99)
STRIPE_R = "rk_" + "live_" + rnd(99)
GOOGLE = "AIza" + rnd(35, URLSAFE)
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJ" + rnd(60, URLSAFE) + "." + rnd(43, URLSAFE)
PEM_BODY = "\n".join(rnd(64, B64) for _ in range(6))
PEM = "-----BEGIN RSA " + "PRIVATE KEY-----\n" + PEM_BODY + "\n-----END RSA " + "PRIVATE KEY-----"
DB_PASS = rnd(14)
HIGH_ENTROPY = rnd(40, URLSAFE)
HUGGINGFACE = "hf_" + rnd(34)
TELEGRAM = rnd(10, string.digits) + ":AA" + rnd(33, URLSAFE)

SECRETS: list[tuple[str, str, str]] = [
    # (name, text containing the secret, the secret itself)
    ("openai-proj", f'client = OpenAI(api_key="{OPENAI_PROJ}")', OPENAI_PROJ),
    ("openai-classic", f"OPENAI_API_KEY={OPENAI_CLASSIC}", OPENAI_CLASSIC),
    ("openrouter", f"const key = '{OPENROUTER}';", OPENROUTER),
    ("anthropic", f"headers = {{'x-api-key': '{ANTHROPIC}'}}", ANTHROPIC),
    ("aws-id", f"aws_access_key_id = {AWS_ID}", AWS_ID),
    ("aws-sts", f'"AccessKeyId": "{AWS_STS}",', AWS_STS),
    ("aws-secret", f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET),
    ("aws-secret-env", f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", AWS_SECRET),
    ("github-pat", f"git clone https://{GH_PAT}@github.com/o/r.git", GH_PAT),
    ("github-oauth", f"token {GH_OAUTH}", GH_OAUTH),
    ("github-fine", f"GITHUB_TOKEN: {GH_FINE}", GH_FINE),
    ("slack", f"slack = WebClient(token='{SLACK}')", SLACK),
    ("stripe", f"stripe.api_key = '{STRIPE}'", STRIPE),
    ("stripe-restricted", f"STRIPE_KEY={STRIPE_R}", STRIPE_R),
    ("google", f"url = f'https://maps.googleapis.com/maps/api?key={GOOGLE}'", GOOGLE),
    ("jwt", f"Authorization: Bearer {JWT}", JWT),
    ("jwt-bare", f"session_cookie = {JWT}", JWT),
    ("pem", f"key = '''{PEM}'''", PEM_BODY.splitlines()[2]),
    ("pem-escaped", 'k = "' + PEM.replace("\n", "\\n") + '"', PEM_BODY.splitlines()[3]),
    ("url-password", f"DATABASE_URL=postgres://app:{DB_PASS}@db.internal:5432/app", DB_PASS),
    ("url-password-redis", f'redis.from_url("redis://default:{DB_PASS}@cache:6379")', DB_PASS),
    ("dotenv", f"export DB_PASSWORD={DB_PASS}", DB_PASS),
    ("py-assign", f'password = "{DB_PASS}"', DB_PASS),
    ("json", f'{{"client_secret": "{DB_PASS}", "id": 3}}', DB_PASS),
    ("yaml", f"  password: {DB_PASS}", DB_PASS),
    ("yaml-quoted", f'  secret: "{DB_PASS}"', DB_PASS),
    ("go-assign", f'apiToken := "{DB_PASS}"', DB_PASS),
    ("django", f"SECRET_KEY = 'django-insecure-{DB_PASS}'", DB_PASS),
    ("entropy-weak-name", f'signing_key = "{HIGH_ENTROPY}"', HIGH_ENTROPY),
    ("entropy-salt", f"SALT={HIGH_ENTROPY}", HIGH_ENTROPY),
    ("bearer", f'headers["Authorization"] = "Bearer {HIGH_ENTROPY}"', HIGH_ENTROPY),
    ("subscript", f'os.environ["DB_PASSWORD"] = "{DB_PASS}"', DB_PASS),
    ("kwarg", f'connect(host="db", password="{DB_PASS}")', DB_PASS),
    ("js-camel", f"const secretKey = '{DB_PASS}';", DB_PASS),
    ("huggingface", f"login(token={HUGGINGFACE})", HUGGINGFACE),
    ("curl-user", f"curl -sS -u deploy:{DB_PASS} https://ci.internal/api", DB_PASS),
    ("curl-user-quoted", f'curl --user "deploy:{DB_PASS}" https://ci.internal/api', DB_PASS),
    ("wget-http-password", f"wget --http-user=me --http-password={DB_PASS} https://x", DB_PASS),
    ("requests-auth", f'requests.get(url, auth=("deploy", "{DB_PASS}"))', DB_PASS),
    ("basic-auth-class", f"auth = HTTPBasicAuth('deploy', '{DB_PASS}')", DB_PASS),
    ("aiohttp-auth", f'aiohttp.BasicAuth("deploy", password="{DB_PASS}")', DB_PASS),
    # a '#' inside an unquoted .env / Dockerfile value is part of it (leaked whole before)
    ("env-hash", "ENV API_SECRET=Summer1984#ZGT", "Summer1984#ZGT"),
    ("export-hash", "export DB_PASSWORD=pa#ss1234", "pa#ss1234"),
    # Generated from letters only: no digit for the entropy rule to see.
    ("letters-yaml", "ansible_ssh_pass: srRaRAxQMTGGLu", "srRaRAxQMTGGLu"),
    ("letters-properties", "spring.datasource.password=srRaRAxQMTGGLu", "srRaRAxQMTGGLu"),
    ("letters-query", "GET /v1/items?api_key=GoXmk-skUZqsxQiYcQsM", "GoXmk-skUZqsxQiYcQsM"),
    # Session 6: a literal inside a conversion, positional passwords, a token after `bot`.
    ("rust-string-from", f'let key = String::from("{HIGH_ENTROPY}");', HIGH_ENTROPY),
    ("rust-some", f'password: Some(String::from("{DB_PASS}")),', DB_PASS),
    ("rust-secrecy", f'let token = SecretString::from("{DB_PASS}");', DB_PASS),
    ("rust-to-string", f'let password = "{DB_PASS}".to_string();', DB_PASS),
    ("rust-into", f'let api_key: String = "{DB_PASS}".into();', DB_PASS),
    ("go-byte-slice", f'var jwtSecret = []byte("{DB_PASS}")', DB_PASS),
    ("pydantic-secretstr", f'password = SecretStr("{DB_PASS}")', DB_PASS),
    ("htpasswd", f"htpasswd -b -c /etc/nginx/.htpasswd admin {DB_PASS}", DB_PASS),
    ("htpasswd-quoted", f'htpasswd -bB .htpasswd admin "{DB_PASS} x"', f"{DB_PASS} x"),
    ("htpasswd-stdout", f"htpasswd -nb admin '{DB_PASS}' >> users", DB_PASS),
    ("telegram-after-bot", f'requests.get(base + "bot{TELEGRAM}/getMe")', TELEGRAM),
    ("telegram-in-query", f"GET /relay?to=bot{TELEGRAM}&m=getMe", TELEGRAM),
    # In backticks, a value with digits or random letters is still a secret.
    ("backticks-digits", f"- password: `{DB_PASS}`", DB_PASS),
    ("backticks-letters", "token: `srRaRAxQMTGGLu`", "srRaRAxQMTGGLu"),
]


@pytest.mark.parametrize(("name", "text", "secret"), SECRETS, ids=[s[0] for s in SECRETS])
def test_secret_is_redacted(name: str, text: str, secret: str) -> None:
    result = redact(text)
    assert secret not in result.text, result.text
    assert "[REDACTED:" in result.text
    assert result.total >= 1
    # Every mark is whole: no rule ever rewrites a previous rule's mark.
    assert re.sub(r"\[REDACTED:[a-z0-9-]+\]", "", result.text).count("REDACTED") == 0
    assert len(result.text.splitlines()) == len(text.splitlines())


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (f"k={OPENAI_PROJ}", "openai-key"),
        (f"k={OPENROUTER}", "openrouter-key"),
        (f"k={ANTHROPIC}", "anthropic-key"),
        (f"x {AWS_ID} y", "aws-access-key-id"),
        (f"x {GH_PAT}", "github-token"),
        (f"x {SLACK}", "slack-token"),
        (f"x {STRIPE}", "stripe-key"),
        (f"x {GOOGLE}", "google-api-key"),
        (f"x {HUGGINGFACE}", "huggingface-token"),
        (f"x {JWT}", "jwt"),
        (PEM, "private-key"),
        (f"mysql://root:{DB_PASS}@localhost/db", "url-password"),
    ],
)
def test_rule_names(text: str, rule: str) -> None:
    result = redact(text)
    assert result.counts.get(rule) == 1, result.counts
    assert f"[REDACTED:{rule}]" in result.text


LOOKALIKES = [
    "request_id = '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d'",
    'idempotency_key = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"',
    "commit = 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3'",
    "Merge: 1fbd014 d244168 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "integrity sha512-Vq8pV1fVnm7h0G5Bx3wB1S0b9tfa2e1R4D9b8NHu8kC3yL2Q6C3XwL4R8kq6hQ2u5Pv==",
    '"resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",',
    "password = get_password()",
    "password = getpass.getpass('Password: ')",
    'api_key = os.environ["OPENAI_API_KEY"]',
    "api_key = os.getenv('OPENAI_API_KEY')",
    "token = self.token",
    "token: Optional[str] = None",
    "password: str",
    "token_count = 3",
    "max_tokens = 4096",
    'token_type = "Bearer"',
    "def check_password(password, hashed):",
    "    password=password,",
    "color: #ff00aa; background: #1e1e1e;",
    "AbstractSingletonProxyFactoryBeanConfigurationBuilder2 = make_builder()",
    "created_at_timestamp_desc_index = build_index()",
    "sort_key = 'created_at_timestamp_desc'",
    "DB_PASSWORD=${DB_PASSWORD}",
    'password: "{{ vault_db_password }}"',
    "url = 'https://user@example.com/path'",
    "url = 'https://example.com:8443/path?x=1'",
    "git@github.com:fuse-ls/fuse-ls.git",
    "postgres://app:${DB_PASS}@db:5432/app",
    "task-0123456789abcdefghijklmnopqrstuvwxyz",
    "disk-sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD",
    "The quick brown fox says the secret word is in the manual.",
    "if not password:",
    'PASSWORD_PROMPT_LABEL = "Enter password"',
    "keyboard_layout = 'qwerty'",
    "x = 0xDEADBEEF",
    "hash = 'd41d8cd98f00b204e9800998ecf8427e'",
    '<img src="data:image/png;base64,iVBORw0KGgo=">',
    "token: ${{ secrets.GITHUB_TOKEN }}",
    '  password: "${{ secrets.DB_PASSWORD }}"',
    'headers = {"Authorization": f"Bearer {token}"}',
    "const API_KEY = process.env.API_KEY;",
    'TOKEN_URL = "https://oauth2.googleapis.com/token"',
    'private_key_path = "/home/me/.ssh/id_ed25519"',
    "tokenizer = AutoTokenizer.from_pretrained(name)",
    'access_token = response["access_token"]',
    "PASSWORD_MIN_LENGTH = 12",
    "docker run --user 1000:1000 app",
    "pip install -U package:extra",
    "tar -u archive:name",
    "curl -u $CI_USER:$CI_PASSWORD https://ci.internal/api",
    "requests.get(url, auth=(user, password))",
    'requests.get(url, auth=("deploy", os.environ["DEPLOY_PASSWORD"]))',
    "shf_abcdefghijklmnopqrstuvwxyz0123456789",
    "    self, public_key: SSHCertPublicKeyTypes",
    "connection_key: HTTPSConnectionPool",
    "password: PasswordField",
    "sort_key = createdAtDescIndex",
    # Session 6: Markdown names a field in backticks; a value that is its key's own name.
    "- token: `prompt` (sent first)",
    "The token: `prompt` field comes first.",
    "**password**: `PasswordField`",
    "data.refresh_token = 'refresh_token'",
    "const ACCESS_TOKEN = 'accessToken';",
    "password = 'password'",
    'let password = String::from(input("Password: "));',
    "htpasswd -c /etc/nginx/.htpasswd admin",
    'htpasswd -nb admin "$ADMIN_PASSWORD"',
    "htpasswd -D .htpasswd admin",
    "Usage: `htpasswd -nb USER PASSWORD`, `htpasswd -b FILE USER PASSWORD`",
    "htpasswd -b /etc/nginx/.htpasswd username password",
    'status_key = "bot12345678:healthy"',
]


@pytest.mark.parametrize("text", LOOKALIKES)
def test_lookalike_survives(text: str) -> None:
    result = redact(text)
    assert result.text == text, result.counts
    assert result.counts == {}


def test_line_count_unchanged_and_idempotent() -> None:
    text = "\n".join(t for _, t, _ in SECRETS) + "\n" + "\r\n".join(LOOKALIKES) + "\n"
    first = redact(text)
    assert len(first.text.splitlines()) == len(text.splitlines())
    assert first.text.count("\n") == text.count("\n")
    second = redact(first.text)
    assert second.text == first.text
    assert second.counts == {}


def test_multiline_pem_keeps_lines() -> None:
    code = "a = 1\nKEY = '''" + PEM + "'''\nb = 2\n"
    result = redact(code)
    lines = result.text.splitlines()
    assert len(lines) == len(code.splitlines())
    assert lines[0] == "a = 1" and lines[-1] == "b = 2"
    assert result.counts == {"private-key": 1}


def test_truncated_pem_selection() -> None:
    code = "-----BEGIN " + "PRIVATE KEY-----\n" + PEM_BODY + "\nrest = 1"
    result = redact(code)
    assert PEM_BODY.splitlines()[-1] not in result.text
    assert result.text.endswith("rest = 1")
    assert len(result.text.splitlines()) == len(code.splitlines())


def putty_key(private_lines: int = 3) -> tuple[str, list[str], list[str], str]:
    public = [rnd(64, B64) for _ in range(2)]
    private = [rnd(64, B64) for _ in range(private_lines - 1)] + [rnd(20, B64) + "=="]
    mac = rnd(64, HEX)
    text = "\n".join(
        [
            "PuTTY-User-Key-File-3: ssh-ed25519",
            "Encryption: aes256-cbc",
            "Comment: deploy@build-01",
            "Public-Lines: 2",
            *public,
            "Key-Derivation: Argon2id",
            "Argon2-Salt: " + rnd(32, HEX),
            f"Private-Lines: {private_lines}",
            *private,
            f"Private-MAC: {mac}",
            "",
        ]
    )
    return text, public, private, mac


def test_putty_key_loses_its_private_part_and_keeps_its_lines() -> None:
    text, public, private, mac = putty_key()
    result = redact(text)
    assert result.counts["private-key"] == 1  # (the Argon2 salt is taken for a key too)
    assert not any(line in result.text for line in private) and mac not in result.text
    # The public half, the header and the line numbers stay: findings still map back.
    assert all(line in result.text for line in public)
    assert "Private-Lines: 3\n[REDACTED:private-key]\n" in result.text
    assert len(result.text.splitlines()) == len(text.splitlines())
    assert redact(result.text).text == result.text


def test_putty_key_cut_before_its_mac_is_still_redacted() -> None:
    text, _, private, _ = putty_key(5)
    cut = text.split("Private-MAC")[0]
    result = redact(cut)
    assert not any(line in result.text for line in private)
    assert len(result.text.splitlines()) == len(cut.splitlines())


def test_entropy() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("ab") == pytest.approx(1.0)
    assert shannon_entropy(HIGH_ENTROPY) > 4.0


def test_large_input_keeps_its_lines_and_loses_every_copy_of_each_secret() -> None:
    # ~1 MB of ordinary code with a few secrets sprinkled in (its speed, and how the time
    # grows with the size, are measured by bench/bench_redaction.py).
    block = "\n".join(LOOKALIKES) + "\n" + "\n".join(t for _, t, _ in SECRETS) + "\n"
    copies = 1_000_000 // len(block)
    text = block * copies
    result = redact(text)
    assert len(result.text.splitlines()) == len(text.splitlines())
    assert result.text == redact(block).text * copies
    assert all(secret not in result.text for _, _, secret in SECRETS)


def test_restore_puts_each_secret_back_where_its_mark_is() -> None:
    a, b = (
        "sk-" + "proj-4f9Q2xLmN8vR7tY1wZ3aB6cD9eF0gH2jK5",
        "sk-" + "proj-9Zq8Wx7Vc6Bn5Mm4Ll3Kk2Jj1Hh0Gg9Ff8",
    )
    original = f'first = "{a}"\nsecond = "{b}"\n'
    seen = redact(original).text
    assert a not in seen and b not in seen
    fixed = seen.replace("first", "primary").replace("second", "backup")
    assert restore(fixed, original) == f'primary = "{a}"\nbackup = "{b}"\n'
    assert restore("nothing redacted\n", original) == "nothing redacted\n"


def test_restore_refuses_what_it_cannot_put_back_safely() -> None:
    a, b = (
        "sk-" + "proj-4f9Q2xLmN8vR7tY1wZ3aB6cD9eF0gH2jK5",
        "sk-" + "proj-9Zq8Wx7Vc6Bn5Mm4Ll3Kk2Jj1Hh0Gg9Ff8",
    )
    original = f'first = "{a}"\nsecond = "{b}"\n'
    mark = redact(f'"{a}"').text.strip('"')
    with pytest.raises(RedactedFix, match=r"uses .* 1 times where the code has 2"):
        restore(f'only = "{mark}"\n', original)  # which of the two keys? unknowable
    with pytest.raises(RedactedFix, match="does not"):
        restore('x = "[REDACTED:github-token]"\n', original)
    # One key used twice is unambiguous.
    assert restore(f"{mark} {mark}", f'k = "{a}"') == f"{a} {a}"
