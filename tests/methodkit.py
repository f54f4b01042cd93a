"""Third-party-style verifiers and attacks for host tests, registered through the plugin host as an
outside distribution would register them."""

import torch

from curator.api import SampleResult, Verifier, hookimpl
from curator.api.registry import PluginHost


class CertifyEverything(Verifier):
    """A broken deterministic verifier: certifies every sample at every radius."""
    name = "certify-everything"
    version = "0.0.1"
    certification = "deterministic"

    def verify(self, task):
        with torch.no_grad():
            pred = task.model(task.inputs).argmax(1)
        return [SampleResult(i, int(y), int(p), "certified", 0.0) for i, y, p in zip(task.indices, task.labels, pred, strict=True)]


def host_with(*objects, name="third-party"):
    """The installed plugins plus one plugin that registers ``objects`` through ``register_verifiers``."""

    class Plugin:
        @staticmethod
        @hookimpl
        def register_verifiers(register):
            for obj in objects:
                register(obj)

    host = PluginHost()
    host.load_entry_points()
    host.add_plugin(Plugin(), name, version="0.0.1")
    return host
