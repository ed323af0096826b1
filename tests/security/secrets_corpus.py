"""A corpus of realistic fake secrets in many languages' syntax, and of look-alikes.

Every secret is generated at run time from a seeded generator and assembled from parts
(`"gh" + "p_" + random`), so no file in the repository holds a provider-shaped token
that a host's push protection or a secret scanner would flag, while each token keeps its
provider's exact shape. The seed makes every run see the same corpus.
"""

from __future__ import annotations

import base64
import random
import string
from collections.abc import Callable

from attrs import frozen

_rng = random.Random(20261201)
ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
LOWER_HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


def rnd(n: int, alphabet: str = ALNUM) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


def human_password() -> str:
    word = _rng.choice(["Winter", "Summer", "Dragon", "Falcon", "Orchid", "Maple"])
    return f"{word}{_rng.randint(1970, 2030)}{_rng.choice('!#%&*')}{rnd(3)}"


@frozen
class Secret:
    kind: str
    language: str
    text: str  # the snippet as it appears in a file
    value: str  # the secret inside it


@frozen
class LookAlike:
    kind: str
    language: str
    text: str
    value: str  # what must survive unchanged


# --- provider formats: recognised by their shape, whatever the variable is called -------

FORMATS: dict[str, Callable[[], str]] = {
    "openai": lambda: "sk-" + "proj-" + rnd(40, URLSAFE) + "T3Blbk" + "FJ" + rnd(40, URLSAFE),
    "openrouter": lambda: "sk-" + "or-v1-" + rnd(64, LOWER_HEX),
    "anthropic": lambda: "sk-" + "ant-api03-" + rnd(93, URLSAFE) + "AA",
    "aws-access-key-id": lambda: "AK" + "IA" + rnd(16, string.ascii_uppercase + "234567"),
    "github-pat": lambda: "gh" + "p_" + rnd(36),
    "github-oauth": lambda: "gh" + "o_" + rnd(36),
    "github-fine-grained": lambda: "github" + "_pat_" + rnd(22) + "_" + rnd(59),
    "gitlab": lambda: "gl" + "pat-" + rnd(20, URLSAFE),
    "slack-bot": lambda: (
        "xo" + "xb-" + rnd(12, "0123456789") + "-" + rnd(13, "0123456789") + "-" + rnd(24)
    ),
    "slack-webhook": lambda: (
        "https://hooks.slack.com/"
        + "services/T"
        + rnd(10, UPPER)
        + "/B"
        + rnd(10, UPPER)
        + "/"
        + rnd(24)
    ),
    "stripe": lambda: "sk" + "_live_" + rnd(24),
    "google": lambda: "AI" + "za" + rnd(35, URLSAFE),
    "jwt": lambda: (
        "ey"
        + "JhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        + "eyJ"
        + rnd(50, URLSAFE)
        + "."
        + rnd(43, URLSAFE)
    ),
    "sendgrid": lambda: "S" + "G." + rnd(22, URLSAFE) + "." + rnd(43, URLSAFE),
    "mailgun": lambda: "ke" + "y-" + rnd(32, LOWER_HEX),
    "npm": lambda: "np" + "m_" + rnd(36),
    "twilio": lambda: "S" + "K" + rnd(32, LOWER_HEX),
    "discord-bot": lambda: "M" + rnd(25, URLSAFE) + "." + rnd(6, URLSAFE) + "." + rnd(27, URLSAFE),
    "telegram-bot": lambda: str(_rng.randint(10**9, 2 * 10**9)) + ":" + "AA" + rnd(33, URLSAFE),
    "pypi": lambda: "py" + "pi-AgEIcHlwaS5vcmc" + rnd(80, URLSAFE),
    "square": lambda: "sq0" + "csp-" + rnd(43, URLSAFE),
    "mailchimp": lambda: rnd(32, LOWER_HEX) + "-u" + "s" + str(_rng.randint(1, 21)),
}

# Session 5's formats, generated after the rest so that the rest stays as it was.
NEW_FORMATS: dict[str, Callable[[], str]] = {
    "huggingface": lambda: "h" + "f_" + rnd(34),
    "groq": lambda: "gs" + "k_" + rnd(52),
    "xai": lambda: "xa" + "i-" + rnd(80),
    "digitalocean": lambda: "do" + "p_v1_" + rnd(64, LOWER_HEX),
    "shopify": lambda: "shp" + "at_" + rnd(32, LOWER_HEX),
    "databricks": lambda: "da" + "pi" + rnd(32, LOWER_HEX),
    "pulumi": lambda: "pu" + "l-" + rnd(40, LOWER_HEX),
    "linear": lambda: "lin" + "_api_" + rnd(40),
    "vault": lambda: "hv" + "s." + rnd(90, URLSAFE),
    "age": lambda: "AGE-SECRET" + "-KEY-1" + rnd(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"),
}

# Neutral call sites: nothing in the name says "secret", only the value's shape.
CALL_SITES: dict[str, str] = {
    "python": 'client = Client("{s}")',
    "javascript": "const client = new Client('{s}');",
    "typescript": 'export const config: Config = { value: "{s}" };',
    "go": 'client := sdk.New("{s}")',
    "java": 'Client client = new Client("{s}");',
    "csharp": 'var client = new Client("{s}");',
    "ruby": "client = Client.new('{s}')",
    "php": "$client = new Client('{s}');",
    "rust": 'let client = Client::new("{s}");',
    "kotlin": 'val client = Client("{s}")',
    "swift": 'let client = Client(value: "{s}")',
    "yaml": "        value: {s}",
    "json": '{"value": "{s}", "enabled": true}',
    "toml": 'value = "{s}"',
    "shell": 'curl -H "X-Client: {s}" https://api.internal/v1/ping',
    "dockerfile": "ENV CLIENT_VALUE={s}",
    "terraform": '  value = "{s}"',
    "sql": "INSERT INTO settings (name, value) VALUES ('client', '{s}');",
    "xml": '<add key="client" value="{s}" />',
}

# --- secrets recognised by the name they are given ---------------------------------------

ASSIGNMENTS: dict[str, str] = {
    "python": '{name} = "{v}"',
    "javascript": "const {camel} = '{v}';",
    "typescript": 'const {camel}: string = "{v}";',
    "go": '{camel} := "{v}"',
    "java": 'private static final String {NAME} = "{v}";',
    "csharp": 'string {camel} = @"{v}";',
    "ruby": "{name} = '{v}'",
    "php": '${name} = "{v}";',
    "rust": 'const {NAME}: &str = "{v}";',
    "kotlin": 'val {camel}: String = "{v}"',
    "swift": 'let {camel} = "{v}"',
    "yaml": "  {name}: {v}",
    "json": '  "{name}": "{v}",',
    "toml": '{name} = "{v}"',
    "dotenv": "{NAME}={v}",
    "shell": 'export {NAME}="{v}"',
    "dockerfile": "ENV {NAME}={v}",
    "terraform": '  {name} = "{v}"',
    "ini": "{name} = {v}",
    "xml": "<{camel}>{v}</{camel}>",
}

NAMES = [
    "password",
    "db_pass",
    "client_secret",
    "encryption_key",
    "secret_key_base",
    "auth_token",
    "smtp_password",
    "ansible_ssh_pass",
    "api_secret",
    "passphrase",
]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _private_key() -> tuple[str, str]:
    body = [rnd(64, B64) for _ in range(8)]
    pem = (
        "-----BEGIN RSA PRIVATE" + " KEY-----\n" + "\n".join(body) + "\n-----END RSA PRIVATE"
        " KEY-----"
    )
    return pem, body[3]


def _special() -> list[Secret]:
    """The shapes the adversarial run found leaking, and other structured secrets."""
    pw, pw2, pw3 = human_password(), rnd(14), rnd(20, URLSAFE)
    sas = rnd(43, B64).replace("+", "%2B").replace("/", "%2F") + "%3D"
    basic = base64.b64encode(f"deploy:{pw3}".encode()).decode()
    aws_secret = rnd(40, B64)
    akia = FORMATS["aws-access-key-id"]()
    pem, pem_line = _private_key()
    k8s = base64.b64encode(pw.encode()).decode()
    azure_key = rnd(86, B64) + "=="
    out = [
        (
            "azure-sas",
            "python",
            f'URL = "https://acct.blob.core.windows.net/c/f.csv?sv=2022-11-02&se=2026-01-01&sr=b&sp=r&sig={sas}"',
            sas,
        ),
        (
            "azure-storage",
            "csharp",
            f'var cs = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={azure_key};EndpointSuffix=core.windows.net";',  # noqa: E501
            azure_key,
        ),
        ("redis-url", "python", f'r = redis.from_url("redis://:{pw2}@cache.internal:6379/0")', pw2),
        ("postgres-url", "dotenv", f"DATABASE_URL=postgres://app:{pw}@db.internal:5432/app", pw),
        (
            "mongodb-url",
            "javascript",
            f"mongoose.connect('mongodb+srv://svc:{pw3}@cluster0.mongodb.net/db');",
            pw3,
        ),
        ("amqp-url", "yaml", f"  broker_url: amqp://worker:{pw2}@rabbit:5672//", pw2),
        (
            "basic-auth",
            "shell",
            f'curl -H "Authorization: Basic {basic}" https://ci.internal/api',
            basic,
        ),
        ("basic-auth-http", "http", f"Authorization: Basic {basic}", basic),
        ("bearer", "python", f'headers = {{"Authorization": "Bearer {pw3}{rnd(12)}"}}', pw3),
        ("rails-secret-key-base", "yaml", f"  secret_key_base: {rnd(128, LOWER_HEX)}", ""),
        ("php-db-pass", "php", f'$db_pass = "{pw}";', pw),
        ("ansible", "yaml", f"ansible_ssh_pass: {pw2}", pw2),
        ("python-bytes-key", "python", f'ENCRYPTION_KEY = b"{rnd(32)}"', ""),
        ("xml-password", "xml", f"<password>{pw}</password>", pw),
        ("dotnet-appsettings", "xml", f'<add key="SmtpPassword" value="{pw2}" />', pw2),
        (
            "psycopg2",
            "python",
            f'conn = psycopg2.connect("dbname=app user=app password={pw2} host=db")',
            pw2,
        ),
        ("ado-net", "csharp", f'var cs = "Server=db;Database=app;User Id=sa;Password={pw};";', pw),
        ("jdbc", "java", f'String url = "jdbc:mysql://db:3306/app?user=app&password={pw2}";', pw2),
        ("password-with-akia", "python", f'password = "hunter2-secret-{akia}"', "hunter2-secret"),
        ("aws-secret", "ini", f"aws_secret_access_key = {aws_secret}", aws_secret),
        ("aws-secret-env", "dotenv", f"AWS_SECRET_ACCESS_KEY={aws_secret}", aws_secret),
        ("sql-create-user", "sql", f"CREATE USER app WITH PASSWORD '{pw}';", pw),
        ("sql-identified-by", "sql", f"ALTER USER app IDENTIFIED BY '{pw2}';", pw2),
        # The value given, not read off the line: base64 ends in `=`, which the reading
        # below splits on (the case was `=` or empty, depending on the seed).
        ("k8s-secret", "yaml", f"  password: {k8s}", k8s),
        ("private-key", "python", f"KEY = '''{pem}'''", pem_line),
        (
            "private-key-json",
            "json",
            '{"private_key": "' + pem.replace("\n", "\\n") + '"}',
            pem_line,
        ),
        ("docker-run", "shell", f"docker run -e POSTGRES_PASSWORD={pw2} postgres:16", pw2),
        ("gh-actions-literal", "yaml", f"          GITHUB_TOKEN: {FORMATS['github-pat']()}", ""),
        ("npmrc", "ini", f"//registry.npmjs.org/:_authToken={FORMATS['npm']()}", ""),
        ("pip-index", "ini", f"index-url = https://__token__:{pw3}@pypi.internal/simple", pw3),
        (
            "query-api-key",
            "javascript",
            f"fetch(`https://api.weather.internal/v1?city=x&api_key={pw3}`)",
            pw3,
        ),
        (
            "query-access-token",
            "python",
            f'requests.get(f"https://graph.internal/me?access_token={pw3}")',
            pw3,
        ),
        ("go-struct", "go", f'cfg := Config{{Host: "db", Password: "{pw}"}}', pw),
        ("spring-properties", "properties", f"spring.datasource.password={pw2}", pw2),
        ("netrc", "netrc", f"machine api.internal login deploy password {pw2}", pw2),
        ("powershell", "powershell", f'$env:API_KEY = "{pw3}"', pw3),
        ("ruby-hash", "ruby", f'  password: "{pw}",', pw),
        ("elixir", "elixir", f'config :app, App.Endpoint, secret_key_base: "{rnd(64)}"', ""),
        ("c-define", "c", f'#define API_KEY "{pw3}"', pw3),
        ("comment", "python", f"# old key, rotate: {FORMATS['github-pat']()}", ""),
        ("htpasswd-cli", "shell", f"mysql -u root -p{pw2} app < dump.sql", pw2),
    ]
    secrets = []
    for kind, language, text, value in out:
        if not value:  # the value is the last token of the line
            value = text.rsplit(" ", 1)[-1].split("=", 1)[-1].strip("\"'")
            value = value.split(":", 1)[-1] if kind == "gh-actions-literal" else value
        secrets.append(Secret(kind, language, text, value))
    return secrets


def _positional() -> list[Secret]:
    """Session 5's adversarial pass: secrets given by position or beside their name in a
    call, on command lines, in env lists and headers; all leaked before. Fixed values, so
    the generator's sequence (and the rest of the corpus) stays as it was."""
    pw, pw2, pw3 = "Orchid2011&kQ7", "Zt4pWq9LmX2vRb", "N7xQ-b2Lk_9PzR4tYw8V"
    telegram = "1432587690:AA" + "Hk3-Lm9_Qp2Rt7Vw4Xy8Zb1Cd6Ef5Gh0J"
    discord = "https://discord.com/api/web" + "hooks/123456789012345678/" + pw3 * 3 + "Xy4_Zq8w"
    out = [
        ("php-define", "php", f"define('DB_PASSWORD', '{pw}');", pw),
        ("go-setenv", "go", f'os.Setenv("API_KEY", "{pw3}")', pw3),
        ("getenv-default", "python", f'API_KEY = os.getenv("API_KEY", "{pw3}")', pw3),
        ("java-setter", "java", f'dataSource.setPassword("{pw}");', pw),
        ("java-property", "java", f'props.setProperty("mail.smtp.password", "{pw2}");', pw2),
        ("go-basic-auth", "go", f'req.SetBasicAuth("deploy", "{pw}")', pw),
        ("dotnet-credential", "csharp", f'new NetworkCredential("deploy", "{pw2}")', pw2),
        ("smtp-login", "python", f'server.login(user, "{pw}")', pw),
        ("js-fallback", "javascript", f"const key = process.env.API_KEY || '{pw3}';", pw3),
        ("docker-login", "shell", f"docker login -u deploy -p {pw2} registry.internal", pw2),
        ("sshpass", "shell", f"sshpass -p '{pw}' ssh deploy@host", pw),
        ("keytool", "shell", f"keytool -genkey -keystore app.jks -storepass {pw2}", pw2),
        ("openssl-pass", "shell", f"openssl pkcs12 -export -in c.pem -passout pass:{pw2}", pw2),
        ("curl-u-glued", "shell", f"curl -udeploy:{pw2} https://ci.internal", pw2),
        ("curl-continued", "shell", f"curl https://ci.internal \\\n  -u deploy:{pw2}", pw2),
        ("httpie", "shell", f"http -a deploy:{pw2} https://ci.internal", pw2),
        ("k8s-env", "yaml", f'- name: DB_PASSWORD\n  value: "{pw}"', pw),
        ("ecs-env", "json", f'{{"name": "API_TOKEN", "value": "{pw3}"}}', pw3),
        ("spring-xml", "xml", f'<property name="password" value="{pw2}"/>', pw2),
        ("makefile", "make", f"DB_PASSWORD ?= {pw2}", pw2),
        ("dockerfile-env-space", "dockerfile", f"ENV API_TOKEN {pw3}", pw3),
        ("drf-token", "python", f'headers = {{"Authorization": "Token {pw3}"}}', pw3),
        (
            "powershell-securestring",
            "powershell",
            f'$p = ConvertTo-SecureString "{pw}" -AsPlainText -Force',
            pw,
        ),
        (
            "telegram-url",
            "python",
            f'url = f"https://api.telegram.org/bot{telegram}/sendMessage"',
            telegram,
        ),
        ("discord-webhook", "javascript", f"await fetch('{discord}', opts);", discord),
    ]
    return [Secret(kind, language, text, value) for kind, language, text, value in out]


def _putty_key(version: int, private_lines: int, mac_hex: int) -> tuple[str, str, str]:
    """A PuTTY `.ppk` key file: its text, one of its private lines, its MAC. Drawn from a
    generator of its own so the shared sequence (and the rest of the corpus) stays."""
    local = random.Random(version * 100 + private_lines)

    def lines(n: int) -> list[str]:
        return ["".join(local.choice(B64) for _ in range(64)) for _ in range(n - 1)] + [
            "".join(local.choice(B64) for _ in range(28)) + "="
        ]

    public, private = lines(2 if version == 3 else 6), lines(private_lines)
    mac = "".join(local.choice(LOWER_HEX) for _ in range(mac_hex))
    algorithm = "ssh-ed25519" if version == 3 else "ssh-rsa"
    text = "\n".join(
        [
            f"PuTTY-User-Key-File-{version}: {algorithm}",
            "Encryption: none" if version == 3 else "Encryption: aes256-cbc",
            "Comment: deploy@build-01",
            f"Public-Lines: {len(public)}",
            *public,
            f"Private-Lines: {len(private)}",
            *private,
            f"Private-MAC: {mac}",
        ]
    )
    return text, private[len(private) // 2], mac


def _session6() -> list[Secret]:
    """Session 6's known misses: a Rust `String::from` literal, `htpasswd -b`'s positional
    password, PuTTY private keys, a Telegram token glued to `bot` without a `/`. Fixed
    values (or a generator of their own), so the rest of the corpus stays as it was."""
    pw, pw2, pw3 = "Falcon1987#rT4", "Hq7vLz2WpX9mKd", "R2dQ-x8Vn_4KwL7yTb3M"
    telegram = "6021847395:AA" + "Gf4-Tq8_Wz1Xc5Vb9Nm2Lk7Jh3Pd6Rs0Y"
    ppk3, ppk3_line, ppk3_mac = _putty_key(3, 1, 64)
    ppk2, ppk2_line, _ = _putty_key(2, 14, 40)
    out = [
        ("rust-string-from", "rust", f'let api_key = String::from("{pw3}");', pw3),
        (
            "rust-struct-string-from",
            "rust",
            f'Config {{ password: String::from("{pw}"), ..Default::default() }}',
            pw,
        ),
        ("rust-to-string", "rust", f'let password = "{pw}".to_string();', pw),
        ("rust-into", "rust", f'let token: String = "{pw3}".into();', pw3),
        ("go-byte-slice", "go", f'secretKey := []byte("{pw2}")', pw2),
        ("htpasswd-b", "shell", f"htpasswd -b /etc/nginx/.htpasswd admin {pw}", pw),
        ("htpasswd-nb", "dockerfile", f"RUN htpasswd -nbB deploy '{pw2}' > /auth/htpasswd", pw2),
        ("htpasswd-cost", "shell", f"htpasswd -b -B -C 12 -c .htpasswd admin {pw2}", pw2),
        ("putty-ppk", "ppk", ppk3, ppk3_line),
        ("putty-ppk-mac", "ppk", ppk3, ppk3_mac),
        ("putty-ppk-v2", "ppk", ppk2, ppk2_line),
        (
            "putty-ppk-escaped",
            "python",
            'PPK = "' + ppk3.replace("\n", "\\n") + '"',
            ppk3_line,
        ),
        ("telegram-bot-prefix", "python", f'TELEGRAM_PATH = "bot{telegram}"', telegram),
        (
            "telegram-bot-query",
            "javascript",
            f"fetch(`https://tg-proxy.internal/call?path=bot{telegram}&m=getMe`)",
            telegram,
        ),
    ]
    return [Secret(kind, language, text, value) for kind, language, text, value in out]


def build_secrets(seed: int | None = None) -> list[Secret]:
    """The corpus; `seed` draws another one (the module's sequence is left as it was)."""
    if seed is not None:
        state = _rng.getstate()
        _rng.seed(seed)
        try:
            return build_secrets()
        finally:
            _rng.setstate(state)
    secrets: list[Secret] = []
    languages = list(CALL_SITES)
    for i, (kind, make) in enumerate(FORMATS.items()):
        for k in range(4):  # each format in four languages, spread over all of them
            language = languages[(i + 5 * k) % len(languages)]
            value = make()
            text = CALL_SITES[language].replace("{s}", value)
            secrets.append(Secret(kind, language, text, value))
    assign_languages = list(ASSIGNMENTS)
    for i, name in enumerate(NAMES):
        for k in range(5):
            language = assign_languages[(i + 4 * k) % len(assign_languages)]
            value = human_password() if k % 2 == 0 else rnd(24, URLSAFE)
            text = ASSIGNMENTS[language]
            for field, part in (("name", name), ("camel", _camel(name)), ("NAME", name.upper())):
                text = text.replace("{" + field + "}", part)
            text = text.replace("{v}", value)
            secrets.append(Secret(f"named:{name}", language, text, value))
    secrets += _special()
    for i, (kind, make) in enumerate(NEW_FORMATS.items()):
        for k in range(2):
            language = languages[(i + 7 * k) % len(languages)]
            value = make()
            secrets.append(
                Secret(kind, language, CALL_SITES[language].replace("{s}", value), value)
            )
    return secrets + _positional() + _session6()


# --- look-alikes: must reach the models unchanged -----------------------------------------


def build_lookalikes(seed: int | None = None) -> list[LookAlike]:
    if seed is not None:
        state = _rng.getstate()
        _rng.seed(seed)
        try:
            return build_lookalikes()
        finally:
            _rng.setstate(state)
    sha1, sha256 = rnd(40, LOWER_HEX), rnd(64, LOWER_HEX)
    sri = base64.b64encode(_rng.randbytes(64)).decode()
    uuid = f"{rnd(8, LOWER_HEX)}-{rnd(4, LOWER_HEX)}-4{rnd(3, LOWER_HEX)}-a{rnd(3, LOWER_HEX)}-{rnd(12, LOWER_HEX)}"  # noqa: E501
    png = "iVBORw0KGgoAAAANSUhEUgAA" + base64.b64encode(_rng.randbytes(96)).decode()
    jwt_io = (
        "ey" + "JhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
        ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
        ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    )
    stripe_docs = "sk" + "_test_4eC39HqLyjWDarjtT1zdp7dc"
    aws_example_id = "AK" + "IAIOSFODNN7EXAMPLE"
    aws_example_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
    h = lambda n=64: rnd(n, LOWER_HEX)  # noqa: E731
    items = [
        # lockfiles
        ("npm-integrity", "json", f'      "integrity": "sha512-{sri}"', f"sha512-{sri}"),
        (
            "yarn-resolved",
            "yaml",
            f'  resolved "https://registry.yarnpkg.com/a/-/a-1.0.0.tgz#{sha1}"',
            sha1,
        ),
        (
            "poetry-hash",
            "toml",
            f'    {{file = "requests-2.32.3-py3-none-any.whl", hash = "sha256:{sha256}"}},',
            sha256,
        ),
        ("cargo-checksum", "toml", f'checksum = "{h()}"', ""),
        (
            "go-sum",
            "go",
            f"golang.org/x/net v0.25.0 h1:{base64.b64encode(_rng.randbytes(32)).decode()}",
            "",
        ),
        ("pipfile-lock", "json", f'        "hashes": ["sha256:{h()}"],', ""),
        ("composer-shasum", "json", f'    "shasum": "{h(40)}"', ""),
        (
            "pnpm-lock",
            "yaml",
            f"    resolution: {{integrity: sha512-{base64.b64encode(_rng.randbytes(64)).decode()}}}",  # noqa: E501
            "",
        ),
        ("gemfile-lock-checksum", "ruby", f"  nokogiri (1.16.5) sha256={h()}", ""),
        ("requirements-hash", "python", f"requests==2.32.3 --hash=sha256:{h()}", ""),
        # UUIDs
        ("uuid", "python", f'request_id = "{uuid}"', uuid),
        ("uuid-idempotency", "javascript", f'const idempotencyKey = "{uuid}";', uuid),
        ("uuid-json", "json", f'  "tenant_id": "{uuid}",', uuid),
        ("uuid-yaml", "yaml", f"  correlation_id: {uuid}", uuid),
        ("uuid-csharp", "csharp", f'var id = Guid.Parse("{uuid}");', uuid),
        ("uuid-sql", "sql", f"SELECT * FROM orders WHERE id = '{uuid}';", uuid),
        # git SHAs
        ("git-sha", "toml", f'rev = "{sha1}"', sha1),
        ("git-sha-precommit", "yaml", f"    rev: {sha1}", sha1),
        ("git-sha-shell", "shell", f"git checkout {sha1}", sha1),
        ("git-sha-go", "go", f"github.com/x/y v0.0.0-20240101000000-{sha1[:12]}", sha1[:12]),
        ("git-sha-json", "json", f'  "sha": "{sha1}",', sha1),
        ("git-sha-actions", "yaml", f"      - uses: actions/checkout@{sha1}", sha1),
        ("docker-digest", "dockerfile", f"FROM python:3.12-slim@sha256:{sha256}", sha256),
        ("sri", "html", f'<script src="/app.js" integrity="sha384-{sri[:64]}"></script>', sri[:64]),
        ("content-hash", "python", f'content_hash = "{h()}"', ""),
        ("etag", "terraform", f'  etag = "{h(32)}"', ""),
        ("md5", "php", f"$checksum = md5_file($path); // {h(32)}", ""),
        # base64 images
        ("data-uri-png", "html", f'<img src="data:image/png;base64,{png}">', png),
        ("css-data-uri", "css", f"  background: url(data:image/png;base64,{png});", png),
        ("markdown-image", "markdown", f"![logo](data:image/png;base64,{png})", png),
        ("json-image", "json", f'  "icon": "data:image/png;base64,{png}"', png),
        # documented example keys, in tests and docs
        ("aws-docs-id", "python", f'AWS_ACCESS_KEY_ID = "{aws_example_id}"', aws_example_id),
        (
            "aws-docs-secret",
            "ini",
            f"aws_secret_access_key = {aws_example_secret}",
            aws_example_secret,
        ),
        ("jwt-io", "javascript", f"const sample = '{jwt_io}';", jwt_io),
        ("stripe-docs", "ruby", f"Stripe.api_key = '{stripe_docs}'", stripe_docs),
        ("placeholder-angle", "yaml", "  api_key: <your-api-key>", "<your-api-key>"),
        ("placeholder-env", "dotenv", "OPENAI_API_KEY=${OPENAI_API_KEY}", "${OPENAI_API_KEY}"),
        (
            "actions-secret",
            "yaml",
            "          token: ${{ secrets.GITHUB_TOKEN }}",
            "${{ secrets.GITHUB_TOKEN }}",
        ),
        ("format-field", "python", 'dsn = f"host=db password={password}"', "{password}"),
        ("template", "yaml", '  password: "{{ vault_db_password }}"', "{{ vault_db_password }}"),
        ("xxx-placeholder", "toml", 'api_key = "xxxxxxxxxxxxxxxx"', "xxxxxxxxxxxxxxxx"),
        # code that names secrets without holding one
        (
            "env-read",
            "python",
            'api_key = os.environ["OPENAI_API_KEY"]',
            'os.environ["OPENAI_API_KEY"]',
        ),
        ("getenv-go", "go", 'token := os.Getenv("GITHUB_TOKEN")', 'os.Getenv("GITHUB_TOKEN")'),
        ("kwarg", "python", "db = connect(host=host, password=password)", "password=password"),
        ("type-annotation", "python", "    password: str", "password: str"),
        ("token-count", "python", "token_count = 4096", "4096"),
        ("max-tokens", "typescript", "const maxTokens: number = 8192;", "8192"),
        ("token-type", "python", 'token_type = "Bearer"', "Bearer"),
        (
            "password-label",
            "javascript",
            'const passwordLabel = "Enter your password";',
            "Enter your password",
        ),
        (
            "password-hint",
            "python",
            'password_hint = "the name of your first pet"',
            "the name of your first pet",
        ),
        (
            "process-env",
            "javascript",
            "const API_KEY = process.env.API_KEY;",
            "process.env.API_KEY",
        ),
        (
            "token-url",
            "python",
            'TOKEN_URL = "https://oauth2.googleapis.com/token"',
            "https://oauth2.googleapis.com/token",
        ),
        (
            "key-path",
            "python",
            'private_key_path = "/home/me/.ssh/id_ed25519"',
            "/home/me/.ssh/id_ed25519",
        ),
        (
            "public-key",
            "shell",
            f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{rnd(43, B64)} me@laptop",
            "",
        ),
        (
            "basic-prose",
            "markdown",
            "Basic authentication sends credentials on every request.",
            "Basic authentication",
        ),
        (
            "url-no-password",
            "python",
            'url = "https://user@example.com/path"',
            "https://user@example.com/path",
        ),
        (
            "url-env-password",
            "dotenv",
            "DATABASE_URL=postgres://app:${DB_PASS}@db:5432/app",
            "${DB_PASS}",
        ),
        ("css-colors", "css", "  color: #ff00aa; background: #1e1e1e;", "#ff00aa"),
        ("hex-constant", "c", "#define MAGIC 0xDEADBEEFCAFEBABE", "0xDEADBEEFCAFEBABE"),
        ("test-vector", "rust", f'let expected = hex!("{h()}");', ""),
        ("bypass", "python", 'bypass = "maintenance-mode"', "maintenance-mode"),
        ("compass", "javascript", "const compass = 'north-north-west';", "north-north-west"),
        ("i18n", "json", '  "forgot_password": "Forgot your password?",', "Forgot your password?"),
        (
            "password-stdin",
            "shell",
            'echo "$CR_PAT" | docker login ghcr.io -u me --password-stdin',
            "--password-stdin",
        ),
        ("mysql-prompt", "shell", "mysql -u root -p app < dump.sql", "-p app"),
        ("cli-env-password", "shell", 'psql --password="$PGPASSWORD" app', '"$PGPASSWORD"'),
        ("secret-name", "python", 'secret_name = "prod/db/credentials"', "prod/db/credentials"),
        (
            "password-reset-url",
            "ruby",
            'PASSWORD_RESET_URL = "https://app.example.com/reset"',
            "https://app.example.com/reset",
        ),
        ("input-prompt", "python", 'password = input("Password: ")', 'input("Password: ")'),
        ("sha256-in-test", "go", f'want := "{rnd(64, LOWER_HEX)}"', ""),
        # beside a secret-ish name, but a label, an identifier, a reference
        ("form-label", "python", 'form.add_field("password", "Password")', "Password"),
        ("i18n-call", "javascript", 't("api_key", "API key:")', "API key:"),
        ("registry", "python", 'plugins.register("pypi_token", "PypiTokenDetector")', ""),
        ("getenv-empty", "python", 'os.getenv("DB_PASSWORD", "")', '"DB_PASSWORD", ""'),
        ("k8s-secret-ref", "yaml", "- name: DB_PASSWORD\n  valueFrom:", "valueFrom:"),
        ("spring-placeholder", "xml", '<property name="password" value="${db.password}"/>', ""),
        ("docker-user", "shell", "docker run --user 1000:1000 app", "1000:1000"),
        ("keytool-env", "shell", "keytool -list -keystore a.jks -storepass:env STOREPASS", ""),
        (
            "openssl-env",
            "shell",
            "openssl enc -aes256 -pass env:PASSPHRASE -in f",
            "env:PASSPHRASE",
        ),
        ("token-placeholder", "http", "Authorization: Token ${API_TOKEN}", "${API_TOKEN}"),
        ("setter-variable", "java", "dataSource.setPassword(password);", "password"),
        ("fstring-pair", "python", 'case("url", f"postgres://app:{pw}@db/app")', ""),
        # session 6: a word in backticks names a field (Markdown), a value names its key
        ("markdown-backticks", "markdown", "- token: `prompt` (the field sent first)", "prompt"),
        ("markdown-backticks-bold", "markdown", "**password**: `PasswordField`", "PasswordField"),
        ("names-its-key", "javascript", "data.refresh_token = 'refresh_token'", "refresh_token"),
        ("names-its-key-camel", "typescript", "const ACCESS_TOKEN = 'accessToken';", "accessToken"),
        ("htpasswd-prompt", "shell", "htpasswd -c /etc/nginx/.htpasswd admin", "admin"),
        ("htpasswd-env", "shell", 'htpasswd -b .htpasswd admin "$ADMIN_PASSWORD"', ""),
        ("htpasswd-delete", "shell", "htpasswd -D .htpasswd admin", "admin"),
        ("bot-status", "python", 'status_key = "bot12345678:healthy"', "bot12345678:healthy"),
        (
            "ppk-prose",
            "markdown",
            "Private-Lines: counts the lines below it\nthat hold the private key.",
            "that hold the private key.",
        ),
    ]
    out = []
    for kind, language, text, value in items:
        if not value:
            value = text.rstrip(";,").rsplit(" ", 1)[-1].strip("\"'(){}")
            value = value.split(":", 1)[-1] if kind in ("go-sum", "pipfile-lock") else value
            value = value.rsplit("=", 1)[-1] if kind == "gemfile-lock-checksum" else value
        out.append(LookAlike(kind, language, text, value))
    return out
