"""KEY=VALUE files read exactly as systemd's EnvironmentFile= reads them (systemd.exec(5)), without a shell.

The agent's config file (/etc/fleetvisor/agent.env) is also the unit's
EnvironmentFile, so both must agree on every line: blank lines and lines
starting with `#` or `;` are comments (a comment ending in a backslash runs
on into the next line); a line without `=` is ignored; whitespace around the
key and the value goes. An unquoted value keeps its inner whitespace and any
quotes after its first character, and a backslash keeps the next character
(at a line's end it joins the next line). A `'…'` value is verbatim and may
span lines; a `"…"` value may too and knows the shell's escapes `\\" \\\\ \\` \\$`
(any other backslash is kept). Quoted and unquoted pieces next to each other
join up (`"a" b` is `ab`). Names that are not shell variable names are
skipped, as systemd skips them. Nothing is ever expanded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# At the start of a line: blanks, then a comment or an assignment's key (whose first character is taken
# as it is, even a `=`, as systemd takes it).
_COMMENT = re.compile(r"[#;](?:\\.|[^\\\n\r])*", re.S)
_KEY = re.compile(r"([^\n\r][^=\n\r]*)(=?)")
# After `=`, and after each quoted piece: blanks, then the next piece of the value.
_PIECE = re.compile(r"""[ \t]*(?:'(?P<single>[^']*)'?|"(?P<double>(?:\\.|[^"\\])*)"?"""
                    r"""|(?P<bare>(?:\\.|[^\\\n\r'"])(?:\\.|[^\\\n\r])*))""", re.S)
_ESCAPE = re.compile(r"\\(.)|(.)", re.S)
_DOUBLE_ESCAPE = re.compile(r"\\(.)", re.S)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SHELL_ESCAPES = "\"\\`$"
_NEWLINES = "\n\r"


def parse(text: str) -> dict[str, str]:
    """The file's settings: the last assignment of a name wins."""
    return dict(assignments(text))


def assignments(text: str) -> Iterator[tuple[str, str]]:
    """Every (name, value) assignment in the file, in order."""
    pos = 0
    while pos < len(text):
        if text[pos] in " \t\n\r":
            pos += 1
        elif comment := _COMMENT.match(text, pos):
            pos = comment.end()
        else:
            key = _KEY.match(text, pos)
            assert key is not None  # text[pos] is no newline: those were skipped
            pos = key.end()
            if key.group(2):
                value, pos = _value(text, pos)
                if _NAME.match(key.group(1).strip()):
                    yield key.group(1).strip(), value


def _value(text: str, pos: int) -> tuple[str, int]:
    pieces: list[str] = []
    while (piece := _PIECE.match(text, pos)) is not None:
        pos = piece.end()
        if piece.group("bare") is not None:
            pieces.append(_unquoted(piece.group("bare")))
            break
        single, double = piece.group("single"), piece.group("double")
        pieces.append(single if single is not None else _double_quoted(double))
    return "".join(pieces), pos


def _unquoted(raw: str) -> str:
    """Backslashes keep the next character (an escaped newline vanishes); trailing blanks go."""
    chars: list[str] = []
    kept = 0  # how much of `chars` survives: up to the last character that is not a trailing blank
    for escaped, plain in _ESCAPE.findall(raw):
        if escaped:
            if escaped not in _NEWLINES:
                chars.append(escaped)
            kept = len(chars)
        else:
            chars.append(plain)
            kept = len(chars) if plain not in " \t" else kept
    return "".join(chars[:kept])


def _double_quoted(raw: str) -> str:
    def unescape(match: re.Match[str]) -> str:
        char = match.group(1)
        if char in _SHELL_ESCAPES:
            return char
        return "" if char == "\n" else match.group(0)

    return _DOUBLE_ESCAPE.sub(unescape, raw)
