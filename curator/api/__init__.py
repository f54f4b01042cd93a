"""Curator's public API for plugins.

A plugin is a module exposing ``@hookimpl`` functions (see :mod:`curator.api.hookspecs`) that call
``register(obj)`` with instances of the classes below. Besides this module a plugin may import its
facades — :mod:`curator.api.http`, :mod:`curator.api.data`, :mod:`curator.api.nn`,
:mod:`curator.api.stats`, :mod:`curator.api.papers`, :mod:`curator.api.files` — and
:mod:`curator.engines`, nothing else of curator; bundled plugins in ``plugins/`` are held to that
like third-party ones (tests/api/test_boundary.py).

Heavy imports (torch) stay out of this module so that ``curator --help`` is fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from curator.api.hookspecs import hookimpl
from curator.core.errors import CuratorError

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    import torch

__all__ = [
    "hookimpl",
    "CuratorError",
    "Architecture",
    "Dataset",
    "DatasetSplit",
    "Importer",
    "ImportBatch",
    "PaperRecord",
    "SampleResult",
    "Scraper",
    "Verifier",
    "Attack",
    "VerifyTask",
    "params_with_defaults",
    "STATUSES",
    "ATTACK_STATUSES",
]

# Per-sample outcome of a verifier. "certified" means the verifier proved the predicted class
# constant on the whole threat set; whether that prediction is correct is recorded separately
# (certified accuracy counts samples that are certified AND correct).
STATUSES = ("certified", "not_certified", "abstain", "timeout", "error")

# Per-sample outcome of an attack (an upper bound on robust accuracy): "broken" means an input in
# the threat set was found whose prediction differs from the label (its witness is in
# ``extra["witness"]`` as a tensor shaped like the input, with ``extra["margin"]``); "not_broken"
# means the attack failed, which proves nothing; "misclassified" means the clean input is
# already wrong (itself a witness).
ATTACK_STATUSES = ("broken", "not_broken", "misclassified", "timeout", "error")


class Registered:
    """Common shape of every registered object: a unique ``name`` and a ``version``."""

    kind: ClassVar[str] = "object"
    name: str = ""
    version: str = "0"
    description: str = ""

    def describe(self) -> dict[str, Any]:
        """What ``curator plugins --format json`` lists for this object."""
        return {"name": self.name, "version": self.version, "description": self.description}


# --------------------------------------------------------------------------- verifiers


@dataclass
class VerifyTask:
    """One batch of work for a verifier.

    ``model`` is an ``nn.Module`` in eval mode on ``device`` whose input is in [0, 1] pixel space
    (the entry's normalisation is already its first layer). ``inputs`` is ``[B, *input_shape]``,
    ``labels`` is ``[B]`` (long), ``indices`` are the test-set indices of the rows. The threat
    set of row ``i`` is ``{x : ||x - inputs[i]||_norm <= radius} ∩ [0, 1]^d``.

    ``radii`` (``[B]``, float) gives each row its own radius instead; the host sets it only for
    verifiers whose ``per_sample_radius`` is True (the benchmark's batched radius search), and then
    ``radius`` is ``max(radii)``.
    """

    model: torch.nn.Module
    inputs: torch.Tensor
    labels: torch.Tensor
    indices: list[int]
    norm: str  # "l1" | "l2" | "linf"
    radius: float
    params: dict[str, Any]
    num_classes: int
    device: str = "cpu"
    seed: int = 0
    time_limit: float | None = None  # seconds per sample; over it → status "timeout"
    progress: Callable[[int], None] | None = None  # call with the number of samples just finished
    radii: torch.Tensor | None = None  # per-row radii; see the docstring

    def radius_of_rows(self) -> float | torch.Tensor:
        """What to bound each row with: ``radii`` when set, else the scalar ``radius``."""
        return float(self.radius) if self.radii is None else self.radii


@dataclass
class SampleResult:
    """A verifier's answer for one input.

    ``predicted`` is the class the verifier certifies (or the model predicts), -1 for abstain.
    ``radius`` is the certified radius when the method computes one (smoothing, binary search).
    ``extra`` holds method-specific numbers (e.g. ``p_lower``, ``n_used``, a ``witness``).
    """

    index: int
    label: int
    predicted: int
    status: str
    seconds: float
    radius: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def correct(self) -> bool:
        return self.predicted == self.label

    @property
    def certified_correct(self) -> bool:
        return self.status == "certified" and self.correct


def params_with_defaults(schema: dict[str, Any] | None, params: dict[str, Any] | None) -> dict[str, Any]:
    """``params`` over the ``default`` of every property of a params JSON Schema: what a verifier runs
    with, and what a report records."""
    props = (schema or {}).get("properties", {})
    out = {k: v["default"] for k, v in props.items() if isinstance(v, dict) and "default" in v}
    out.update(params or {})
    return out


class Method(Registered):
    """What verifiers and attacks share: both are registered through ``register_verifiers`` (and
    listed as verifiers), are sent :class:`VerifyTask` batches and answer with :meth:`verify`.

    Subclasses set ``name``, ``version``, ``norms`` (the norms they handle) and ``params_schema``
    (a JSON Schema 2020-12 of their params, with defaults), and implement :meth:`verify`.

    ``per_sample_radius = True`` declares that :meth:`verify` honours ``VerifyTask.radii`` (one
    radius per row); only such methods are sent mixed radii in one task.
    """

    kind = "verifier"
    certification: str = "deterministic"
    norms: tuple[str, ...] = ("linf", "l2", "l1")
    params_schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}
    per_sample_radius: bool = False

    def verify(self, task: VerifyTask) -> list[SampleResult]:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(certification=self.certification, norms=list(self.norms), params_schema=self.params_schema,
                 per_sample_radius=self.per_sample_radius)
        return d


class Verifier(Method):
    """A certification method: ``certification`` is "deterministic" or "probabilistic", and
    :meth:`verify` answers with one of :data:`STATUSES` per sample."""

    # What a claim's params must meet to be published (docs/verdicts.md, "Protocol floors"): a
    # sentence for the report, and publication_floor() for the check. A verifier that states no
    # floor publishes on any params it accepts.
    publication_floor_rule: str = ""

    def publication_floor(self, params: dict[str, Any]) -> list[str]:
        """Why a run with ``params`` (defaults filled in) is too weak to publish a claim; empty when
        it is strong enough. The host calls it for ``curator verify`` reports and before publishing."""
        return []

    def threat_note(self, norm: str, radius: float, input_shape: tuple[int, ...], params: dict[str, Any]) -> str | None:
        """How this verifier reduces the threat model, when it does (e.g. ℓ∞ certified through ℓ2
        at r·√d); ``curator verify`` writes it into the report's ``threat.note``. None: no reduction."""
        return None

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["publication_floor"] = self.publication_floor_rule
        return d


class Attack(Method):
    """An attack, registered through ``register_verifiers``: its results bound robust accuracy
    from above and check certificates for soundness. ``verify`` returns :class:`SampleResult`
    objects whose ``status`` is one of :data:`ATTACK_STATUSES`. An attack is not a
    :class:`Verifier`: the host never accepts one where a certificate is needed."""

    certification = "attack"

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["publication_floor"] = ""  # an attack publishes nothing; the key keeps the listing's rows alike
        return d


# --------------------------------------------------------------------------- scrapers


@dataclass
class PaperRecord:
    """Normalised paper metadata, whatever service answered."""

    title: str
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    venue: str | None = None
    arxiv: str | None = None  # without version suffix
    doi: str | None = None
    openreview: str | None = None
    url: str | None = None
    pdf_url: str | None = None
    abstract: str | None = None
    source: str | None = None  # the scraper that answered


class Scraper(Registered):
    """Resolves references (URLs, ``arxiv:ID``, ``doi:…``, titles) to a :class:`PaperRecord`."""

    kind = "scraper"
    patterns: tuple[str, ...] = ()  # human-readable list of what it understands
    # When several scrapers understand a reference, lower priorities are asked first (the
    # service that owns the identifier before general metadata services).
    priority: int = 50

    def matches(self, ref: str) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def resolve(self, ref: str, http: Any) -> PaperRecord:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["patterns"] = list(self.patterns)
        d["priority"] = self.priority
        return d


# --------------------------------------------------------------------------- importers


@dataclass
class ImportBatch:
    """Entries an importer produced, plus the quirks it noticed in its source."""

    entries: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


class Importer(Registered):
    """Reads a foreign leaderboard file and returns schema-valid entries."""

    kind = "importer"

    def read(self, source: Path) -> ImportBatch:  # pragma: no cover - interface
        raise NotImplementedError


# --------------------------------------------------------------------------- datasets


@dataclass
class DatasetSplit:
    """Test inputs in [0, 1] as float32 ``[N, C, H, W]`` (or ``[N, D]``) and long labels ``[N]``."""

    inputs: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    source: str = ""  # where the data came from (URL or path) for the report

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(inputs[indices], labels[indices])`` as tensors. Large sets (ImageNet) keep
        ``inputs`` as a lazy sequence that decodes only the rows asked for; use this, not
        ``inputs`` directly, to work with both."""
        import torch

        idx = [int(i) for i in indices]
        for i in idx:
            if not 0 <= i < len(self.labels):
                raise IndexError(f"test index {i} is outside the {len(self.labels)}-image set")
        rows = self.inputs[idx] if isinstance(self.inputs, torch.Tensor) else self.inputs.take(idx)
        return rows, self.labels[idx]


class Dataset(Registered):
    """Loads a test split. ``data_dir`` is a user-provided folder (``--data-dir``/``CURATOR_DATA``)
    that may already hold the files; ``cache_dir`` is where downloads go (through
    :func:`curator.verify.artifacts.fetch`); ``progress`` shows download bars (``--quiet`` turns it off)."""

    kind = "dataset"
    input_shape: tuple[int, ...] = ()
    num_classes: int = 0
    # Images in the test split, when fixed (None: it depends on the files, e.g. npz); the
    # publication check resolves a claim's sample selection on it without loading the data.
    test_size: int | None = None

    def load(self, data_dir: Path | None, cache_dir: Path, progress: bool = True) -> DatasetSplit:  # pragma: no cover
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(input_shape=list(self.input_shape), num_classes=self.num_classes, test_size=self.test_size)
        return d


# --------------------------------------------------------------------------- architectures


class Architecture(Registered):
    """Builds an ``nn.Module`` from kwargs (validated against ``kwargs_schema``)."""

    kind = "architecture"
    kwargs_schema: dict[str, Any] = {"type": "object"}

    def build(self, **kwargs: Any) -> torch.nn.Module:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["kwargs_schema"] = self.kwargs_schema
        return d


def iter_registered_kinds() -> Iterable[tuple[str, str, type[Registered]]]:
    """(hook name, kind, base class) for every hook; the plugin host walks this table."""
    return (
        ("register_verifiers", "verifier", Method),
        ("register_scrapers", "scraper", Scraper),
        ("register_importers", "importer", Importer),
        ("register_datasets", "dataset", Dataset),
        ("register_architectures", "architecture", Architecture),
    )
