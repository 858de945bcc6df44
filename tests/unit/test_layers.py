"""The import rules of docs/architecture.md, checked over the source of every module."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.service import REPO

# Layers by module prefix; the longest prefix that matches names a module's layer.
LAYERS = {
    "bot": "root",  # the package itself (its __init__)
    "bot.zalo": "zalo",
    "bot.db": "platform",
    "bot.oa": "platform",
    "bot.inbound": "platform",
    "bot.outbound": "platform",
    "bot.directory": "platform",
    "bot.web": "platform",
    "bot.text": "platform",
    "bot.clock": "platform",
    "bot.config": "platform",
    "bot.aio": "platform",
    "bot.keys": "root",
    "bot.runtime": "root",
    "bot.jobs": "root",
    "bot.app": "root",
    "bot.__main__": "root",
    "bot.sandbox": "sandbox",
    "bot.chat": "chat",
    "broadcasts": "broadcasts",
}
# What each layer may import, besides itself.
ALLOWED = {
    "zalo": set(),
    "platform": {"zalo"},
    "chat": {"zalo", "platform"},
    "sandbox": {"zalo", "platform", "chat"},
    "broadcasts": {"zalo", "platform", "chat"},
    "root": {"zalo", "platform", "chat", "sandbox", "broadcasts"},
}
# The typed keys on the aiohttp application name the runtime's type; routes read them. The
# announcements still take the whole Runtime where they need a few of its parts.
EXEMPT = {
    ("platform", "bot.keys"),
    ("chat", "bot.keys"),
    ("broadcasts", "bot.keys"),
    ("broadcasts", "bot.runtime"),
}


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name, or None for modules outside ours."""
    best = max(
        (p for p in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None
    )
    return LAYERS[best] if best else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in a module's source, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from bot import jobs` imports the module bot.jobs
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def violations(module: str, source: str) -> list[str]:
    """Every import of `module` that its layer may not make."""
    own = layer_of(module)
    assert own is not None, f"{module} has no layer: add it to LAYERS"
    problems = []
    for line, imported in imports_of(source):
        theirs = layer_of(imported)
        exempt = any(
            own == layer and (imported == m or imported.startswith(m + ".")) for layer, m in EXEMPT
        )
        if theirs is None or theirs == own or exempt:
            continue
        if theirs not in ALLOWED[own]:
            problems.append(f"{module}:{line} ({own}) imports {imported} ({theirs})")
    return problems


# Inside the announcements, the domain (campaigns, approval, delivery, …) knows nothing of how it
# is driven: only its Zalo handlers (broadcasts.chat) and its setup read inbound events, and no
# domain module imports the handlers or the commands (broadcasts.cli).
ADAPTERS = ("broadcasts.chat", "broadcasts.cli", "broadcasts.setup")
# What a chat handler holds; the inbox's rows (bot.inbound.models) are data, which privacy blanks.
DRIVING = ("bot.inbound.context", "bot.inbound.events", "bot.inbound.dispatch")


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def feature_violations(module: str, source: str) -> list[str]:
    """Imports that break the announcements' own rule: the domain imports no adapter."""
    if not _under(module, "broadcasts") or any(_under(module, a) for a in ADAPTERS):
        return []
    return [
        f"{module}:{line} imports {imported}"
        for line, imported in imports_of(source)
        if any(_under(imported, a) for a in (*DRIVING, *ADAPTERS))
    ]


def sources() -> list[tuple[str, str]]:
    paths = [*(REPO / "bot").rglob("*.py"), *(REPO / "broadcasts").rglob("*.py")]
    return [
        (module_name(p), p.read_text())
        for p in sorted(paths)
        if "migrations" not in p.parts and "templates" not in p.parts
    ]


def test_every_module_keeps_to_its_layer() -> None:
    problems = [v for module, source in sources() for v in violations(module, source)]
    assert problems == []


def test_the_announcements_domain_imports_none_of_its_adapters() -> None:
    problems = [v for module, source in sources() for v in feature_violations(module, source)]
    assert problems == []


def test_the_rules_catch_what_they_forbid() -> None:
    # Each rule of docs/architecture.md, broken once.
    assert violations("bot.zalo.client", "from bot.outbound.outbox import queue_message\n")
    assert violations("bot.inbound.processor", "from bot.chat.conversation import on_text\n")
    assert violations("bot.outbound.outbox", "import broadcasts.models\n")
    assert violations("bot.chat.conversation", "from broadcasts import approval\n")
    assert violations("bot.db.engine", "def f():\n    from bot import app\n")
    assert not violations("bot.chat.conversation", "from bot.inbound.context import Context\n")
    assert not violations("bot.app", "from broadcasts import setup\n")
    assert feature_violations("broadcasts.approval", "from bot.inbound.context import Context\n")
    assert feature_violations("broadcasts.campaigns", "from broadcasts.chat import posting\n")
    assert feature_violations("broadcasts.delivery", "from broadcasts.cli import campaigns\n")
    assert not feature_violations("broadcasts.chat.reach", "from bot.inbound.context import X\n")
    assert not feature_violations("broadcasts.setup", "from broadcasts import chat\n")
