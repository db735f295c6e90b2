"""Flat views of nested settings, written once: the dict flattener and the two-column Markdown table used by
the logger's TEXT tab, the hparams plugin and the config's table."""

from __future__ import annotations

SEPARATOR = "."


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
