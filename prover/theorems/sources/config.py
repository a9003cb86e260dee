"""The typed config of theorem sources: ``theorems.sources`` in a run config.

Each entry names its ``kind``; the kind decides which options it takes (a
discriminated union, so an unknown kind or an option of another kind fails
naming the key). ``name`` defaults to the file's stem or the kind; theorem
ids are ``<name>/<theorem name>`` and names must be unique within a config.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

POOLS = ("warmstart", "train", "heldout")
Pool = Literal["warmstart", "train", "heldout"]


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.\-]+$",
                             description="prefix of theorem ids; default: the file's stem, or the kind")

    def source_name(self) -> str:
        return self.name or self.kind  # type: ignore[attr-defined]


class FamiliesSource(_Source):
    """Today's generators: exactly ``theorems.families`` / ``per_family`` / ``generator_seed``."""
    kind: Literal["families"]

    def source_name(self) -> str:
        return self.name or "families"


class JsonlSource(_Source):
    """A file in the DeepSeek-Prover / Goedel-Prover convention: one JSON object per line with
    ``name``, ``formal_statement``, ``header`` and optionally ``informal_prefix``, ``split``,
    ``goal`` (and, for warm-start use, ``proof``: a known proof body)."""
    kind: Literal["jsonl"]
    path: str = Field(..., description="the .jsonl file (relative paths: from the working directory)")
    language: Literal["lean", "coq"] = Field("lean", description="the language of statements and headers")
    splits: dict[str, Pool] | None = Field(None, description="file `split` value -> pool, e.g. "
                                           "{valid: train, test: heldout}; null = pools by hash")
    informal_prefix_in_prompt: bool = Field(False, description="put the informal statement in the prompt")
    limit: int | None = Field(None, ge=1, description="read only the first N theorems (smoke runs)")

    def source_name(self) -> str:
        return self.name or Path(self.path).stem


class CoqStdlibSource(_Source):
    """Lemmas of the installed Coq standard library, each checked in the context it was stated in."""
    kind: Literal["coq-stdlib"]
    files: list[str] = Field(..., min_length=1, description="globs relative to the library's theories/ directory")
    root: str | None = Field(None, description="the theories/ directory; null = `coqc -where`/theories")
    heldout_files: list[str] = Field(default_factory=list,
                                     description="globs of files held out whole; empty = held-out by hash")
    max_per_file: int | None = Field(None, ge=1, description="keep only the first N lemmas of each file")

    def source_name(self) -> str:
        return self.name or "coq-stdlib"


class LeanDojoSource(_Source):
    """LeanDojo Benchmark 4: a split directory's train.json / val.json / test.json."""
    kind: Literal["leandojo"]
    path: str = Field(..., description="the split directory, e.g. leandojo_benchmark_4/random")
    files: dict[str, Pool] = Field(default_factory=lambda: {"train": "train", "val": "train", "test": "heldout"},
                                   description="split file stem -> pool")
    limit: int | None = Field(None, ge=1, description="read only the first N theorems of each file")

    def source_name(self) -> str:
        return self.name or "leandojo"


SourceConfig = Annotated[Union[FamiliesSource, JsonlSource, CoqStdlibSource, LeanDojoSource],
                         Field(discriminator="kind")]


def check_unique_names(sources: list) -> None:
    """Raise ValueError when two sources would give their theorems the same id prefix."""
    seen: dict[str, int] = {}
    for i, s in enumerate(sources):
        name = s.source_name()
        if name in seen:
            raise ValueError(f"sources {seen[name]} and {i} are both named {name!r}; give one a `name`")
        seen[name] = i


class SourcesMixin(BaseModel):
    """Mixed into loop.config.TheoremsConfig: the optional ``sources`` list."""
    sources: list[SourceConfig] | None = Field(None, description="theorem sources; null = the families above, "
                                               "exactly as without this key")

    @model_validator(mode="after")
    def _unique_source_names(self):
        if self.sources is not None:
            if not self.sources:
                raise ValueError("sources: give at least one source, or leave the key out")
            check_unique_names(self.sources)
        return self
