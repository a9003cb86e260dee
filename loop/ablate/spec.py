"""The ablation's grid spec: base config, arms and grid -> a list of validated arms (see loop.ablate)."""
from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loop.config import ConfigError, RunConfig, load_config, read_yaml_mapping, flatten, set_dotted, validate_config

TOP_KEYS = ("name", "base_config", "base", "arms", "grid", "arm_timeout_s")
# short names for the keys that are varied most; any other key is named by its dotted path
ALIASES = {"gate.kind": "gate", "gate.fp": "fp", "gate.fn": "fn", "sampling.temperature": "T", "seed": "seed"}


@dataclass(frozen=True)
class Arm:
    name: str
    group: str  # the name without the seed: arms of one group differ only in seed
    values: dict[str, Any]  # dotted key -> value: what sets this arm apart from the base
    config: RunConfig


@dataclass(frozen=True)
class Ablation:
    name: str
    keys: list[str]  # every dotted key some arm sets, in order of appearance
    arms: list[Arm]
    arm_timeout_s: float | None = None


def _with_values(base: dict, values: dict[str, Any]) -> dict:
    data = copy.deepcopy(base)
    for key, value in values.items():
        set_dotted(data, key, value)
    return data


def _label(key: str, value: Any) -> str:
    text = f"{ALIASES.get(key, key)}-{value if not isinstance(value, bool) else str(value).lower()}"
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text)


def load_ablation(path: str | Path) -> Ablation:
    p = Path(path)
    data = read_yaml_mapping(p, what="ablation config")
    return build_ablation(data, p.parent, str(p), default_name=p.stem)


def build_ablation(data: dict, base_dir: Path, source: str = "ablation", default_name: str = "ablation") -> Ablation:
    """Validate an ablation config (as loaded from YAML) and expand it into arms."""
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise ConfigError(f"{source}: {unknown[0]}: unknown key (allowed: {', '.join(TOP_KEYS)})")
    base: dict = {}
    if data.get("base_config") is not None:
        base_path = Path(data["base_config"])
        base_path = base_path if base_path.is_absolute() else base_dir / base_path
        try:
            base = load_config(base_path).model_dump(mode="json")
        except ConfigError as e:
            raise ConfigError(f"{source}: base_config: {e}") from None
    overrides = data.get("base") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"{source}: base: expected a mapping of run-config keys")
    try:
        base = _with_values(base, flatten(overrides))
        validate_config(base)
    except ConfigError as e:
        raise ConfigError(f"{source}: base: {e}") from None

    entries = _parse_arms(data.get("arms"), source)
    grid = _parse_grid(data.get("grid"), source)
    for i, (_, values) in enumerate(entries):
        both = sorted(set(values) & set(grid))
        if both:
            raise ConfigError(f"{source}: arms[{i}]: {both[0]} is also in grid; set it in one place")

    keys = list(dict.fromkeys([k for _, v in entries for k in v] + list(grid)))
    arms: list[Arm] = []
    for (i, (label, entry)), point in itertools.product(enumerate(entries), itertools.product(*grid.values())):
        values = {**entry, **dict(zip(grid, point))}
        parts = ([label] if label else [_label(k, v) for k, v in entry.items()]) + \
                [_label(k, v) for k, v in zip(grid, point)]
        group_parts = ([label] if label else [_label(k, v) for k, v in entry.items() if k != "seed"]) + \
                      [_label(k, v) for k, v in zip(grid, point) if k != "seed"]
        name = "_".join(parts) or "base"
        data_arm = _with_values(base, values)
        data_arm["name"] = name
        try:
            cfg = validate_config(data_arm)
        except ConfigError as e:
            origins = {**{k: f"arms[{i}].{k}" for k in entry}, **{k: f"grid.{k}" for k in grid}}
            raise ConfigError(f"{source}: {_blame(str(e), origins)} (arm {name}): {e}") from None
        arms.append(Arm(name=name, group="_".join(group_parts) or "base", values=values, config=cfg))
    seen: set[str] = set()
    for arm in arms:
        if arm.name in seen:
            raise ConfigError(f"{source}: two arms are both named {arm.name!r}; give the arms entries labels")
        seen.add(arm.name)
    timeout = data.get("arm_timeout_s")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ConfigError(f"{source}: arm_timeout_s: expected a positive number of seconds")
    name = data.get("name") or default_name
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise ConfigError(f"{source}: name: expected letters, digits, '.', '_' or '-'")
    return Ablation(name=name, keys=keys, arms=arms, arm_timeout_s=timeout)


def _blame(message: str, origins: dict[str, str]) -> str:
    """Where the keys named in a validation message were set: "grid.eval.n", "arms[0].gate.fp" or "base"."""
    bad = [part.split(": ", 1)[0] for part in message.split("; ")]
    hits = [where for key, where in origins.items()
            if any(key == b or key.startswith(b + ".") or b.startswith(key + ".") for b in bad)]
    return ", ".join(hits) or "base"


def _parse_arms(raw, source: str) -> list[tuple[str | None, dict[str, Any]]]:
    if raw is None:
        return [(None, {})]
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{source}: arms: expected a non-empty list of mappings")
    out = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or not entry:
            raise ConfigError(f"{source}: arms[{i}]: expected a non-empty mapping of dotted keys")
        entry = dict(entry)
        label = entry.pop("label", None)
        if label is not None and (not isinstance(label, str) or not re.fullmatch(r"[A-Za-z0-9.+-]+", label)):
            raise ConfigError(f"{source}: arms[{i}].label: expected letters, digits, '.', '+' or '-'")
        out.append((label, flatten(entry)))
    return out


def _parse_grid(raw, source: str) -> dict[str, list]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: grid: expected a mapping of dotted key -> list of values")
    grid = {}
    for key, values in raw.items():
        if isinstance(values, dict):
            raise ConfigError(f"{source}: grid.{key}: use dotted keys (grid: {{{key}.x: [...]}}), not sections")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{source}: grid.{key}: expected a non-empty list of values")
        if len(set(map(repr, values))) != len(values):
            raise ConfigError(f"{source}: grid.{key}: a value is listed twice")
        grid[key] = values
    return grid
