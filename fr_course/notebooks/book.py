"""Facts about the book read from its two configuration files, ``_config.yml`` and ``_toc.yml``.

The repository URL lives in exactly one place, ``_config.yml``'s ``repository.url``; the list and
order of the chapter notebooks lives in exactly one place, ``_toc.yml``. Everything else (the
runner, the Colab setup cell, the tests) asks this module instead of keeping its own copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CONFIG_FILE = "_config.yml"
TOC_FILE = "_toc.yml"
NOTEBOOK_DIR = "notebooks"


class BookConfigError(ValueError):
    """A book configuration file is missing or lacks a key the course needs."""


def find_root(start: str | Path | None = None) -> Path:
    """The repository root: the nearest folder at or above ``start`` that holds ``_config.yml``.

    Without ``start`` the search begins at the current directory (the checkout you are working in)
    and then at this package's own checkout (an editable install). A pip-installed copy (e.g. on
    Colab) has no book around it, which is reported as an error naming both places searched.
    """
    candidates = [Path(start)] if start is not None else [Path.cwd(), Path(__file__).resolve().parent]
    for candidate in candidates:
        for folder in [candidate.resolve(), *candidate.resolve().parents]:
            if (folder / CONFIG_FILE).is_file():
                return folder
    searched = ", ".join(str(c) for c in candidates)
    raise BookConfigError(f"no {CONFIG_FILE} found at or above {searched}: run this from the course repository")


def _load_yaml(path: Path) -> Any:
    import yaml  # the book stack depends on PyYAML; the core package does not need it

    if not path.is_file():
        raise BookConfigError(f"{path} does not exist")
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_config(root: str | Path | None = None) -> dict:
    """The parsed ``_config.yml`` of the book at ``root`` (default: :func:`find_root`)."""
    root = find_root() if root is None else Path(root)
    config = _load_yaml(root / CONFIG_FILE)
    if not isinstance(config, dict):
        raise BookConfigError(f"{root / CONFIG_FILE} must hold a mapping at the top level")
    return config


def repository_url(root: str | Path | None = None) -> str:
    """``repository.url`` from ``_config.yml``: the one place the course's repository URL is written."""
    root = find_root() if root is None else Path(root)
    url = (load_config(root).get("repository") or {}).get("url")
    if not isinstance(url, str) or not url.startswith("https://"):
        raise BookConfigError(f"{root / CONFIG_FILE}: repository.url must be an https URL, got {url!r}")
    return url.rstrip("/")


def repository_branch(root: str | Path | None = None) -> str:
    """``repository.branch`` from ``_config.yml`` (the branch Colab links open)."""
    root = find_root() if root is None else Path(root)
    branch = (load_config(root).get("repository") or {}).get("branch")
    if not isinstance(branch, str) or not branch:
        raise BookConfigError(f"{root / CONFIG_FILE}: repository.branch must be set")
    return branch


def toc_files(root: str | Path | None = None) -> list[str]:
    """Every ``file:`` entry of ``_toc.yml`` (root first, then in reading order), without suffix."""
    root = find_root() if root is None else Path(root)
    toc = _load_yaml(root / TOC_FILE)
    if not isinstance(toc, dict) or "root" not in toc:
        raise BookConfigError(f"{root / TOC_FILE} must be a mapping with a 'root' entry")
    found: list[str] = [str(toc["root"])]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                found.append(str(node["file"]))
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(toc)
    # A toc entry may be written with or without its suffix; compare stems.
    return [str(Path(entry).with_suffix("")) if Path(entry).suffix in {".md", ".ipynb"} else entry for entry in found]


def chapter_names(root: str | Path | None = None) -> list[str]:
    """Names (file stems) of the chapter notebooks, the toc entries directly in ``notebooks/``, in
    book order (sub-folders such as ``notebooks/assignments/`` are not chapters)."""
    prefix = NOTEBOOK_DIR + "/"
    entries = [entry[len(prefix):] for entry in toc_files(root) if entry.startswith(prefix)]
    return [entry for entry in entries if "/" not in entry]


def notebook_path(name: str, root: str | Path | None = None) -> Path:
    """The committed notebook file of chapter ``name`` (it may not exist yet)."""
    root = find_root() if root is None else Path(root)
    return root / NOTEBOOK_DIR / f"{name}.ipynb"


def resolve_names(requested: list[str], root: str | Path | None = None) -> list[str]:
    """Map user-typed notebook names to toc chapter names.

    Accepts the full stem (``05_arcface``), its number (``05`` or ``5``), the part after the number
    (``arcface``) or a path (``notebooks/05_arcface.ipynb``). An unknown or ambiguous name raises
    ``BookConfigError`` listing the chapters.
    """
    chapters = chapter_names(root)
    resolved: list[str] = []
    for raw in requested:
        text = Path(raw).stem if raw.endswith(".ipynb") or "/" in raw else raw
        matches = [c for c in chapters if c == text]
        if not matches and text.isdigit():
            matches = [c for c in chapters if c.split("_", 1)[0].isdigit() and int(c.split("_", 1)[0]) == int(text)]
        if not matches:
            matches = [c for c in chapters if c.split("_", 1)[-1] == text]
        if len(matches) != 1:
            problem = "is ambiguous" if matches else "is not a chapter"
            raise BookConfigError(f"notebook {raw!r} {problem}; chapters in {TOC_FILE}: {', '.join(chapters)}")
        if matches[0] not in resolved:
            resolved.append(matches[0])
    return resolved
