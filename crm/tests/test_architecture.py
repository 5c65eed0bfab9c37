"""How the project's modules depend on each other: no import cycles (imports inside functions
included), `clients` never needs `whatsapp`, the webhook's modules form a line from the HTTP edge to
the models, and no migration imports a module that can change later."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "clients", "crm", "jobs", "whatsapp")

# None: the client page's conversation, reply and export are WhatsApp's (whatsapp/admin_views.py),
# added to the client admin by whatsapp/admin.py.
KNOWN_CLIENTS_ON_WHATSAPP: set[str] = set()

# The webhook, from the HTTP edge down to the models: each module imports only those below it.
WEBHOOK_LINE = [
    {"whatsapp.webhook"},
    {"whatsapp.services"},
    {"whatsapp.fast_path"},
    {"whatsapp.kinds"},
    {"whatsapp.messages"},
    {"whatsapp.statuses", "whatsapp.instances", "whatsapp.media", "whatsapp.hours"},
    {"whatsapp.rows", "whatsapp.logs"},
    {"whatsapp.notifications"},
    {"whatsapp.content"},
    {"whatsapp.fields"},
    {"whatsapp.models"},
]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules(root: Path, apps: tuple[str, ...], *, migrations: bool = False) -> dict[str, Path]:
    """Every module of the apps but their tests (and, unless asked, their migrations)."""
    found = {}
    for app in apps:
        for path in (root / app).rglob("*.py"):
            parts = path.relative_to(root).parts
            if "tests" in parts or "testing" in parts or ("migrations" in parts) != migrations:
                continue
            found[module_name(path, root)] = path
    return found


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules `path` imports, wherever the import statement is (a function's too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            # `from whatsapp import fast_path` imports the module whatsapp.fast_path.
            targets.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names)
    return {target for target in targets if target in known and target != name}


def import_graph(root: Path = ROOT, apps: tuple[str, ...] = APPS) -> dict[str, set[str]]:
    modules = project_modules(root, apps)
    return {name: imports(path, name, set(modules)) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert cycles(import_graph()) == []


def test_the_check_finds_a_cycle_hidden_inside_a_function(tmp_path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "a.py").write_text("from app import b\n")
    (app / "b.py").write_text("def f():\n    from app.a import thing\n")
    (app / "c.py").write_text("import app.a\n")
    assert cycles(import_graph(tmp_path, ("app",))) == [["app.a", "app.b"]]


def test_clients_imports_nothing_from_whatsapp() -> None:
    graph = import_graph()
    uses = {
        (name, target)
        for name, targets in graph.items()
        if name.startswith("clients") and name not in KNOWN_CLIENTS_ON_WHATSAPP
        for target in targets
        if target.startswith("whatsapp")
    }
    assert uses == set()


def test_the_webhooks_modules_form_a_line_from_the_http_edge_to_the_models() -> None:
    graph = import_graph()
    layer = {name: depth for depth, names in enumerate(WEBHOOK_LINE) for name in names}
    assert set(layer) <= set(graph), "a module of the line was renamed: update WEBHOOK_LINE"
    upward = [
        (name, target) for name in layer for target in graph[name] if target in layer and layer[target] <= layer[name]
    ]
    assert upward == []


# Django writes a manager that declares use_in_migrations into the model's migration; it serves only
# RunPython code, which that migration has none of.
MIGRATION_IMPORTS_DJANGO_WRITES = {"accounts.migrations.0001_initial": {"accounts.models"}}


def test_no_migration_imports_a_module_that_can_change() -> None:
    # A migration runs as it was written, forever: trigger SQL that lives in a module would change
    # under migrations already applied, and a fresh database would get the new SQL from the old step.
    migrations = project_modules(ROOT, APPS, migrations=True)
    project = set(project_modules(ROOT, APPS)) | set(migrations)
    offenders = {}
    for name, path in migrations.items():
        used = imports(path, name, project) - set(migrations) - MIGRATION_IMPORTS_DJANGO_WRITES.get(name, set())
        if used:
            offenders[name] = used
    assert offenders == {}
