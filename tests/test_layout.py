"""Domain packages never import the adapters (web, workers, CLI)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "newsletter"
ADAPTERS = ("workers", "newsletter.web", "newsletter.cli")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_domain_modules_do_not_import_adapters() -> None:
    offenders = []
    domain_files = [
        path
        for path in PACKAGE.rglob("*.py")
        if "web" not in path.relative_to(PACKAGE).parts and path.name != "cli.py"
    ]
    assert domain_files
    for path in domain_files:
        for module in imported_modules(path):
            if module.startswith(ADAPTERS):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert offenders == []


def rooms_imported_by_room() -> dict[str, set[str]]:
    # A room is a package or a top-level module of `newsletter`; an edge means some domain file of the
    # first imports the second (a room's `cli.py` is an adapter, like the web and the workers).
    rooms = {
        path.stem for path in PACKAGE.iterdir() if path.suffix == ".py" or (path / "__init__.py").exists()
    }
    edges: dict[str, set[str]] = {room: set() for room in rooms}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "cli.py":
            continue
        room = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for module in imported_modules(path) | names_imported_from_package(path):
            parts = module.split(".")
            if parts[0] == "newsletter" and len(parts) > 1 and parts[1] in rooms and parts[1] != room:
                edges[room].add(parts[1])
    return edges


def names_imported_from_package(path: Path) -> set[str]:
    # `from newsletter import links` imports the room `newsletter.links`.
    return {
        f"newsletter.{alias.name}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module == "newsletter"
        for alias in node.names
    }


def test_no_two_rooms_import_each_other_even_through_a_third() -> None:
    edges = rooms_imported_by_room()
    assert edges["mail"] and edges["subscribers"]

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        stack = [start]
        while stack:
            for room in edges[stack.pop()]:
                if room not in seen:
                    seen.add(room)
                    stack.append(room)
        return seen

    assert [room for room in sorted(edges) if room in reachable(room)] == []
