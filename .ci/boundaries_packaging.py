"""Packaging checks of .ci/check_boundaries.py: pyproject's packages list and package data (stdlib only)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    sys.exit("check_boundaries: needs Python >= 3.11 (tomllib); run it with the project's .venv/bin/python")

REPO = Path(__file__).resolve().parent.parent
NOT_SHIPPED = ("firmware_bridge/c", "firmware_bridge/sketches")
"""Repo-only folders inside package folders (microcontroller sources, built and tested from the repo)."""


def load_pyproject() -> tuple[list[str], dict[str, str], dict[str, list[str]]]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    setup = data.get("tool", {}).get("setuptools", {})
    packages = setup.get("packages")
    if not isinstance(packages, list):
        sys.exit("check_boundaries: pyproject.toml needs an explicit [tool.setuptools] packages list")
    return packages, dict(setup.get("package-dir", {})), dict(setup.get("package-data", {}))


def package_folders(package_dir: dict[str, str]) -> tuple[dict[str, Path], list[Path]]:
    """Dotted package name → folder, for every folder with __init__.py under each package-dir root;
    and the folders of .py files without __init__.py (they would silently not be installed)."""
    found: dict[str, Path] = {}
    orphans: list[Path] = []
    for name, folder in package_dir.items():
        root = REPO / folder
        for init in sorted(root.rglob("__init__.py")):
            rel = init.parent.relative_to(root)
            if "__pycache__" in rel.parts:
                continue
            found[".".join((name, *rel.parts))] = init.parent
        for py in sorted(root.rglob("*.py")):
            folder_path = py.parent
            if "__pycache__" in folder_path.parts or (folder_path / "__init__.py").is_file():
                continue
            if folder_path not in orphans:
                orphans.append(folder_path)
    # A root mapped inside another root (none today) would be found twice; the explicit mapping wins.
    return found, orphans


def check_packages(listed: list[str], found: dict[str, Path], orphans: list[Path]) -> list[str]:
    problems = []
    for name in sorted(set(found) - set(listed)):
        problems.append(
            f"pyproject.toml: package folder {found[name].relative_to(REPO)} ({name}) is missing from "
            "[tool.setuptools] packages: it would not be installed"
        )
    for name in sorted(set(listed) - set(found)):
        problems.append(f"pyproject.toml: [tool.setuptools] packages lists {name}, but no such folder with __init__.py")
    for folder in orphans:
        problems.append(
            f"{folder.relative_to(REPO)}: has .py files but no __init__.py, so it is not installed "
            "(add __init__.py and list it in pyproject.toml)"
        )
    return problems


def check_package_data(found: dict[str, Path], package_data: dict[str, list[str]]) -> list[str]:
    """Files in package folders (outside sub-packages) that no package-data pattern ships, except NOT_SHIPPED."""
    problems = []
    package_dirs = set(found.values())
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO, capture_output=True
    )  # files git tracks or would track: ignored build/cache outputs do not count
    candidates = (
        sorted(REPO / n for n in listed.stdout.decode().split("\0") if n)
        if listed.returncode == 0
        else sorted(REPO.rglob("*"))
    )
    for name, folder in sorted(found.items()):
        patterns = [*package_data.get("*", []), *package_data.get(name, [])]
        shipped = {f for pattern in patterns for f in folder.glob(pattern)}
        missing = []
        for path in candidates:
            if folder not in path.parents:
                continue
            rel = path.relative_to(REPO).as_posix()
            if path.is_dir() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            if any(rel == n or rel.startswith(n + "/") for n in NOT_SHIPPED):
                continue
            if any(parent in package_dirs for parent in path.parents if folder in parent.parents):
                continue  # belongs to a sub-package, checked there
            if path not in shipped:
                missing.append(path.relative_to(folder).as_posix())
        if missing:
            problems.append(
                f"{folder.relative_to(REPO)}: {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''} match no "
                f"[tool.setuptools.package-data] pattern of {name}, so a wheel would lack them (add a pattern, or "
                "NOT_SHIPPED in .ci/boundaries_packaging.py for repo-only files)"
            )
    return problems
