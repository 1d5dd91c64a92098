"""Print the runtime dependency closure of edge-vc as ``name==version`` (the versions installed here).

Used by arm64_check.sh to fill an aarch64 wheelhouse on the host: markers are evaluated for Linux
aarch64 / CPython 3.11, versions pinned to this environment's, so the emulated root installs the
same versions with no network.
"""

from __future__ import annotations

import sys
from importlib import metadata

import tomllib
from packaging.requirements import Requirement

ENV = {"platform_machine": "aarch64", "sys_platform": "linux", "platform_system": "Linux", "python_version": "3.11"}


def closure(requirements: list[str]) -> dict[str, str]:
    pinned: dict[str, str] = {}
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({**ENV, "extra": ""}):
            continue
        name = req.name.lower().replace("_", "-")
        if name in pinned:
            continue
        dist = metadata.distribution(req.name)
        pinned[name] = dist.version
        todo.extend(Requirement(r) for r in dist.requires or [])
    return pinned


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    for name, version in sorted(closure(deps).items()):
        print(f"{name}=={version}")
