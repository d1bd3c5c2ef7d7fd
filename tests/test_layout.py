"""The folder layout is the architecture: each folder one concern, every import pointing down.

ARCHITECTURE.md draws the layers; this test keeps the code to them. Lazy imports inside
functions count too: a layer that imports upward only when called is still tangled.
"""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"

# Lowest first. A module may import its own package and any lower layer, never a higher one
# nor another package of its own layer. The top-level modules of bot/ are the kernel that
# everyone may reach (config, models, errors, settings, cache, schedule).
LAYERS: list[set[str]] = [
    {"kernel"},
    {"match"},
    {"stories"},
    {"store"},
    {"ingest"},
    {"render"},
    {"run"},
    {"web"},  # the web dashboard (bot/web/): reads the store, never writes it
    {"telegram"},
    {"cli"},  # the command line (bot/cli/)
    {"entry"},  # __main__.py
]
ENTRY_MODULES = {"bot.__main__"}
MAX_FILE_LINES = 600
MAX_CLASS_LINES = 300


def module_name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(BOT.rglob("*.py"))}


def group(module: str) -> str:
    """The folder a module belongs to ("kernel" for bot's own top-level modules)."""
    if module in ENTRY_MODULES:
        return "entry"
    parts = module.split(".")
    if len(parts) >= 3 or (len(parts) == 2 and (BOT / parts[1]).is_dir()):
        return parts[1]
    return "kernel"


def layer(module: str) -> int:
    name = group(module)
    for n, names in enumerate(LAYERS):
        if name in names:
            return n
    raise AssertionError(f"{module}: folder {name!r} is in no layer of tests/test_layout.py")


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The bot modules a file imports, anywhere in it."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("bot"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not (node.module == "bot" or node.module.startswith("bot.")):
                continue
            for a in node.names:  # `from bot.store import db` names a module
                sub = f"{node.module}.{a.name}"
                out.add(sub if sub in known else node.module)
    return out


def test_every_import_points_down_the_layers() -> None:
    known = modules()
    wrong = []
    for mod, path in known.items():
        for target in imports(path, known):
            if group(target) == group(mod):
                continue
            if layer(target) >= layer(mod):
                wrong.append(f"{mod} ({group(mod)}) imports {target} ({group(target)})")
    assert not wrong, "imports that do not point down:\n" + "\n".join(wrong)


def test_no_import_cycles_between_modules() -> None:
    known = modules()
    graph = {mod: {t for t in imports(path, known) if t in known and t != mod}
             for mod, path in known.items()}
    # a package's __init__ that re-exports its modules is not a cycle with them
    for mod in graph:
        graph[mod] = {t for t in graph[mod] if not mod.startswith(t + ".")}
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(mod: str, trail: list[str]) -> None:
        state[mod] = 1
        for target in sorted(graph[mod]):
            if state.get(target) == 1:
                cycles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[mod] = 2

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [mod])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_every_folder_is_in_a_layer_and_says_what_it_owns() -> None:
    for folder in sorted(p for p in BOT.iterdir() if p.is_dir() and p.name != "__pycache__"):
        assert any(folder.name in names for names in LAYERS), f"bot/{folder.name} has no layer"
        init = folder / "__init__.py"
        assert init.exists(), f"bot/{folder.name} is not a package"
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), (
            f"bot/{folder.name}/__init__.py has no docstring saying what the folder owns")


def test_architecture_md_names_every_module_in_its_folder() -> None:
    """ARCHITECTURE.md is the map: a module it does not name is a module nobody will find."""
    text = (BOT.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    missing = []
    for path in sorted(BOT.rglob("*.py")):
        if path.name == "__init__.py" or "__pycache__" in path.parts:
            continue
        folder = path.parent.name
        if folder != "bot" and f"{folder}/" not in text:
            missing.append(f"bot/{folder}/")
        if path.name not in text:
            missing.append(str(path.relative_to(BOT.parent)))
    assert not missing, "not in ARCHITECTURE.md: " + ", ".join(missing)


def test_no_file_over_600_lines_and_no_class_over_300() -> None:
    big = []
    for path in sorted(BOT.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_FILE_LINES:
            big.append(f"{path.relative_to(BOT.parent)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    big.append(f"{path.relative_to(BOT.parent)}: class {node.name}, {size} lines")
    assert not big, "\n".join(big)
