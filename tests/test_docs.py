"""The front page and the docs stay true: the config reference matches the schema, links stay inside."""
from __future__ import annotations

import re
from pathlib import Path

from loop.configdoc import COMMAND, render

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_config_reference_matches_the_schema():
    assert (ROOT / "docs" / "config.md").read_text() == render(), f"docs/config.md is stale: run `{COMMAND}`"


def test_the_reference_names_every_key():
    from loop.config import RunConfig
    from loop.configdoc import sections

    text = render()
    for prefix, model in sections(RunConfig):
        for name in model.model_fields:
            assert f"| `{prefix}{name}` |" in text, prefix + name


def test_readme_is_a_front_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    for page in ("architecture", "running", "config", "verifier", "ablations", "inspecting"):
        assert f"](docs/{page}.md)" in text, page


def test_every_link_resolves_inside_the_repository():
    for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = md.read_text()
        assert "../shared" not in text, md
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (md.parent / target.split("#", 1)[0]).resolve()
            assert path.is_relative_to(ROOT), f"{md.name} links outside the repository: {target}"
            assert path.exists(), f"{md.name} links to a missing file: {target}"
