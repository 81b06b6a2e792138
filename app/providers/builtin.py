"""Start-up registration of the providers this installation ships, plus configured plugins."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from app.core.config import Settings
from app.providers.enums import ProviderType
from app.providers.external import register_external_providers
from app.providers.local import LocalProvider, local_capabilities
from app.providers.local_image_tools import register_local_image_tools
from app.providers.local_tools import register_local_refiners
from app.providers.registry import ProviderRegistry, registry


def register_builtin_providers(
    target: ProviderRegistry = registry,
    plugins: Iterable[str] = (),
    settings: Settings | None = None,
) -> None:
    """Idempotent: called by every process (API, workers) at start. External providers are
    registered only when their credentials are in `settings`."""
    register_local_image_tools()
    register_local_refiners(target)
    target.register(ProviderType.LOCAL, LocalProvider, capabilities=local_capabilities())
    register_external_providers(target, settings)
    for module_name in plugins:
        module = importlib.import_module(module_name)
        register = getattr(module, "register", None)
        if register is None:
            raise RuntimeError(f"provider plugin {module_name!r} has no register(registry)")
        register(target)
