"""Flat views of nested settings and report pieces, written once: the dict flattener and the two-column Markdown
table used by the logger's TEXT tab, the hparams plugin and the config's table, and the hand-written reading
that every benchmark report keeps across re-runs."""

from __future__ import annotations

from pathlib import Path

SEPARATOR = "."
#: The heading of a report's hand-written section; a re-run of the report's script keeps it.
READING_HEADING = "## Reading"


def flatten_dict(d: dict, prefix: str = "", sep: str = SEPARATOR) -> dict:
    """``{"a": {"b": 1}} -> {"a.b": 1}``: nested keys joined with ``sep``, values unchanged."""
    out = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_dict(v, name + sep, sep))
        else:
            out[name] = v
    return out


def _md_cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(params: dict, header: tuple[str, str] = ("parameter", "value")) -> str:
    """A two-column Markdown table of ``params`` (nested dicts flattened by :func:`flatten_dict`); ``|`` in
    keys and values is escaped."""
    rows = [f"| {header[0]} | {header[1]} |", "| --- | --- |"]
    rows += [f"| {_md_cell(k)} | {_md_cell(v)} |" for k, v in flatten_dict(params).items()]
    return "\n".join(rows)


def kept_reading(path: str | Path) -> str | None:
    """The hand-written ``## Reading`` section of an earlier report at ``path`` (its heading at the start of a
    line, to the end of the file, subsections included), without trailing whitespace; ``None`` if the file or
    the section is missing. A re-run writes it back, so the numbers it quotes may then be stale: re-read them
    against the new tables."""
    path = Path(path)
    text = "\n" + path.read_text() if path.is_file() else ""
    at = text.find("\n" + READING_HEADING)
    return text[at + 1:].rstrip() if at >= 0 else None
