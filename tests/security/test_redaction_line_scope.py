"""The name-keyed redaction rules run only on lines holding one of their words
(`redact._LINE_SCOPED`, a speed-up): the output must be exactly what running every rule
over the whole text gives, on the corpus and on the edges of the argument that makes
it exact (line ends, `\\r`, text edges, case-folded look-alike letters)."""

from __future__ import annotations

import pytest

from fuse_ls.core import redact as redaction
from tests.security.secrets_corpus import build_lookalikes, build_secrets, rnd


def _whole_text(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, int]]:
    """What `redact` gives with every rule run over the whole text."""
    with monkeypatch.context() as patched:
        patched.setattr(redaction, "_LINE_SCOPED", {})
        result = redaction.redact(text)
    return result.text, result.counts


def _corpus() -> str:
    return "\n".join([*(s.text for s in build_secrets()), *(a.text for a in build_lookalikes())])


VALUE = rnd(24)
EDGES = [
    # a match at the very start and very end of the text, no newline around it
    f'password = "{VALUE}"',
    f'api_key="{VALUE}"\nx = 1\nDB_PASSWORD={VALUE}',
    # CRLF and lone CR: `\r` stays inside the line the rule is run on
    f'a = 1\r\npassword: "{VALUE}"\r\nsigning_key = "{VALUE}"\r\n',
    f'x = 1\rtoken = "{VALUE}"\r\rpassword: {VALUE}\n',
    # several hits on one line, words with no assignment, a word ending a line
    f'token = "{VALUE}"; secret = "{VALUE}" # key\nkey\npass\n',
    # YAML/INI and `.env` shapes anchored on `^`/`$`
    f"db:\n  password: {VALUE}\n  - secret: {VALUE}  # note\nexport API_TOKEN={VALUE}\n",
    # letters that `(?i)` folds onto ASCII ones: KELVIN SIGN, long s
    f'api_\u212aey = "{VALUE}"\npa\u017f\u017fword = "{VALUE}"\nSECRET_\u212aEY = "{VALUE}"\n',
    # other line separators are ordinary characters to these rules
    f'a\x0bpassword = "{VALUE}"\u2028token: "{VALUE}"\x85salt = "{VALUE}"',
    # a previous rule's mark holds a word (`secret`, `key`) next to a name
    f'password = "hunter2-{VALUE}-AKIA{rnd(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")}"\n',
]


# ASCII text is searched for the words with `str.find`, other text with the regex: the
# corpus is ASCII, and once more with one non-ASCII letter to take the other path.
TEXTS = [_corpus(), _corpus() + "\n# caf\u00e9", *EDGES]
IDS = ["corpus", "corpus-non-ascii", *map(str, range(len(EDGES)))]


@pytest.mark.parametrize("text", TEXTS, ids=IDS)
def test_line_scoped_rules_redact_exactly_as_over_the_whole_text(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = redaction.redact(text)
    assert (result.text, result.counts) == _whole_text(text, monkeypatch)
    assert result.redacted


def test_every_line_scoped_match_holds_one_of_its_words_and_no_newline() -> None:
    """The two conditions the exactness rests on, checked on every match over the corpus."""
    text = _corpus() + "\n" + "\n".join(EDGES)
    assert redaction._LINE_SCOPED
    for pattern, words in redaction._LINE_SCOPED.items():
        matches = list(pattern.finditer(text))
        assert matches, pattern.pattern[:60]
        for m in matches:
            assert "\n" not in m.group(0)
            assert words.regex.search(m.group(0)), (words.literals, m.group(0))
