"""Placeholders in texts staff write once and send many times (canned replies, the automatic reply):
`{client_name}` and `{agent_name}`, filled in by the server when the text is used.

Only plain names are filled: no attribute access, index, conversion or format spec (`{client_name.x}`,
`{agent_name!r}`), so a text can never reach into an object. `{{` and `}}` write a brace.
"""

from string import Formatter

PLACEHOLDERS = {
    "client_name": "the client's name (their number when they have none)",
    "agent_name": "your name (your email when you have none)",
}


class PlaceholderError(ValueError):
    """The text names a placeholder that does not exist, or is not well formed: the message says which."""


def _known(names: set[str]) -> str:
    return ", ".join("{" + name + "}" for name in sorted(names))


def placeholders_check(text: str, *, allowed: set[str] = set(PLACEHOLDERS)) -> None:  # noqa: B006 - never mutated
    """Raise PlaceholderError when `text` uses anything but the `allowed` placeholders."""
    placeholders_render(text, dict.fromkeys(allowed, ""))


def placeholders_render(text: str, values: dict[str, str]) -> str:
    """`text` with each placeholder replaced by its value; PlaceholderError names what is wrong."""
    parts: list[str] = []
    try:
        parsed = list(Formatter().parse(text))
    except ValueError as error:
        raise PlaceholderError(
            f"A brace is not closed or opened ({error}); write {{{{ or }}}} for a brace itself."
        ) from None
    for literal, name, spec, conversion in parsed:
        parts.append(literal)
        if name is None:
            continue
        if name not in values or spec or conversion:
            whole = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise PlaceholderError(f"Unknown placeholder {whole}: use {_known(set(values))}.")
        parts.append(values[name])
    return "".join(parts)
