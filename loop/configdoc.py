"""The configuration reference, generated from the typed schema: ``python -m loop.configdoc > docs/config.md``.

The schema (``loop.config.RunConfig`` and the sections it composes) is the one source of truth; this
renders every key with its type, default, bounds and help text. ``tests/test_docs.py`` fails when
docs/config.md and the schema drift apart, and says to rerun the command above.
"""
from __future__ import annotations

import json
import types
import typing
from typing import Any, Literal, Union

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from loop.config import RunConfig

COMMAND = "python -m loop.configdoc > docs/config.md"

INTRO = f"""# Configuration reference

Generated from the typed schema (`loop.config.RunConfig`) by `{COMMAND}`;
do not edit by hand. A config file only overrides these defaults (see
`configs/`), and so does `ratchet run CONFIG --set key=value`. An unknown key
or a bad value stops `ratchet run` before anything is written, naming the key
(and the file or `--set` it came from).
"""


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join("null" if a is type(None) else type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list of {type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        k, v = typing.get_args(tp)
        return f"map {type_name(k)} → {type_name(v)}"
    return {int: "int", float: "float", str: "string", bool: "bool"}.get(tp, getattr(tp, "__name__", str(tp)))


def default_of(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(section)"
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def bounds(field: FieldInfo) -> str:
    marks = ((annotated_types.Ge, "≥", "ge"), (annotated_types.Gt, ">", "gt"), (annotated_types.Le, "≤", "le"),
             (annotated_types.Lt, "<", "lt"))
    return ", ".join(f"{sym} {getattr(m, attr)}" for m in field.metadata for cls, sym, attr in marks
                     if isinstance(m, cls))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def sections(model: type[BaseModel], prefix: str = "") -> list[tuple[str, type[BaseModel]]]:
    """(dotted prefix, section model) for the model and every section below it, depth first."""
    out = [(prefix, model)]
    for name, field in model.model_fields.items():
        if _is_model(field.annotation):
            out.extend(sections(field.annotation, f"{prefix}{name}."))
    return out


def render() -> str:
    parts = [INTRO]
    for prefix, model in sections(RunConfig):
        title = prefix.rstrip(".") or "top level"
        parts.append(f"\n## `{title}`\n" if prefix else f"\n## {title}\n")
        doc = (model.__doc__ or "").strip()
        if doc and model is not RunConfig:
            parts.append(f"\n{' '.join(doc.split())}\n")
        rows = ["", "| key | type | default | bounds | meaning |", "|---|---|---|---|---|"]
        for name, field in model.model_fields.items():
            if _is_model(field.annotation):
                rows.append(f"| `{prefix}{name}` | section | see [`{prefix}{name}`](#{_anchor(prefix + name)}) "
                            f"| | {_cell(field.description or '')} |")
                continue
            rows.append(f"| `{prefix}{name}` | {type_name(field.annotation)} | {default_of(field)} | "
                        f"{bounds(field)} | {_cell(field.description or '')} |")
        parts.append("\n".join(rows) + "\n")
    return "".join(parts)


def _anchor(key: str) -> str:
    """GitHub's heading anchor for a heading that is just `key` in backticks."""
    return key.replace(".", "").lower()


if __name__ == "__main__":
    print(render(), end="")
