"""A bounded load test of a node's Open311 intake, served by waitress on a loopback port.

N concurrent httpx clients POST valid Open311 requests until a request count or a time budget
is used up, whichever comes first, and the server stops by itself afterwards. It prints requests/s,
the 50th and 99th percentile latencies and the error rate (any answer but 200, or no answer).
Rate limits are off: every request comes from one loopback address on purpose.

Run alone with `python -m reliability.load [--requests N] [--seconds S] [--clients C]`.
"""

import argparse
import logging
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

from carmen.serving import BackgroundServer
from node.database import get_db
from reliability.apps import finish, node_app

LOOPBACK = "127.0.0.1"


@dataclass
class LoadResult:
    """What one load run measured."""

    sent: int
    errors: int
    seconds: float
    latencies: list[float]  # seconds, of every request that got an answer
    cases_written: int
    clients: int
    first_errors: list[str]

    @property
    def requests_per_second(self) -> float:
        """Answered requests per second of wall time."""
        return self.sent / self.seconds if self.seconds else 0.0

    @property
    def error_rate(self) -> float:
        """Share of requests that did not get a 200."""
        return self.errors / self.sent if self.sent else 0.0

    def percentile(self, q: int) -> float:
        """The q-th percentile latency in milliseconds."""
        if len(self.latencies) < 2:
            return 1000 * (self.latencies[0] if self.latencies else 0.0)
        return 1000 * statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1]

    def figures(self) -> list[tuple[str, float | str]]:
        """The figures to print, as (name, value)."""
        return [
            ("requests sent", float(self.sent)),
            ("concurrent clients", float(self.clients)),
            ("requests/s", self.requests_per_second),
            ("p50 latency (ms)", self.percentile(50)),
            ("p99 latency (ms)", self.percentile(99)),
            ("error rate", self.error_rate),
            ("cases written", float(self.cases_written)),
        ]


def _body(key: str, n: int) -> dict[str, str]:
    return {
        "api_key": key,
        "service_code": "noise-report",
        "attribute[source]": "traffic",
        "attribute[night]": "yes",
        "description": f"Lorries idling under the windows every night from four ({n}).",
        "lat": "44.4949",
        "long": "11.3426",
    }


def hammer(
    url: str, key: str, *, requests: int, seconds: float, clients: int
) -> tuple[int, int, list[float], list[str], float]:
    """POST up to `requests` times within `seconds` from `clients` threads.

    Returns (sent, errors, latencies, first error messages, elapsed seconds).
    """
    lock = threading.Lock()
    state = {"next": 0, "errors": 0}
    latencies: list[float] = []
    messages: list[str] = []
    deadline = time.perf_counter() + seconds

    def take() -> int | None:
        with lock:
            if state["next"] >= requests or time.perf_counter() > deadline:
                return None
            state["next"] += 1
            return state["next"]

    def client_loop() -> None:
        with httpx.Client(timeout=min(30.0, seconds + 5)) as http:
            while (n := take()) is not None:
                started = time.perf_counter()
                try:
                    answer = http.post(url, data=_body(key, n))
                except httpx.HTTPError as exc:  # no answer at all: an error without a latency
                    took, message = None, f"{type(exc).__name__}: {exc}"
                else:
                    took = time.perf_counter() - started
                    message = None if answer.status_code == 200 else answer.text[:200]
                    message = message and f"{answer.status_code}: {message}"
                with lock:
                    if took is not None:
                        latencies.append(took)
                    if message is not None:
                        state["errors"] += 1
                        if len(messages) < 3:
                            messages.append(message)

    started = time.perf_counter()
    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    return state["next"], state["errors"], latencies, messages, time.perf_counter() - started


def run_load(
    *, requests: int = 2000, seconds: float = 10.0, clients: int = 8, threads: int = 8
) -> LoadResult:
    """Serve a fresh node on a free loopback port and load its Open311 POST endpoint."""
    # waitress warns on every queued task once all its threads are busy, which is the point here
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="carmen-reliability-load-") as tmp:
        app, key = node_app(Path(tmp) / "node")
        server = BackgroundServer(app, host=LOOPBACK, threads=threads)
        url = f"http://{LOOPBACK}:{server.effective_port}/open311/v2/requests.json"
        try:
            sent, errors, latencies, messages, elapsed = hammer(
                url, key, requests=requests, seconds=seconds, clients=clients
            )
        finally:
            server.close()
        with get_db(app).session() as session:
            written = session.scalar(sa.text("SELECT count(*) FROM cases")) or 0
        get_db(app).engine.dispose()
    return LoadResult(sent, errors, elapsed, latencies, written, clients, messages)


def run(
    requests: int = 2000, seconds: float = 10.0, clients: int = 8
) -> list[tuple[str, float | str]]:
    """The figures of one load run."""
    return run_load(requests=requests, seconds=seconds, clients=clients).figures()


def main() -> None:
    """Print the figures of one run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="POSTs at most")
    parser.add_argument("--seconds", type=float, default=10.0, help="time budget at most")
    parser.add_argument("--clients", type=int, default=8, help="concurrent httpx clients")
    args = parser.parse_args()
    result = run_load(requests=args.requests, seconds=args.seconds, clients=args.clients)
    finish(result.figures(), result.first_errors, label="error", failed=bool(result.errors))


if __name__ == "__main__":
    main()
