"""Import-boundary check for edge-vc (standard library only; run with the project's venv python).

    .venv/bin/python .ci/check_boundaries.py            # every check
    .venv/bin/python .ci/check_boundaries.py --no-run   # static checks only (no model run)
    .venv/bin/python .ci/check_boundaries.py --python /tmp/v/bin/python   # run check against a wheel install

Checks (see docs/architecture.md for the rules):
  packages  pyproject's ``packages`` list names exactly the package folders (every folder with
            ``__init__.py`` under the package-dir roots), no folder of .py files lacks ``__init__.py``, and
            every other file in a package folder matches a package-data pattern (or is in NOT_SHIPPED);
  foreign   packaged modules never import ``tests``, ``scripts`` or ``benchmarks``;
  paths     packaged modules never climb out of their package from ``__file__`` (repo-relative paths);
  cycles    no import cycle among project modules, counting imports inside functions (lazy) and
            ``importlib.import_module`` of literal module names; ``if TYPE_CHECKING:`` imports do not count,
            nor does the implicit import of a module's parent packages;
  runtime   runtime modules (``edge_vc`` without ``edge_vc.export/models/train`` and the toolchain commands)
            never import the toolchain or torch, at module level or lazily; the toolchain commands
            (``edge_vc.commands.adapt/export/eval``) import them only inside functions;
  run       in a subprocess, enrolling a sample, ``edge-vc say``, ``edge_vc.load()`` with the base voice and
            with a DSP profile speak, and afterwards no toolchain module and no torch is loaded.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

from boundaries_packaging import REPO, check_package_data, check_packages, load_pyproject, package_folders
from boundaries_run import check_run

TOOLCHAIN = ("edge_vc.export", "edge_vc.models", "edge_vc.train")
TOOLCHAIN_COMMANDS = ("edge_vc.commands.adapt", "edge_vc.commands.export", "edge_vc.commands.eval")
FOREIGN = ("tests", "scripts", "benchmarks")
HEAVY = ("torch", "torchaudio", "tensorflow", "tf_keras", "onnx2tf", "resemblyzer")
"""Third-party packages of the export/train extras that the runtime must never import."""


@dataclass
class Import:
    target: str
    """Project module (most specific match) or the external top-level name."""
    line: int
    lazy: bool
    """Inside a function (runs only when called)."""
    project: bool


@dataclass
class Module:
    name: str
    path: Path
    imports: list[Import] = field(default_factory=list)

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"

    def where(self, line: int) -> str:
        return f"{self.path.relative_to(REPO)}:{line}"


def in_group(name: str, groups: tuple[str, ...]) -> bool:
    return any(name == g or name.startswith(g + ".") for g in groups)


def module_map(packages: dict[str, Path]) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for package, folder in packages.items():
        for py in sorted(folder.glob("*.py")):
            name = package if py.name == "__init__.py" else f"{package}.{py.stem}"
            modules[name] = Module(name, py)
    return modules


class _ImportVisitor(ast.NodeVisitor):
    def __init__(self, module: Module, known: set[str]):
        self.module, self.known = module, known
        self.depth = 0
        self.import_module_calls: list[bool] = []  # lazy flag of each importlib.import_module call
        self.strings: list[tuple[str, int]] = []

    def resolve(self, dotted: str, names: list[str] | None) -> list[str]:
        """Project modules named by ``import dotted`` / ``from dotted import names``; else the top-level name."""
        if names:
            subs = [f"{dotted}.{n}" for n in names if f"{dotted}.{n}" in self.known]
            if len(subs) == len(names):
                return subs
            return [*subs, self.longest(dotted)]
        return [self.longest(dotted)]

    def longest(self, dotted: str) -> str:
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            candidate = ".".join(parts[:i])
            if candidate in self.known:
                return candidate
        return parts[0]

    def add(self, targets: list[str], line: int) -> None:
        for target in targets:
            if target != self.module.name:
                self.module.imports.append(Import(target, line, self.depth > 0, target in self.known))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.add(self.resolve(alias.name, None), node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module == "__future__":
            return
        base = node.module or ""
        if node.level:
            package = self.module.name if self.module.is_package else self.module.name.rpartition(".")[0]
            parts = package.split(".")
            anchor = ".".join(parts[: len(parts) - node.level + 1])
            base = f"{anchor}.{base}" if base else anchor
        self.add(self.resolve(base, [a.name for a in node.names if a.name != "*"]), node.lineno)

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            for child in node.orelse:
                self.visit(child)
            return  # annotations only: not an import at run time
        self.generic_visit(node)

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("import_module", "__import__"):
            self.import_module_calls.append(self.depth > 0)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and node.value in self.known:
            self.strings.append((node.value, node.lineno))


def parse_imports(modules: dict[str, Module]) -> list[str]:
    problems = []
    known = set(modules)
    for module in modules.values():
        try:
            tree = ast.parse(module.path.read_text(encoding="utf-8"), str(module.path))
        except SyntaxError as exc:
            problems.append(f"{module.where(exc.lineno or 0)}: syntax error: {exc.msg}")
            continue
        visitor = _ImportVisitor(module, known)
        visitor.visit(tree)
        if visitor.import_module_calls:  # literal module names a dynamic import may load
            lazy = all(visitor.import_module_calls)
            for name, line in visitor.strings:
                if name != module.name:
                    module.imports.append(Import(name, line, lazy, True))
    return problems


def check_foreign(modules: dict[str, Module]) -> list[str]:
    return [
        f"{m.where(i.line)}: packaged module {m.name} imports {i.target!r}, which is not installed "
        "(move the code into the package)"
        for m in modules.values()
        for i in m.imports
        if not i.project and i.target in FOREIGN
    ]


def _climbs(node: ast.AST) -> int | None:
    """How many folders an expression climbs from ``__file__`` (None if it is not such a path)."""
    ups = 0
    while True:
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            ups, node = ups + 1, node.value
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int)
        ):
            ups, node = ups + node.slice.value + 1, node.value.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "resolve":
            node = node.func.value
        elif isinstance(node, ast.Call) and _name(node.func) in ("dirname", "abspath", "realpath") and node.args:
            ups, node = ups + (_name(node.func) == "dirname"), node.args[0]
        elif isinstance(node, ast.Call) and _name(node.func) == "Path" and len(node.args) == 1:
            node = node.args[0]
        elif isinstance(node, ast.Name) and node.id == "__file__":
            return ups
        else:
            return None


def _name(func: ast.AST) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def check_paths(modules: dict[str, Module], package_dir: dict[str, str]) -> list[str]:
    """``Path(__file__).parent...`` may reach the package-dir root it lives under, never above it."""
    problems = []
    for module in modules.values():
        root = next(
            REPO / folder
            for name, folder in sorted(package_dir.items(), key=lambda kv: -len(kv[0]))
            if in_group(module.name, (name,))
        )
        allowed = len(module.path.relative_to(root).parts)
        tree = ast.parse(module.path.read_text(encoding="utf-8"))
        seen: set[int] = set()
        for node in ast.walk(tree):
            ups = _climbs(node) if isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)) else None
            if ups is not None and ups > allowed and node.lineno not in seen:
                seen.add(node.lineno)
                problems.append(
                    f"{module.where(node.lineno)}: path climbs {ups} folders from __file__, out of the installed "
                    f"package (at most {allowed} here): read shipped files with importlib.resources and write to "
                    "edge_vc.paths.cache_dir() or a required --out"
                )
    return problems


def find_cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    graph = {name: sorted({i.target for i in m.imports if i.project}) for name, m in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(graph[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


def _cycle_path(component: list[str], modules: dict[str, Module]) -> list[str]:
    """One shortest cycle through the component's first module, as 'a -> b (file:line, lazy)' steps."""
    members = set(component)
    start = component[0]
    previous: dict[str, tuple[str, Import]] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for imp in modules[node].imports:
                if not imp.project or imp.target not in members:
                    continue
                if imp.target == start:
                    steps, cur, last = [], node, imp
                    while True:
                        kind = "lazy" if last.lazy else "module level"
                        steps.append(f"{cur} -> {last.target} ({modules[cur].where(last.line)}, {kind})")
                        if cur == start:
                            return steps[::-1]
                        cur, last = previous[cur]
                if imp.target not in previous and imp.target != start:
                    previous[imp.target] = (node, imp)
                    nxt.append(imp.target)
        frontier = nxt
    return []


def check_cycles(modules: dict[str, Module]) -> list[str]:
    problems = []
    for component in find_cycles(modules):
        steps = "\n      ".join(_cycle_path(component, modules))
        problems.append(
            f"import cycle among {', '.join(component)}:\n      {steps}\n    "
            "move what both need into a third module (a lazy import only hides a cycle)"
        )
    return problems


def check_runtime(modules: dict[str, Module]) -> list[str]:
    problems = []
    for module in modules.values():
        if in_group(module.name, TOOLCHAIN):
            continue
        command = in_group(module.name, TOOLCHAIN_COMMANDS)
        for imp in module.imports:
            toolchain = imp.project and in_group(imp.target, TOOLCHAIN)
            heavy = not imp.project and imp.target in HEAVY
            if not (toolchain or heavy):
                continue
            what = f"the toolchain module {imp.target}" if toolchain else imp.target
            if not command:
                problems.append(
                    f"{module.where(imp.line)}: runtime module {module.name} imports {what}"
                    f"{' (lazily)' if imp.lazy else ''}: the runtime must work without the export/train extras"
                )
            elif not imp.lazy:
                problems.append(
                    f"{module.where(imp.line)}: toolchain command {module.name} imports {what} at module level: "
                    "import it inside the command function, so the CLI loads it only when that command runs"
                )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="skip the subprocess run check")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the run check (e.g. a wheel's venv)")
    args = parser.parse_args()
    listed, package_dir, package_data = load_pyproject()
    found, orphans = package_folders(package_dir)
    modules = module_map({n: p for n, p in found.items()})
    results = {"packages": check_packages(listed, found, orphans) + check_package_data(found, package_data)}
    results["syntax"] = parse_imports(modules)
    results["foreign"] = check_foreign(modules)
    results["paths"] = check_paths(modules, package_dir)
    results["cycles"] = check_cycles(modules)
    results["runtime"] = check_runtime(modules)
    if not args.no_run:
        results["run"] = check_run(args.python, HEAVY)
    failed = 0
    for name, problems in results.items():
        for problem in problems:
            print(f"check_boundaries [{name}]: {problem}", file=sys.stderr)
        failed += len(problems)
    edges = sum(len(m.imports) for m in modules.values())
    if failed:
        print(f"check_boundaries: {failed} problem(s); rules: docs/architecture.md", file=sys.stderr)
        return 1
    print(f"check_boundaries: ok ({len(modules)} modules, {edges} imports, checks: {', '.join(results)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
