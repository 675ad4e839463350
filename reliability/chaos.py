"""A chaos run: a small demo federation syncing through real processes that get killed mid-run.

The hub is served by `carmen hub serve` in a subprocess on a loopback port; each node has its own
Celery worker with embedded beat in a subprocess, on Redis, pushing every 2 seconds. While citizens
keep using the services (`carmen simulate`), the hub and then the workers are killed with SIGKILL;
more activity happens while they are down; both are started again; for a number of rounds, at
moments that vary from round to round (seeded, so a run can be repeated). Once every node's
outbox is acknowledged (bounded wait), the hub must hold exactly what the nodes published: the
same cells with the same values, none missing and none counted twice, and every node event in a
snapshot.

Needs Redis: `python -m reliability.chaos --redis redis://127.0.0.1:6379/0` (or set
CARMEN_TEST_REDIS_URL).
"""

import argparse
import contextlib
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from carmen.demo import Ports, prepare
from carmen.workers import NodeWorker
from federation.hub.aggregates.models import AggregateCell
from federation.hub.app import create_app as create_hub_app
from federation.hub.database import get_db as hub_db
from federation.hub.nodes.models import Node
from federation.protocol.measures import snapshot_rows
from federation.protocol.models import MetricsSnapshot
from node.cases.models import Case
from node.database import get_db as node_db
from node.instance import open_app
from node.sync import service as sync
from reliability.apps import finish

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
Row = tuple[str, str, str, str, str, int | None]


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@dataclass
class ChaosResult:
    """What the chaos run saw; `problems` is empty when the hub and the nodes agree exactly."""

    nodes: int = 0
    cases_before: int = 0
    cases_after: int = 0
    periods: int = 0
    node_rows: int = 0
    hub_rows: int = 0
    missing_at_hub: int = 0
    extra_at_hub: int = 0
    node_submitted: int = 0
    hub_submitted: int = 0
    rounds: int = 0
    kills: int = 0
    unsynced_at_restart: int = 0
    seconds_to_converge: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    skipped: str | None = None

    def figures(self) -> list[tuple[str, float | str]]:
        """The figures to print, as (name, value)."""
        if self.skipped:
            return [("skipped", self.skipped)]
        return [
            ("nodes", float(self.nodes)),
            ("cases before / after the chaos", f"{self.cases_before} / {self.cases_after}"),
            ("rounds of kills and restarts", float(self.rounds)),
            ("processes killed (SIGKILL)", float(self.kills)),
            ("months unsynced when restarted", float(self.unsynced_at_restart)),
            ("seconds to converge after restart", self.seconds_to_converge),
            *[(f"{phase} (s)", seconds) for phase, seconds in self.phases.items()],
            ("periods synced", float(self.periods)),
            ("cells: node / hub", f"{self.node_rows} / {self.hub_rows}"),
            ("cells missing at hub / extra at hub", f"{self.missing_at_hub} / {self.extra_at_hub}"),
            ("submitted: node / hub", f"{self.node_submitted} / {self.hub_submitted}"),
            ("agreement", "exact" if not self.problems else "; ".join(self.problems)[:300]),
        ]


class Process:
    """A subprocess in its own process group, logging to a file, killed by its group id."""

    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.env, self.log = name, args, env, log
        self.popen: subprocess.Popen | None = None
        self._asked = False

    def start(self) -> None:
        """Start (or start again), appending to the log."""
        with self.log.open("a", encoding="utf-8") as out:
            out.write(f"--- start {self.name} at {time.strftime('%H:%M:%S')}\n")
            out.flush()
            self.popen = subprocess.Popen(
                self.args,
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a worker's embedded beat is a child: kill them together
            )

    def kill(self) -> None:
        """SIGKILL the whole group at once, as a crash or an OOM kill would."""
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def ask_to_stop(self) -> None:
        """Send SIGTERM to the group (a warm shutdown), without waiting."""
        self._asked = bool(self.popen and self.popen.poll() is None)
        if self._asked:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)

    def stop(self) -> None:
        """Ask the group to stop, and kill it if it does not within ten seconds."""
        if not self.popen:
            return
        if self.popen.poll() is not None and not self._asked:
            return  # killed and reaped before: its group id may be someone else's by now
        if not self._asked:
            self.ask_to_stop()
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(ProcessLookupError):  # a beat child left behind
            os.killpg(self.popen.pid, signal.SIGKILL)

    def tail(self, lines: int = 15) -> str:
        """The end of its log."""
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _carmen() -> list[str]:
    script = Path(sys.executable).parent / "carmen"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from carmen.cli import main; sys.exit(main())"]


def _quiet_carmen(args: list[str]) -> str:
    """Run a `carmen` command in-process; its output, or an error carrying it."""
    from carmen.cli import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            main.main(args, standalone_mode=False)
        except Exception as exc:
            output = buffer.getvalue()
            raise RuntimeError(f"carmen {' '.join(args)} failed: {exc}\n{output}") from exc
    return buffer.getvalue()


def node_rows(node_app) -> Counter[Row]:
    """Every cell value the node published, from its outbox."""
    rows: Counter[Row] = Counter()
    with node_db(node_app).session() as session:
        for period in sync.all_periods(db_session=session):
            if period.payload is None:
                continue
            snapshot = MetricsSnapshot.model_validate(period.payload)
            for r in snapshot_rows(snapshot):
                rows[
                    (
                        snapshot.period,
                        str(r["service_code"]),
                        str(r["segment"]),
                        str(r["channel"]),
                        str(r["measure"]),
                        r["value"],
                    )
                ] += 1
    return rows


def hub_rows(hub_app, slug: str) -> Counter[Row]:
    """Every cell value the hub holds for one node (a multiset: a double would show)."""
    query = (
        sa.select(
            AggregateCell.period,
            AggregateCell.service_code,
            AggregateCell.segment,
            AggregateCell.channel,
            AggregateCell.measure,
            AggregateCell.value,
        )
        .join(Node, Node.id == AggregateCell.node_id)
        .where(Node.slug == slug)
    )
    with hub_db(hub_app).session() as session:
        return Counter(tuple(row) for row in session.execute(query))


def unsettled_periods(node_app) -> int:
    """Months whose latest events are not yet in a snapshot the hub acknowledged."""
    with node_db(node_app).session() as session:
        periods = {p.period: p for p in sync.all_periods(db_session=session)}
        current = sync.source_fingerprints(db_session=session)
    return sum(
        1
        for period, fingerprint in current.items()
        if period not in periods
        or periods[period].source_fingerprint != fingerprint
        or periods[period].pending
    )


def outbox_settled(node_app) -> bool:
    """Every month's events are in a built snapshot, and the hub acknowledged every revision."""
    return unsettled_periods(node_app) == 0


def _enrolled_hub_url(node_apps) -> str:
    """Where the nodes were enrolled: the restarted hub must listen there."""
    urls = set()
    for app in node_apps:
        with node_db(app).session() as session:
            urls.add(sync.get_link(db_session=session).hub_url.rstrip("/"))
    if len(urls) != 1:
        raise RuntimeError(f"the demo's nodes point at {len(urls)} hubs: {sorted(urls)}")
    return urls.pop()


def _cases(node_apps: dict[str, object]) -> int:
    total = 0
    for app in node_apps.values():
        with node_db(app).session() as session:
            total += session.scalar(sa.select(sa.func.count()).select_from(Case)) or 0
    return total


def _submitted(rows: Counter[Row]) -> int:
    return sum(
        (value or 0) * n
        for (_p, _s, segment, channel, measure, value), n in rows.items()
        if measure.endswith("submitted") and segment == "all" and channel == "all"
    )


def _wait_http(url: str, *, seconds: float) -> bool:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        time.sleep(0.2)
    return False


def run_chaos(
    *,
    redis_url: str,
    cities: tuple[str, ...] = ("Bologna", "Tallinn"),
    months: int = 2,
    scale: float = 0.005,
    rounds: int = 1,
    converge_seconds: float = 120.0,
    root: Path | None = None,
) -> ChaosResult:
    """Build the federation, sync it through `rounds` of kills and restarts, compare totals."""
    result = ChaosResult()
    with tempfile.TemporaryDirectory(prefix="carmen-chaos-") as tmp:
        base = Path(root or tmp)
        ports = Ports(host=LOOPBACK, nodes=free_port(), hub=free_port())
        clock = time.monotonic()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            state = prepare(
                root=base / "demo",
                fresh=True,
                scale=scale,
                cities=list(cities),
                months=months,
                ports=ports,
            )
        result.phases["building the demo federation"] = time.monotonic() - clock
        node_apps = {slug: open_app(Path(folder)) for slug, folder in state.nodes.items()}
        result.nodes = len(node_apps)
        result.cases_before = _cases(node_apps)
        hub_url = _enrolled_hub_url(node_apps.values())
        address = urlsplit(hub_url)
        if address.hostname != LOOPBACK or not address.port:
            raise RuntimeError(f"the chaos run serves loopback only, not {hub_url}")
        hub_port = str(address.port)
        logs = base / "logs"
        logs.mkdir(exist_ok=True)
        hub = Process(
            "hub",
            [
                *_carmen(),
                "hub",
                "serve",
                "--instance",
                state.hub,
                "--host",
                LOOPBACK,
                "--port",
                hub_port,
                "--threads",
                "4",
            ],
            env=dict(os.environ),
            log=logs / "hub.log",
        )
        workers = [
            _worker(slug, folder, redis_url=redis_url, base=base, logs=logs)
            for slug, folder in state.nodes.items()
        ]
        processes = [hub, *workers]
        instances = [arg for folder in state.nodes.values() for arg in ("--instance", folder)]

        def activity(seed: int) -> None:
            started = time.monotonic()
            _quiet_carmen(
                [
                    "simulate",
                    *instances,
                    "--months",
                    "1",
                    "--scale",
                    str(scale),
                    "--citizens",
                    "10",
                    "--seed",
                    str(seed),
                    "--port",
                    str(free_port()),
                ]
            )
            spent = result.phases.get("simulating citizens, in all", 0.0)
            result.phases["simulating citizens, in all"] = spent + time.monotonic() - started

        try:
            for process in processes:
                process.start()
            if not _wait_http(f"{hub_url}/healthz", seconds=30):
                raise RuntimeError(f"the hub did not come up:\n{hub.tail()}")
            pause = random.Random(rounds).uniform
            result.rounds = rounds
            for number in range(rounds):
                seed = 100 + 10 * number
                activity(seed=seed + 1)
                time.sleep(pause(1.0, 3.0))  # a sync round or so: pushes in flight when it dies
                hub.kill()
                activity(seed=seed + 2)  # the workers keep trying against a dead hub
                time.sleep(pause(1.0, 3.0))
                for worker in workers:
                    worker.kill()
                result.kills += len(processes)
                activity(seed=seed + 3)  # nobody syncs now: all of this must still arrive
                if number < rounds - 1:
                    for process in processes:
                        process.start()
                    if not _wait_http(f"{hub_url}/healthz", seconds=30):
                        raise RuntimeError(f"the hub did not come back:\n{hub.tail()}")
            result.unsynced_at_restart = sum(unsettled_periods(a) for a in node_apps.values())
            for process in processes:
                process.start()
            restarted = time.monotonic()
            if not _wait_http(f"{hub_url}/healthz", seconds=30):
                raise RuntimeError(f"the hub did not come back:\n{hub.tail()}")
            hub_app = create_hub_app({"INSTANCE_PATH": Path(state.hub)})

            def converged() -> bool:
                return all(
                    outbox_settled(app) and hub_rows(hub_app, slug) == node_rows(app)
                    for slug, app in node_apps.items()
                )

            deadline = restarted + converge_seconds
            while not converged():
                if time.monotonic() > deadline:
                    result.problems.append(
                        f"not converged within {converge_seconds:.0f} s after the restart"
                    )
                    break
                time.sleep(1)
            result.seconds_to_converge = time.monotonic() - restarted
        finally:
            for process in processes:  # all at once: each warm shutdown takes a moment
                process.ask_to_stop()
            for process in processes:
                process.stop()
        _compare(result, hub_app, node_apps)
        if result.problems:
            for process in processes:
                result.problems.append(f"{process.name} log:\n{process.tail()}")
        hub_db(hub_app).engine.dispose()
        for app in node_apps.values():
            node_db(app).engine.dispose()
        _forget_queues(redis_url, [w.env["CARMEN_NODE_TASK_QUEUE"] for w in workers])
        if root is None:
            shutil.rmtree(base / "demo", ignore_errors=True)
    return result


def _compare(result: ChaosResult, hub_app, node_apps: dict[str, object]) -> None:
    result.cases_after = _cases(node_apps)
    if result.cases_after <= result.cases_before:
        result.problems.append("the simulated activity during the chaos added no cases")
    for slug, app in node_apps.items():
        published, held = node_rows(app), hub_rows(hub_app, slug)
        result.node_rows += sum(published.values())
        result.hub_rows += sum(held.values())
        result.missing_at_hub += sum((published - held).values())
        result.extra_at_hub += sum((held - published).values())
        result.node_submitted += _submitted(published)
        result.hub_submitted += _submitted(held)
        result.periods += len({row[0] for row in published})
        if not outbox_settled(app):
            result.problems.append(f"{slug}: its outbox still has unsent or unbuilt months")
    if result.missing_at_hub or result.extra_at_hub:
        result.problems.append(
            f"{result.missing_at_hub} cells missing at the hub, {result.extra_at_hub} extra"
        )
    if result.node_submitted != result.hub_submitted:
        result.problems.append(
            f"submitted: node {result.node_submitted} != hub {result.hub_submitted}"
        )


def _worker(slug: str, folder: str, *, redis_url: str, base: Path, logs: Path) -> Process:
    queue = f"carmen-chaos-{slug}-{uuid.uuid4().hex[:8]}"
    worker = NodeWorker(
        Path(folder),
        schedule=base / f"beat-{slug}",
        broker_url=redis_url,
        queue=queue,
        hostname=f"{queue}@localhost",
    )
    return Process(f"worker {slug}", worker.args, env=worker.env, log=logs / f"worker-{slug}.log")


def _forget_queues(redis_url: str, queues: list[str]) -> None:
    """Drop this run's queues, bindings and unacknowledged tasks from Redis: nothing lingers."""
    import json

    import redis

    with contextlib.suppress(Exception):
        client = redis.Redis.from_url(redis_url)
        for queue in queues:
            for key in client.scan_iter(match=f"*{queue}*"):
                client.delete(key)
        # Tasks the killed workers held are parked in kombu's shared `unacked` hash.
        for tag, raw in client.hgetall("unacked").items():
            with contextlib.suppress(ValueError, IndexError, TypeError):
                if json.loads(raw)[2] in queues:
                    client.hdel("unacked", tag)
                    client.zrem("unacked_index", tag)
        client.close()


def redis_to_use(redis_url: str | None) -> tuple[str, str | None]:
    """The Redis named, or by CARMEN_TEST_REDIS_URL, and why a run must skip (None: it may run)."""
    url = redis_url or os.environ.get("CARMEN_TEST_REDIS_URL", "")
    if not url:
        return url, "no Redis: pass --redis URL or set CARMEN_TEST_REDIS_URL"
    try:
        import redis

        redis.Redis.from_url(url).ping()
    except Exception as exc:
        return url, f"Redis at {url} is unreachable: {exc}"
    return url, None


def run(redis_url: str | None = None, **options) -> ChaosResult:
    """The chaos run on the Redis named, or by CARMEN_TEST_REDIS_URL; skipped without one."""
    url, skipped = redis_to_use(redis_url)
    return ChaosResult(skipped=skipped) if skipped else run_chaos(redis_url=url, **options)


def main() -> None:
    """Print the figures of one chaos run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", help="Redis URL (default: CARMEN_TEST_REDIS_URL)")
    parser.add_argument("--months", type=int, default=3, help="months of the demo's pilot")
    parser.add_argument("--scale", type=float, default=0.01, help="share of people simulated")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of kills and restarts")
    args = parser.parse_args()
    result = run(args.redis, months=args.months, scale=args.scale, rounds=args.rounds)
    finish(result.figures(), result.problems, label="problem", failed=bool(result.problems))


if __name__ == "__main__":
    main()
