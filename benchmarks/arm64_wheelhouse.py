"""Print edge-vc's dependency closure as ``name==version`` (the versions installed here).

    python benchmarks/arm64_wheelhouse.py pyproject.toml [setup.sh] [--extras a,b] [--also c,d]

With ``setup.sh``, the extras its device install uses (``pip install -e ".[a,b]"``, last one in the
file) are included; ``--extras`` names them instead (``consent,learned`` for ``setup.sh runtime``),
and ``--also`` adds extras to either (``tflite`` for the LiteRT check). Used by arm64_check.sh to
fill an aarch64 wheelhouse on the host: markers are evaluated for Linux aarch64 / CPython 3.11 and
versions pinned to this environment's, so the emulated root installs the same versions with no network.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata

import tomllib
from packaging.requirements import Requirement

ENV = {"platform_machine": "aarch64", "sys_platform": "linux", "platform_system": "Linux", "python_version": "3.11"}


def _applies(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**ENV, "extra": e}) for e in extras | {""})


def closure(requirements: list[Requirement]) -> dict[str, str]:
    """name -> installed version for the requirements and everything they pull in."""
    pinned: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(r, set()) for r in requirements]
    while todo:
        req, parent_extras = todo.pop()
        if not _applies(req, parent_extras):
            continue
        name = req.name.lower().replace("_", "-")
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        dist = metadata.distribution(req.name)
        pinned[name] = dist.version
        todo.extend((Requirement(r), set(req.extras)) for r in dist.requires or [])
    return pinned


def device_extras(setup_sh: str) -> list[str]:
    """Extras of the last ``-e ".[...]"`` install in the set-up script."""
    with open(setup_sh) as f:
        found = re.findall(r'-e\s+"?\.\[([^\]]+)\]', f.read())
    return [e.strip() for e in found[-1].split(",")] if found else []


if __name__ == "__main__":
    args = sys.argv[1:]
    options: dict[str, list[str]] = {}
    for flag in ("--extras", "--also"):
        if flag in args:
            at = args.index(flag)
            options[flag] = [e.strip() for e in args[at + 1].split(",") if e.strip()]
            del args[at : at + 2]
    chosen = options.get("--extras")
    with open(args[0], "rb") as f:
        project = tomllib.load(f)["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    extras = chosen if chosen is not None else device_extras(args[1]) if len(args) > 1 else []
    extras += options.get("--also", [])
    for extra in extras:
        reqs += [Requirement(r) for r in project.get("optional-dependencies", {}).get(extra, [])]
    for name, version in sorted(closure(reqs).items()):
        if name != "edge-vc":
            print(f"{name}=={version}")
