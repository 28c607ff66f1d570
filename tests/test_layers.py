"""The apps' layering, read from the source: every import between ops_console's
apps points one way (views -> domain -> audit), only audit touches the chain's
head, and no code reaches an app's models through the app registry instead of
importing them."""
import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ops_console"
APPS = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}


def modules():
    """(path, its app or None for the project's own modules, its dotted name, its tree), migrations left out."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if "migrations" in parts:
            continue
        app = parts[0] if len(parts) > 1 else None
        dotted = ".".join(("ops_console", *path.relative_to(PACKAGE).with_suffix("").parts))
        yield path, app, dotted, ast.parse(path.read_text(), str(path))


def imported(node, dotted, is_package):
    """The dotted names an import statement reads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if not node.level:
        return [node.module or ""]
    base = dotted.split(".")
    base = base[:len(base) - node.level + (1 if is_package else 0)]
    return [".".join([*base, *([node.module] if node.module else [])])]


def app_imports():
    """{(importing app, imported app): ["path:line module", ...]} across apps."""
    edges = defaultdict(list)
    for path, app, dotted, tree in modules():
        for node in ast.walk(tree):
            for name in imported(node, dotted, path.name == "__init__.py"):
                parts = name.split(".")
                if app and parts[0] == "ops_console" and len(parts) > 1 and parts[1] in APPS and parts[1] != app:
                    edges[app, parts[1]].append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {name}")
    return edges


def cycles(edges):
    """Every cycle of apps, each as [a, b, ..., a] (found by depth-first search from each app)."""
    graph = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    found = set()

    def walk(path):
        for nxt in sorted(graph[path[-1]]):
            if nxt == path[0]:
                smallest = path.index(min(path))
                found.add(tuple(path[smallest:] + path[:smallest]))
            elif nxt not in path and nxt > path[0]:
                walk(path + [nxt])

    for app in sorted(graph):
        walk([app])
    return [[*cycle, cycle[0]] for cycle in sorted(found)]


def test_no_app_imports_an_app_that_imports_it_back():
    edges = app_imports()
    problems = []
    for cycle in cycles(edges):
        problems.append(" -> ".join(cycle))
        for a, b in zip(cycle, cycle[1:]):
            problems += [f"    {line}" for line in edges[a, b]]
    assert not problems, "imports run both ways between apps:\n" + "\n".join(problems)


def test_incidents_announce_and_escalation_listens():
    """incidents sends signals (incidents/signals.py); escalation imports incidents, never the reverse."""
    edges = app_imports()
    assert edges["incidents", "escalation"] == []
    assert edges["escalation", "incidents"]


def test_monitoring_sits_below_incidents_and_runbooks():
    edges = app_imports()
    assert edges["monitoring", "incidents"] == [] and edges["monitoring", "runbooks"] == []


def test_only_the_audit_app_touches_the_chain_head():
    """The chain's lock order is audit's to keep (audit.log.atomic): nobody else locks its head by hand."""
    found = []
    for path, app, _, tree in modules():
        if app == "audit":
            continue
        for node in ast.walk(tree):
            names = [alias.name for alias in node.names] if isinstance(node, ast.ImportFrom) else []
            if "ChainHead" in names or (isinstance(node, ast.Attribute) and node.attr == "ChainHead") \
                    or (isinstance(node, ast.Name) and node.id == "ChainHead"):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not found, "the chain head touched outside the audit app:\n" + "\n".join(found)


def test_no_models_looked_up_through_the_app_registry():
    """Models are imported. apps.get_model only where a function is handed a
    registry (`apps`) so that a data migration can pass its historical models."""
    found = []
    for path, _, _, tree in modules():
        found += registry_lookups(tree, path)
    assert not found, "apps.get_model outside migrations and migration helpers:\n" + "\n".join(found)


def registry_lookups(tree, path):
    def visit(node, params):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            params = params | {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get_model":
            receiver = node.func.value
            if not (isinstance(receiver, ast.Name) and receiver.id in params):
                yield f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
        for child in ast.iter_child_nodes(node):
            yield from visit(child, params)

    return list(visit(tree, frozenset()))
