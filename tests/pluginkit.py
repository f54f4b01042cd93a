"""Third-party-style plugins for tests: a module of ``@hookimpl`` functions, the kind of object a
distribution's entry point loads, built from the objects each hook registers."""

from __future__ import annotations

import types

from curator.api import hookimpl


def plugin_module(name: str, **hooks: list) -> types.ModuleType:
    """A module named ``name`` whose hook ``h`` (``register_verifiers``, …) registers ``hooks[h]``."""
    module = types.ModuleType(name)
    for hook, objs in hooks.items():
        def impl(register, _objs=objs):
            for obj in _objs:
                register(obj)

        impl.__name__ = hook
        setattr(module, hook, hookimpl(impl))
    return module
