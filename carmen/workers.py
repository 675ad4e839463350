"""A node's Celery worker with its embedded beat, launched as a real deployment runs it.

The worker reads its node from `CARMEN_NODE_INSTANCE` and takes tasks from its own queue, so
several nodes can share one broker; the embedded beat queues the periodic sync.
"""

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class NodeWorker:
    """The command line and environment of one node's worker with beat."""

    instance: Path
    schedule: Path  # beat's schedule file
    broker_url: str | None = None  # default: the node's own setting
    queue: str = field(default_factory=lambda: f"carmen-{uuid.uuid4().hex[:8]}")
    sync_interval_seconds: int = 2
    hostname: str | None = None  # Celery's node name (default: Celery's own)

    @property
    def args(self) -> list[str]:
        """The worker's command line."""
        args = [sys.executable, "-m", "celery", "-A", "node.worker", "worker", "--beat"]
        args += ["--pool", "solo", "--queues", self.queue, "--loglevel", "INFO"]
        if self.hostname:
            args += ["--hostname", self.hostname]
        return [*args, "--schedule", str(self.schedule)]

    @property
    def env(self) -> dict[str, str]:
        """This process's environment with the node's instance, queue and sync interval."""
        env = dict(os.environ) | {
            "CARMEN_NODE_INSTANCE": str(self.instance),
            "CARMEN_NODE_TASK_QUEUE": self.queue,
            "CARMEN_NODE_SYNC_INTERVAL_SECONDS": str(self.sync_interval_seconds),
        }
        if self.broker_url:
            env["CARMEN_NODE_BROKER_URL"] = self.broker_url
        return env

    def start(self, *, cwd: Path | None = None) -> subprocess.Popen:
        """Start the worker; its log (stdout and stderr together) is read from stdout."""
        return subprocess.Popen(
            self.args,
            env=self.env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
