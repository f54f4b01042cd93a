"""The GitHub workflow files, read as YAML, and the jobs that may hold write permissions."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
PIN_RE = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
# Jobs that read what a submitter sent (claim files, model artifacts, reports built from them).
SUBMISSION_TOUCHING_COMMANDS = ("check-submission", "changed-entries", "plan", "reverify-shard", "merge")
WRITE_ALLOWED = {
    ("publish.yml", "approve"): {"contents"},
    ("publish.yml", "deploy"): {"pages", "id-token"},
    ("comment.yml", "comment"): {"pull-requests"},
    ("reverify-label.yml", "dispatch"): {"actions"},
}


def load(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def jobs(path: Path):
    yield from load(path)["jobs"].items()


def steps(job: dict) -> list[dict]:
    return job.get("steps") or []
