"""The plugin host: loads the ``curator`` entry-point group and collects what plugins register.

Bundled plugins (``plugins/``, installed as ``curator_plugins``) come through the same group as
third-party distributions. A plugin that fails to import is recorded and skipped, so the CLI keeps
working; ``strict=True`` (``curator plugins --strict``) turns that into an error.
"""

from __future__ import annotations

import os
import re
import traceback
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from curator.api import Attack, Registered, Verifier, hookspecs, iter_registered_kinds
from curator.core.errors import CuratorError, PluginError

GROUP = "curator"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass
class PluginInfo:
    name: str
    module: str
    version: str | None
    distribution: str | None
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class LoadFailure:
    name: str
    target: str
    error: str


class Registry:
    """Everything registered, by kind then name, remembering which plugin registered it."""

    def __init__(self) -> None:
        self._objects: dict[str, dict[str, tuple[Registered, str]]] = {k: {} for _, k, _ in iter_registered_kinds()}

    def add(self, kind: str, obj: Registered, plugin: str) -> None:
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise PluginError(f"plugin {plugin!r} registered a {kind} with an invalid name {name!r}")
        if not isinstance(getattr(obj, "version", None), str) or not obj.version:
            raise PluginError(f"plugin {plugin!r} registered {kind} {name!r} without a version string")
        if kind == "verifier":
            try:
                Draft202012Validator.check_schema(obj.params_schema)
            except SchemaError as exc:
                raise PluginError(f"plugin {plugin!r}: verifier {name!r} has an invalid params schema: {exc.message}") from None
        bucket = self._objects[kind]
        if name in bucket:
            other = bucket[name][1]
            raise PluginError(f"{kind} name {name!r} is registered by two plugins: {other!r} and {plugin!r}")
        bucket[name] = (obj, plugin)

    def get(self, kind: str, name: str) -> Registered:
        try:
            return self._objects[kind][name][0]
        except KeyError:
            known = ", ".join(sorted(self._objects[kind])) or "none"
            raise CuratorError(f"unknown {kind} {name!r} (installed: {known})") from None

    def has(self, kind: str, name: str) -> bool:
        return name in self._objects[kind]

    def names(self, kind: str) -> list[str]:
        return sorted(self._objects[kind])

    def all(self, kind: str) -> list[Registered]:
        return [obj for _, (obj, _) in sorted(self._objects[kind].items())]

    # Convenience accessors, used throughout the host.
    def verifier(self, name: str):
        """Whatever ``register_verifiers`` registered under ``name``: a :class:`Verifier` or an
        :class:`Attack`. Where a certificate or an attack is needed, use :meth:`certifier` or
        :meth:`attack`, which refuse the other."""
        return self.get("verifier", name)

    def certifier(self, name: str) -> Verifier:
        """The verifier ``name``; an attack (or a verifier that calls its certificates "attack")
        bounds robust accuracy from above and certifies nothing, so it is refused."""
        obj = self.verifier(name)
        if not isinstance(obj, Verifier) or obj.certification == "attack":
            raise CuratorError(f"{name} is an attack; it certifies nothing")
        return obj

    def attack(self, name: str) -> Attack:
        """The attack ``name``; a verifier is refused."""
        obj = self.verifier(name)
        if not isinstance(obj, Attack):
            raise CuratorError(f"{name} is a verifier, not an attack")
        return obj

    def scraper(self, name: str):
        return self.get("scraper", name)

    def importer(self, name: str):
        return self.get("importer", name)

    def dataset(self, name: str):
        return self.get("dataset", name)

    def architecture(self, name: str):
        return self.get("architecture", name)


class PluginHost:
    """A pluggy manager plus the registry built from it."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.failures: list[LoadFailure] = []
        self._registry: Registry | None = None

    def load_entry_points(self, only: set[str] | None = None, strict: bool = False) -> None:
        for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
            if only is not None and ep.name not in only:
                continue
            if ep.name in self.plugins:
                dist = ep.dist.name if ep.dist else "?"
                err = LoadFailure(ep.name, ep.value, f"entry point name already used by {self.plugins[ep.name].module} (again in {dist})")
                if strict:
                    raise PluginError(f"plugin {ep.name!r}: {err.error}")
                self.failures.append(err)
                continue
            try:
                module = ep.load()
            except Exception as exc:  # any import-time failure of foreign code
                msg = f"{type(exc).__name__}: {exc}"
                if strict:
                    raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: {msg}") from exc
                self.failures.append(LoadFailure(ep.name, ep.value, msg))
                continue
            dist = ep.dist
            self.add_plugin(
                module,
                ep.name,
                version=dist.version if dist else None,
                distribution=dist.name if dist else None,
            )

    def add_plugin(self, module: ModuleType | Any, name: str, version: str | None = None, distribution: str | None = None) -> None:
        """Register a plugin object directly (tests, or embedding curator in another program)."""
        self.pm.register(module, name=name)
        hooks = sorted(impl_name for impl_name in dir(module) if impl_name.startswith("register_") and hasattr(self.pm.hook, impl_name))
        self.plugins[name] = PluginInfo(
            name=name,
            module=getattr(module, "__name__", repr(module)),
            version=version or getattr(module, "__version__", None),
            distribution=distribution,
            hooks=hooks,
        )
        self._registry = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = self._collect()
        return self._registry

    def _collect(self) -> Registry:
        registry = Registry()
        for hook_name, kind, base in iter_registered_kinds():
            caller = getattr(self.pm.hook, hook_name)
            # Call implementations one by one so every object is attributed to its plugin.
            for impl in reversed(caller.get_hookimpls()):
                plugin = self.pm.get_name(impl.plugin) or "?"

                def register(obj: Any, _plugin: str = plugin, _kind: str = kind, _base: type = base,
                             _hook: str = hook_name) -> None:
                    if not isinstance(obj, _base):
                        raise PluginError(f"plugin {_plugin!r} registered {obj!r} under {_hook}, "
                                          f"which takes {_base.__name__} objects")
                    registry.add(_kind, obj, _plugin)
                    self.plugins[_plugin].registered.setdefault(_kind, []).append(obj.name)

                try:
                    impl.function(register=register)
                except PluginError:
                    raise
                except Exception as exc:
                    tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
                    raise PluginError(f"plugin {plugin!r} failed in {hook_name}: {tb}") from exc
        return registry

    def listing(self) -> list[dict[str, Any]]:
        """The ``curator plugins --format json`` document."""
        registry = self.registry
        out = []
        for name in sorted(self.plugins):
            info = self.plugins[name]
            registered = {
                kind: [registry.get(kind, obj_name).describe() for obj_name in sorted(names)]
                for kind, names in sorted(info.registered.items())
            }
            out.append(
                {
                    "name": info.name,
                    "module": info.module,
                    "version": info.version,
                    "distribution": info.distribution,
                    "hooks": info.hooks,
                    "registered": registered,
                }
            )
        return out


_HOST: PluginHost | None = None


def plugins_filter() -> set[str] | None:
    raw = os.environ.get("CURATOR_PLUGINS")
    if raw is None or not raw.strip():
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


def get_host(strict: bool = False, reload: bool = False) -> PluginHost:
    """The process-wide host, loaded once from entry points (honouring ``CURATOR_PLUGINS``)."""
    global _HOST
    if _HOST is None or reload or strict:
        host = PluginHost()
        host.load_entry_points(only=plugins_filter(), strict=strict)
        _HOST = host
    return _HOST


def get_registry() -> Registry:
    return get_host().registry
