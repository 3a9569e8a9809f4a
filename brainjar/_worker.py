"""A worker's role when ``brainjar run --workers N`` serves one jar from N processes.

The parent process supervises the model process and starts the workers; each
worker is ``brainjar run`` with ``BRAINJAR_WORKER`` in its environment, which
says: the model already runs at this URL (do not start it), listen on these
ports with ``SO_REUSEPORT`` (the kernel spreads connections over the workers),
and take this share of each endpoint's ``max_concurrency`` and ``max_queue``, so
that the limits hold for the jar as a whole. The workers keep their metrics in
one folder (prometheus_client's multiprocess mode), so ``/metrics`` on any
worker counts the whole jar.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "METRICS_VARIABLE",
    "WORKER_VARIABLE",
    "WorkerRole",
    "publish_model_state",
    "published_model_state",
    "share",
    "worker_role",
]

WORKER_VARIABLE = "BRAINJAR_WORKER"
# prometheus_client reads it when imported: metric values go to files in that folder.
METRICS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# In that folder: the model process's state as the parent's supervisor sees it.
MODEL_STATE_FILE = "model-process.json"


@dataclass(frozen=True)
class WorkerRole:
    """What the parent told one worker.

    Attributes:
        index: this worker's number, from 0.
        workers: how many there are.
        model: the URL the model answers at (what the manifest's model would get
            once its process is up); None when the manifest's own endpoint stands.
        ports: the port of each endpoint, in the manifest's order.
        metrics: the folder every worker keeps its metric values in (also in
            ``PROMETHEUS_MULTIPROC_DIR``); a scrape of one worker reads them all.
    """

    index: int
    workers: int
    model: str | None
    ports: tuple[int, ...]
    metrics: str | None = None

    def to_env(self) -> str:
        """The value of ``BRAINJAR_WORKER`` that makes a process this worker."""
        return json.dumps(
            {
                "index": self.index,
                "workers": self.workers,
                "model": self.model,
                "ports": list(self.ports),
                "metrics": self.metrics,
            }
        )


def worker_role() -> WorkerRole | None:
    """This process's role, when the parent of ``--workers`` started it."""
    raw = os.environ.get(WORKER_VARIABLE)
    if not raw:
        return None
    data = json.loads(raw)
    return WorkerRole(
        index=int(data["index"]),
        workers=int(data["workers"]),
        model=data.get("model"),
        ports=tuple(int(p) for p in data["ports"]),
        metrics=data.get("metrics"),
    )


def share(total: int, *, index: int, workers: int) -> int:
    """Worker ``index``'s part of ``total``: the parts differ by one at most and add up."""
    return total // workers + (1 if index < total % workers else 0)


def publish_model_state(folder: str, state: str, restarts: int) -> None:
    """Writes the model process's state and restarts where every worker reads them.

    The parent supervises the model; its workers only see a server that answers.
    """
    path = Path(folder) / MODEL_STATE_FILE
    draft = path.with_suffix(".draft")
    draft.write_text(json.dumps({"state": state, "restarts": restarts}))
    draft.replace(path)  # whole, never half written


def published_model_state(folder: str) -> tuple[str, int] | None:
    """The model process's state and restarts as the parent last wrote them, if it did."""
    try:
        data = json.loads((Path(folder) / MODEL_STATE_FILE).read_text())
        return str(data["state"]), int(data["restarts"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
