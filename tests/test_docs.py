"""The documentation a reader follows: every relative link leads to a file and heading that exist, and the README's
pictures of the app show the weights that ship."""

import hashlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted(
    [ROOT / "README.md", *(p for d in ("docs", "engine", "training") for p in (ROOT / d).rglob("*.md"))],
    key=str,
)


def prose(markdown: str) -> str:
    """``markdown`` without its fenced code blocks: a ``#`` line or a link there is code, not a heading or link."""
    return re.sub(r"```.*?```", "", markdown, flags=re.S)


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces as hyphens, a repeated
    heading numbered -1, -2, ..."""
    anchors, seen = set(), {}
    for title in re.findall(r"^#{1,6} (.+)$", prose(markdown), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        anchors.add(slug if n == 0 else f"{slug}-{n}")
        seen[slug] = n + 1
    return anchors


def test_heading_anchors_follow_github():
    text = "# Spread over seeds (test, val-tuned)\n```\n# not a heading\n```\n## A `code` name\n## A `code` name\n"
    assert heading_anchors(text) == {"spread-over-seeds-test-val-tuned", "a-code-name", "a-code-name-1"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_somewhere(doc: Path):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", prose(doc.read_text())):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in heading_anchors(dest.read_text()):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{doc.relative_to(ROOT)} links to: {', '.join(broken)}"


def test_readme_screenshots_show_the_shipped_weights():
    """New weights without new pictures would show forecasters skill the model no longer has."""
    from engine.model.manifest import DEFAULT_WEIGHTS, read_manifest

    record = json.loads((ROOT / "docs" / "screenshots.json").read_text())
    retake = "run `python docs/make_screenshots.py`"
    shipped = read_manifest(DEFAULT_WEIGHTS)["sha256"]
    assert record["weights_sha256"] == shipped, f"docs/*.png show weights {record['weights_sha256'][:12]}: {retake}"
    shown = set(re.findall(r"\(docs/([\w-]+\.png)\)", (ROOT / "README.md").read_text()))
    assert shown and shown <= set(record["pictures"]), f"README shows pictures the record lacks: {retake}"
    for name, sha in record["pictures"].items():
        digest = hashlib.sha256((ROOT / "docs" / name).read_bytes()).hexdigest()
        assert digest == sha, f"docs/{name} changed since: {retake}"
