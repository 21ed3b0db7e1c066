"""The package's layers (docs/ARCHITECTURE.md, "Layers"): no import cycle and no upward
import, counting module-level, function-level and TYPE_CHECKING imports; plugins import
only the public API (`nvr_edge`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nvr_edge"
# Lowest first. A module may import its own layer and those below it, never above.
LAYERS = ("foundation", "encode", "catalog", "storage", "live", "camera", "discovery", "appliance",
          "update", "cli")
# Protocol-only leaves the hook specs name for type checkers (TYPE_CHECKING only).
ALLOWED_UPWARD = {("nvr_edge.hookspecs", "nvr_edge.catalog"),
                  ("nvr_edge.hookspecs", "nvr_edge.storage.writer"),
                  ("nvr_edge.hookspecs", "nvr_edge.encode.offer"),
                  ("nvr_edge.api", "nvr_edge.live.wire")}
# The package's face re-exports from every layer it offers to plugins; `python -m nvr_edge`
# is the program itself. Both stand above every layer.
FACE = "nvr_edge"
TOP = {FACE, "nvr_edge.__main__"}
# Distributions under plugins/ that are tools, not firmware (simulated cameras, demo,
# benchmarks, the test kit): they drive the engine itself, so they may import internals.
# The image does not install them (image/scripts/python-lib.sh).
TOOL_DISTRIBUTIONS = ("nvr-edge-testing",)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str) -> set[str]:
    """Every module `path` imports, wherever the import statement stands."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def internal_graph() -> dict[str, set[str]]:
    modules = {module_name(p, PACKAGE): p for p in PACKAGE.rglob("*.py")}

    def resolve(target: str) -> str | None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = {resolve(t) for t in imports_of(path, name) if t.split(".")[0] == "nvr_edge"}
        graph[name] = {e for e in edges if e and e != name and not name.startswith(e + ".")}
    return graph


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()):
        return parts[1]
    return "foundation"


def test_every_subpackage_has_a_layer() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages <= set(LAYERS), f"place {packages - set(LAYERS)} in LAYERS"


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = []
    for module, targets in internal_graph().items():
        if module in TOP:
            continue
        for target in targets:
            if target == FACE:
                upward.append(f"{module} -> nvr_edge (the plugin face; import the module)")
            elif LAYERS.index(layer_of(target)) > LAYERS.index(layer_of(module)) \
                    and not any(module == a and (target == b or target.startswith(b + "."))
                                for a, b in ALLOWED_UPWARD):
                upward.append(f"{module} ({layer_of(module)}) -> {target} "
                              f"({layer_of(target)})")
    assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def test_no_import_cycle() -> None:
    graph = internal_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_the_check_can_fail(tmp_path: Path) -> None:
    """The graph sees an import hidden in a function, so a dodged cycle is still found."""
    module = tmp_path / "nvr_edge" / "config.py"
    module.parent.mkdir()
    module.write_text("def f():\n    from nvr_edge.appliance import supervisor\n")
    assert "nvr_edge.appliance.supervisor" in imports_of(module, "nvr_edge.config")


# First-party plugins and the examples a third-party author copies.
PLUGIN_FOLDERS = (ROOT / "plugins", ROOT / "examples")
PLUGIN_FILES = sorted(p for folder in PLUGIN_FOLDERS for p in folder.glob("*/*/**/*.py")
                      if "tests" not in p.relative_to(folder).parts
                      and p.relative_to(folder).parts[0] not in TOOL_DISTRIBUTIONS)


def test_tool_distributions_exist() -> None:
    """A renamed tool distribution must not silently put its files under the rule."""
    assert all((ROOT / "plugins" / name / "pyproject.toml").exists()
               for name in TOOL_DISTRIBUTIONS)


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_import_only_the_public_api(path: Path) -> None:
    folder = next(f for f in PLUGIN_FOLDERS if path.is_relative_to(f))
    distribution, package = path.relative_to(folder).parts[:2]
    name = module_name(path, folder / distribution / package)
    internal = sorted(t for t in imports_of(path, name)
                      if t.startswith("nvr_edge.") and t.count(".") >= 1)
    # `from nvr_edge import X` yields "nvr_edge.X" for a public name: allowed
    import nvr_edge

    internal = [t for t in internal if t.split(".")[1] not in nvr_edge.__all__]
    assert not internal, f"{path.name} imports internals: {internal} (use `from nvr_edge import`)"
    # nor another plugin: what plugins share goes through a hook (e.g. nvr_token_verifier)
    others = sorted({t.split(".")[0] for t in imports_of(path, name)
                     if t.startswith("nvr_edge_") and t.split(".")[0] != package})
    assert not others, f"{path.name} imports another plugin: {others} (share through a hook)"
