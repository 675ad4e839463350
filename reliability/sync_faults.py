"""Fault trials of the sync, judged against the nodes' own event logs.

A hub is served on a loopback port and each node reaches it through a proxy on another port
that, trial by trial, delivers a push twice, holds one back and delivers it after newer ones,
delays it, or lets the hub store it and then cuts the connection before the node hears the
answer (a kill between the hub's commit and the node's acknowledgement). Between pushes the
nodes record events of every kind a snapshot counts, and now and then two syncs of one node run
at once. When the faults stop and the outboxes drain, every count the hub holds must equal the
count recomputed here from the node's events table (not from its outbox): a shortfall is lost,
an excess double-counted.

Given a Redis broker, each node syncs as it is deployed: a real Celery worker with beat in its
own process takes the node's tasks from Redis, each trial queues a sync there (and a concurrent
trial runs `carmen node sync` beside it), and the outboxes drain through the workers alone.
"""

import contextlib
import logging
import random
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import sqlalchemy as sa
from werkzeug.serving import make_server

from carmen.workers import NodeWorker
from federation.hub.aggregates.models import AggregateCell
from federation.hub.database import get_db as hub_db
from federation.hub.database import utcnow as hub_now
from federation.hub.migrate import upgrade as upgrade_hub
from federation.hub.nodes import service as hub_nodes
from federation.hub.nodes.models import Node
from federation.protocol.measures import measures_of
from federation.protocol.models import CellMeasures, EventCounts
from federation.protocol.signing import HEADER_NODE
from federation.protocol.vocabulary import CommonEvent
from node.cases.models import Event, EventKind
from node.cases.schemas import Actor
from node.cases.service import record
from node.config import NodeSettings
from node.database import get_db as node_db
from node.database import savepoint
from node.errors import InvalidInput
from node.intake import service as intake
from node.migrate import upgrade as upgrade_node
from node.services import service as catalogue
from node.services.models import Service
from node.services.schemas import ServiceSpec
from node.sync import service as sync
from runtime.celery_app import get_celery

EXAMPLES = Path(catalogue.__file__).parent / "examples"
# Answers a shipped template has no default for.
TEMPLATE_ANSWERS = {"consultation": {"opens_on": "2027-03-01", "closes_on": "2027-03-31"}}
FAULTS = ("ok", "duplicate", "reorder", "delay", "cut_after_commit", "concurrent")
EVENT_MEASURES = frozenset(
    name
    for e in CommonEvent
    for name in measures_of(CellMeasures(events=EventCounts(**{e.value: 1})))
)
# Kinds recorded without a case, by what a service does more than cases.
BEHAVIOUR_KINDS = (
    EventKind.SUBSCRIBED,
    EventKind.UNSUBSCRIBED,
    EventKind.ALERT_DELIVERED,
    EventKind.BOOKED,
    EventKind.BOOKING_MOVED,
    EventKind.BOOKING_CANCELLED,
    EventKind.ATTENDED,
    EventKind.NO_SHOW,
    EventKind.PARTICIPATED,
)

# The transport is under test here, not the protection: every change is let through (a
# protection width of 0 leaves only k), so that the hub must end up with the log's counts.
TRANSPORT_SETTINGS = {"RELEASE_GRACE_DAYS": 0, "PROTECTION_WIDTH": 0}


@dataclass
class FaultResult:
    """What the trials saw; `problems` is empty when every hub count equals the node's log."""

    trials: int = 0
    faults: Counter = field(default_factory=Counter)
    events: int = 0
    compared: int = 0
    lost: int = 0
    double_counted: int = 0
    workers: int = 0  # Celery worker processes the nodes synced through (0: in-process)
    problems: list[str] = field(default_factory=list)

    def figures(self) -> list[tuple[str, float | str]]:
        """The figures to print, as (name, value)."""
        return [
            ("fault trials", float(self.trials)),
            ("Celery workers on Redis (0: syncs in-process)", float(self.workers)),
            ("faults injected", ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))),
            ("events recorded during the trials", float(self.events)),
            ("hub counts compared with the event logs", float(self.compared)),
            ("lost (hub below the event log)", float(self.lost)),
            ("double-counted (hub above the event log)", float(self.double_counted)),
        ]


class FaultyProxy:
    """A loopback HTTP proxy in front of the hub that injects the fault it is told to."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.fault = "ok"
        self.held: list[tuple[str, bytes, dict[str, str]]] = []
        self.seen: Counter = Counter()  # requests handled, per node
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                proxy.handle(self, body, headers)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def forward(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(self.upstream + path, content=body, headers=headers, timeout=30)

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes, headers) -> None:
        try:
            self._handle(handler, body, headers)
        finally:
            with self.lock:
                self.seen[headers.get(HEADER_NODE)] += 1

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes, headers) -> None:
        fault = self.fault
        if fault == "reorder":  # held back now, delivered after newer pushes (release_held)
            with self.lock:
                self.held.append((handler.path, body, headers))
            handler.close_connection = True  # the node hears nothing: it will send again
            return
        if fault == "delay":
            time.sleep(random.uniform(0.01, 0.2))
        answer = self.forward(handler.path, body, headers)
        if fault == "duplicate":  # the network delivers the same request twice
            self.forward(handler.path, body, headers)
        if fault == "cut_after_commit":  # stored by the hub; the node never hears back
            handler.close_connection = True
            return
        handler.send_response(answer.status_code)
        handler.send_header("Content-Type", answer.headers.get("content-type", "text/plain"))
        handler.send_header("Content-Length", str(len(answer.content)))
        handler.end_headers()
        handler.wfile.write(answer.content)

    def release_held(self) -> None:
        """Deliver the pushes held back, oldest last: older revisions arrive after newer ones."""
        with self.lock:
            held, self.held = self.held, []
        for path, body, headers in reversed(held):
            self.forward(path, body, headers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _node(folder: Path, city: str, proxy_url: str, token: str, broker: dict | None = None):
    from node.app import create_app
    from service_templates.engine import (
        PACKAGE_TEMPLATES,
        city_answers,
        list_templates,
        new_service,
    )

    services = folder / "services"
    shutil.copytree(EXAMPLES, services, dirs_exist_ok=True)
    for info in list_templates(root=PACKAGE_TEMPLATES):  # alerts, bookings, a consultation
        new_service(
            root=PACKAGE_TEMPLATES,
            template=info.name,
            services_dir=services,
            city=city_answers(city=city, country="IT", languages=["en"]),
            node_channels=["web", "app", "sms", "email", "phone", "counter"],
            assignments=TEMPLATE_ANSWERS.get(info.name, {}),
        )
    if broker is None:
        app = create_app(
            {
                "INSTANCE_PATH": folder,
                "SECRET_KEY": "fault-trials",
                "CITY": city,
                "COUNTRY": "IT",
                "POPULATION": 100_000,
                "TESTING": True,
                **TRANSPORT_SETTINGS,
            }
        )
    else:  # an instance folder its worker opens as deployed, on the broker's queue
        NodeSettings.write_file(
            folder,
            {
                "city": city,
                "country": "IT",
                "population": 100_000,
                "secret_key": secrets.token_hex(16),
                "broker_url": broker["url"],
                "task_queue": broker["queue"],
                **{name.lower(): value for name, value in TRANSPORT_SETTINGS.items()},
            },
        )
        app = create_app({"INSTANCE_PATH": folder})
    upgrade_node(app.config["DATABASE_URL"])
    with node_db(app).session() as session:
        report = catalogue.load_catalogue(db_session=session, services_dir=services)
        if report.errors:
            raise RuntimeError(f"the trial services do not load: {report.errors}")
        sync.enroll_with_hub(
            db_session=session,
            settings=app.config,
            instance=folder,
            hub_url=proxy_url,
            token=token,
        )
        session.commit()
    return app


_CASES_OK: dict[str, set[str]] = {}


def _record_events(app, rng: random.Random, count: int) -> int:
    """Events of every counted kind, in one of two months: a case, or a service's own."""
    with node_db(app).session() as session:
        behaviours = {
            s.code: ServiceSpec.model_validate(s.spec).behaviour
            for s in session.scalars(sa.select(Service))
        }
        codes = sorted(behaviours)
        kinds = {
            s.code: [
                k
                for k in BEHAVIOUR_KINDS
                if k.value in ServiceSpec.model_validate(s.spec).event_map
            ]
            for s in session.scalars(sa.select(Service))
        }
        cases_ok = _CASES_OK.setdefault(str(app.instance_path), set(codes))
        for _ in range(count):
            at = datetime(2026, rng.randint(1, 2), rng.randint(1, 28), 10, tzinfo=UTC)
            code = rng.choice(codes)
            if code in cases_ok and (behaviours[code] == "cases" or rng.random() < 0.3):
                try:
                    with savepoint(session):
                        intake.submit(
                            db_session=session,
                            service_code=code,
                            channel=rng.choice(["web", "sms", "phone"]),
                            description="a trial request",
                            actor=Actor.citizen(),
                            now=at,
                        )
                    continue
                except InvalidInput:  # its form asks for answers: its own events, then
                    cases_ok.discard(code)
            record(
                db_session=session,
                kind=rng.choice(kinds[code] or BEHAVIOUR_KINDS),
                actor=Actor.citizen(),
                service_code=code,
                channel="web",
                at=at,
            )
        session.commit()
    return count


def log_totals(app) -> dict[tuple[str, str, str], int]:
    """Per (month, service, measure), the count of events read straight from the events table,
    through each service's own mapping onto the common vocabulary."""
    totals: Counter = Counter()
    with node_db(app).session() as session:
        maps = {
            s.code: ServiceSpec.model_validate(s.spec).event_map
            for s in session.scalars(sa.select(Service))
        }
        for at, kind, code in session.execute(
            sa.select(Event.at, Event.kind, Event.service_code).where(
                Event.service_code.is_not(None)
            )
        ):
            common = maps.get(code, {}).get(EventKind(kind).value)
            if common is not None:
                (measure,) = measures_of(CellMeasures(events=EventCounts(**{common.value: 1})))
                totals[(at.strftime("%Y-%m"), code, measure)] += 1
    return dict(totals)


def hub_totals(hub_app, slug: str) -> dict[tuple[str, str, str], int]:
    """The hub's counts of a node's events, all channels and segments together."""
    with hub_db(hub_app).session() as session:
        rows = session.execute(
            sa.select(
                AggregateCell.period,
                AggregateCell.service_code,
                AggregateCell.measure,
                AggregateCell.value,
            )
            .join(Node, Node.id == AggregateCell.node_id)
            .where(
                Node.slug == slug, AggregateCell.segment == "all", AggregateCell.channel == "all"
            )
        )
        return {(p, s, m): v for p, s, m, v in rows if v is not None}


TRANSPORT_ONLY = sync.ReleaseSettings(grace_days=0, protection_width=0)


def _sync(app, key) -> None:
    with node_db(app).session() as session, contextlib.suppress(sync.SyncBusy):
        sync.sync_now(db_session=session, key=key, release=TRANSPORT_ONLY)


@dataclass
class _Worker:
    """A node's Celery worker with beat on Redis, and its log."""

    queue: str
    process: subprocess.Popen
    log: Path

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _start_worker(folder: Path, queue: str, broker_url: str) -> _Worker:
    worker = NodeWorker(
        folder,
        schedule=folder / "beat-schedule",
        broker_url=broker_url,
        queue=queue,
        hostname=f"{queue}@localhost",
    )
    log = folder / "worker.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            worker.args,
            env=worker.env | {"PYTHONUNBUFFERED": "1"},
            cwd=Path(__file__).resolve().parents[1],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return _Worker(queue=queue, process=process, log=log)


def _settled(app) -> bool:
    """Nothing pending and nothing recorded since the last build: the hub has it all."""
    with node_db(app).session() as session:
        if sync.pending_periods(db_session=session):
            return False
        built = {p.period: p.source_fingerprint for p in sync.all_periods(db_session=session)}
        return all(
            built.get(month) == fingerprint
            for month, fingerprint in sync.source_fingerprints(db_session=session).items()
        )


def _sync_through_worker(app, key, proxy: FaultyProxy, slug: str, concurrent: bool) -> None:
    """Queue a sync on Redis for the node's worker (and run one here beside it when
    concurrent), then wait until the proxy has handled one of the node's pushes."""
    before = proxy.seen[slug]
    get_celery(app).send_task("carmen_node.sync")
    if concurrent:
        _sync(app, key)
    deadline = time.monotonic() + 20
    while proxy.seen[slug] == before and time.monotonic() < deadline:
        time.sleep(0.05)


def _drain_through_workers(apps, workers: dict[str, _Worker], result: FaultResult) -> None:
    """Wait until every node's worker has delivered everything (twice settled in a row)."""
    deadline = time.monotonic() + 180
    for slug, (app, _key) in apps.items():
        calm = 0
        while calm < 2 and time.monotonic() < deadline:
            calm = calm + 1 if _settled(app) else 0
            time.sleep(1.5)
        if calm < 2:
            result.problems.append(
                f"{slug}: its worker did not deliver everything in time; it said:\n"
                + workers[slug].tail()
            )


def _stop_workers(workers: dict[str, _Worker], broker_url: str) -> None:
    from reliability.chaos import _forget_queues

    for worker in workers.values():
        worker.process.terminate()
    for worker in workers.values():
        try:
            worker.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
    _forget_queues(broker_url, [worker.queue for worker in workers.values()])


def run_fault_trials(
    *, trials: int = 120, nodes: int = 2, seed: int = 20261204, broker_url: str | None = None
) -> FaultResult:
    """Sync `nodes` nodes through `trials` faulty rounds, drain, and compare with their logs;
    with a Redis `broker_url`, through each node's real Celery worker."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    result = FaultResult()
    rng = random.Random(seed)
    base = Path(tempfile.mkdtemp(prefix="carmen-sync-faults-"))
    from federation.hub import create_app as create_hub

    (base / "hub").mkdir()
    hub_app = create_hub(
        {"INSTANCE_PATH": base / "hub", "SECRET_KEY": "fault-trials", "EVALUATE_ON_INGEST": False}
    )
    upgrade_hub(hub_app.config["DATABASE_URL"])
    server = make_server("127.0.0.1", 0, hub_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = FaultyProxy(f"http://127.0.0.1:{server.server_port}")
    apps = {}
    workers: dict[str, _Worker] = {}
    try:
        for number, city in enumerate(["Bologna", "Modena", "Parma", "Rimini"][:nodes]):
            with hub_app.app_context(), hub_db(hub_app).session() as session:
                token, _ = hub_nodes.create_enrollment_token(
                    db_session=session, city=city, country="IT", now=hub_now(), ttl_hours=1
                )
                session.commit()
            folder = base / f"node{number}"
            broker = None
            if broker_url:
                broker = {"url": broker_url, "queue": f"carmen-faults-{uuid.uuid4().hex[:8]}"}
            app = _node(folder, city, proxy.url, token, broker)
            with node_db(app).session() as session:
                slug = sync.get_link(db_session=session).node_slug
            apps[slug] = (app, sync.load_or_create_key(folder))
            if broker is not None:
                workers[slug] = _start_worker(folder, broker["queue"], broker_url)
        result.workers = len(workers)
        for app, _key in apps.values():  # enough of each kind that cells are over k
            result.events += _record_events(app, rng, 400)
        for _trial in range(trials):
            slug = rng.choice(sorted(apps))
            app, key = apps[slug]
            fault = rng.choice(FAULTS)
            result.faults[fault] += 1
            result.trials += 1
            result.events += _record_events(app, rng, rng.randint(1, 6))
            proxy.fault = "delay" if fault == "concurrent" else fault
            if workers:
                _sync_through_worker(app, key, proxy, slug, concurrent=fault == "concurrent")
            elif fault == "concurrent":  # two syncs of one node at once, an event between them
                threads = [threading.Thread(target=_sync, args=(app, key)) for _ in range(2)]
                threads[0].start()
                result.events += _record_events(app, rng, 1)
                threads[1].start()
                for thread in threads:
                    thread.join(120)
            else:
                _sync(app, key)
            if proxy.held and rng.random() < 0.5:
                proxy.fault = "ok"
                proxy.release_held()
        proxy.fault = "ok"
        proxy.release_held()
        if workers:  # the faults are over: the workers drain the outboxes themselves
            _drain_through_workers(apps, workers, result)
            _stop_workers(workers, broker_url or "")
            workers = {}
        else:
            for app, key in apps.values():
                for _ in range(3):
                    _sync(app, key)
        _compare(result, hub_app, apps)
    finally:
        if workers:
            _stop_workers(workers, broker_url or "")
        proxy.close()
        server.shutdown()
        server.server_close()
        for app, _key in apps.values():
            node_db(app).engine.dispose()
        hub_db(hub_app).engine.dispose()
        shutil.rmtree(base, ignore_errors=True)
    return result


def _compare(result: FaultResult, hub_app, apps) -> None:
    for slug, (app, _key) in apps.items():
        with node_db(app).session() as session:
            if sync.pending_periods(db_session=session):
                result.problems.append(f"{slug}: months still pending after the drain")
        logged, held = log_totals(app), hub_totals(hub_app, slug)
        for cell, count in logged.items():
            at_hub = held.get(cell)
            if at_hub is None:
                if count >= 30:  # far over k: only a loss leaves it out
                    result.lost += count
                    result.problems.append(f"{slug} {cell}: {count} in the log, none at the hub")
                continue
            result.compared += 1
            if at_hub < count:
                result.lost += count - at_hub
                result.problems.append(f"{slug} {cell}: log {count}, hub {at_hub}")
            elif at_hub > count:
                result.double_counted += at_hub - count
                result.problems.append(f"{slug} {cell}: log {count}, hub {at_hub}")
        for cell, at_hub in held.items():
            if cell not in logged and cell[2] in EVENT_MEASURES:
                result.double_counted += at_hub
                result.problems.append(f"{slug} {cell}: hub {at_hub}, nothing in the log")
