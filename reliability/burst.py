"""One address's burst against a node served by gunicorn's workers and a Redis: limited as one.

gunicorn serves a fresh node with several worker processes, the broker set to a Redis and no
limit storage named, as docs/deploy.md deploys it. Concurrent clients POST Open311 requests:
first a burst from one address, then, through the reverse proxy the node trusts
(TRUSTED_PROXY_HOPS = 1), bursts from several citizens at once. Each address must get exactly
its limit accepted, whichever worker answered, and every accepted request must be a case.

Run alone with `python -m reliability.burst [--redis URL] [--workers N] [--limit L]`.
"""

import argparse
import os
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from node.config import NodeSettings
from node.database import get_db
from reliability.apps import node_app
from reliability.chaos import LOOPBACK, Process, _wait_http, free_port, redis_to_use

CITIZENS = ("203.0.113.7", "198.51.100.20", "192.0.2.33")


@dataclass
class BurstResult:
    """What the bursts saw: answers per address, and the cases written."""

    workers: int = 0
    limit: int = 0
    per_address: int = 0
    answers: dict[str, Counter[int]] = field(default_factory=dict)
    cases_written: int = 0
    problems: list[str] = field(default_factory=list)
    skipped: str | None = None

    def figures(self) -> list[tuple[str, float | str]]:
        """The figures to print, as (name, value)."""
        if self.skipped:
            return [("skipped", self.skipped)]
        rows: list[tuple[str, float | str]] = [
            ("gunicorn workers", float(self.workers)),
            ("limit per address (per minute)", float(self.limit)),
            ("requests per address", float(self.per_address)),
        ]
        for address, answers in self.answers.items():
            statuses = " ".join(f"{code}:{n}" for code, n in sorted(answers.items()))
            rows.append((f"answers to {address}", statuses))
        rows.append(("cases written", float(self.cases_written)))
        rows.append(("limited as one", "yes" if not self.problems else "; ".join(self.problems)))
        return rows


def _burst(url: str, key: str, n: int, clients: int, forwarded: str | None) -> Counter[int]:
    """`n` POSTs from `clients` threads at once; the count of each status answered."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    body = {"api_key": key, "service_code": "noise-report", "attribute[source]": "traffic"}
    answers: Counter[int] = Counter()
    lock, start = threading.Lock(), threading.Barrier(clients)
    left = iter(range(n))

    def client() -> None:
        with httpx.Client(timeout=60) as http:
            start.wait()  # every client fires together: the workers race each other
            while True:
                with lock:
                    if next(left, None) is None:
                        return
                try:
                    status = http.post(url, data=body, headers=headers).status_code
                except httpx.HTTPError:
                    status = 0  # no answer at all
                with lock:
                    answers[status] += 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return answers


def run_bursts(
    *, redis_url: str, workers: int = 4, limit: int = 10, per_address: int = 30, clients: int = 8
) -> BurstResult:
    """Serve a fresh node with gunicorn and send each address a burst; see the module doc."""
    result = BurstResult(workers=workers, limit=limit, per_address=per_address)
    with tempfile.TemporaryDirectory(prefix="carmen-reliability-burst-") as tmp:
        folder = Path(tmp) / "node"
        app, key = node_app(folder)
        get_db(app).engine.dispose()
        NodeSettings.write_file(
            folder,
            {
                "secret_key": "reliability",
                "city": "Bologna",
                "country": "IT",
                "broker_url": redis_url,  # and no ratelimit_storage_url: the broker's Redis
                "task_queue": f"carmen-burst-{os.getpid()}",
                "ratelimit_enabled": True,
                "ratelimits": {"open311_address": f"{limit}/minute"},
                "trusted_proxy_hops": 1,
            },
        )
        port = free_port()
        gunicorn = Process(
            "gunicorn",
            [
                *(sys.executable, "-m", "gunicorn", "--preload", "--workers", str(workers)),
                *("--bind", f"{LOOPBACK}:{port}", "node.wsgi:app"),
            ],
            env=os.environ | {"CARMEN_NODE_INSTANCE": str(folder)},
            log=Path(tmp) / "gunicorn.log",
        )
        gunicorn.start()
        try:
            if not _wait_http(f"http://{LOOPBACK}:{port}/healthz", seconds=60):
                result.problems.append(f"gunicorn did not serve: {gunicorn.tail()}")
                return result
            url = f"http://{LOOPBACK}:{port}/open311/v2/requests.json"
            result.answers[LOOPBACK] = _burst(url, key, per_address, clients, None)
            for address in CITIZENS:  # behind the proxy, at once
                result.answers[address] = _burst(url, key, per_address, clients, address)
        finally:
            gunicorn.stop()
        with get_db(app).session() as session:
            result.cases_written = session.scalar(sa.text("SELECT count(*) FROM cases")) or 0
        get_db(app).engine.dispose()
    for address, answers in result.answers.items():
        if answers != Counter({200: limit, 429: per_address - limit}):
            result.problems.append(f"{address}: {dict(answers)}")
    if result.cases_written != limit * len(result.answers):
        result.problems.append(f"{result.cases_written} cases for {limit} per address")
    return result


def run(redis_url: str | None = None, **options) -> BurstResult:
    """The bursts on the Redis named, or by CARMEN_TEST_REDIS_URL; skipped without one."""
    url, skipped = redis_to_use(redis_url)
    return BurstResult(skipped=skipped) if skipped else run_bursts(redis_url=url, **options)


def main() -> None:
    """Print the figures of one run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", help="Redis URL (default: CARMEN_TEST_REDIS_URL)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--limit", type=int, default=10, help="requests per address per minute")
    parser.add_argument("--requests", type=int, default=30, help="requests per address")
    args = parser.parse_args()
    result = run(args.redis, workers=args.workers, limit=args.limit, per_address=args.requests)
    for name, value in result.figures():
        print(f"{name}: {value:,.3f}" if isinstance(value, float) else f"{name}: {value}")
    raise SystemExit(1 if result.problems else 0)


if __name__ == "__main__":
    main()
