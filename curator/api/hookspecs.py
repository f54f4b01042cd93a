"""The plugin hooks. Each hook receives a ``register`` callback and calls it once per object.

Objects are instances of the types in :mod:`curator.api`; every one has a ``name`` and a
``version``. Two plugins registering the same name under the same hook is an error naming both.
"""

import pluggy

hookspec = pluggy.HookspecMarker("curator")
hookimpl = pluggy.HookimplMarker("curator")


@hookspec
def register_verifiers(register):
    """Register :class:`curator.api.Verifier` objects (certifiers and attacks) by name."""


@hookspec
def register_scrapers(register):
    """Register :class:`curator.api.Scraper` objects that resolve paper references to metadata."""


@hookspec
def register_importers(register):
    """Register :class:`curator.api.Importer` objects that turn foreign leaderboards into entries."""


@hookspec
def register_datasets(register):
    """Register :class:`curator.api.Dataset` objects that load test inputs and labels."""


@hookspec
def register_architectures(register):
    """Register :class:`curator.api.Architecture` objects: a name and kwargs become an ``nn.Module``."""
