"""The demo federation: a hub and fourteen real European cities piloting services for 18 months.

Each city gets a node (hosted together in ASP mode), two services generated from the templates
(cloned from the city that piloted them first, so provenance shows), as many citizens as the
city's real population would bring (carmen.simulator), and staff who work the cases. The nodes
sync to the hub over HTTP, the hub evaluates, and the dashboards and portals are served on
loopback ports. docs/demo.md says what is simulated and what is not.
"""

import json
import os
import queue
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from carmen import operations
from carmen.cities import ATTRIBUTION, City, find_city
from carmen.serving import BackgroundServer
from service_templates.engine import parse_assignments

# Fourteen cities of twelve countries, from Tallinn (423,000 people) to Jelgava (57,000), with
# the range of connectivity and e-government of the city table; the first city of each template
# pilots it and the others clone it from there. Each service is piloted in seven of them.
DEMO_CITIES = [
    "Tallinn",
    "Bologna",
    "Plovdiv",
    "Graz",
    "Gent",
    "Porto",
    "Oulu",
    "Sibiu",
    "Larisa",
    "Trento",
    "Umeå",
    "Tartu",
    "Limerick",
    "Jelgava",
]
LANGUAGES = {
    "IT": "it",
    "EE": "et",
    "BE": "nl",
    "SE": "sv",
    "PT": "pt",
    "PL": "pl",
    "EL": "el",
    "AT": "de",
    "BG": "bg",
    "FI": "fi",
    "RO": "ro",
    "LV": "lv",
    "IE": "en",
}
PILOTS = [
    ("issue-report", ["Bologna", "Tallinn", "Porto", "Larisa", "Oulu", "Trento", "Jelgava"]),
    ("appointment-booking", ["Tallinn", "Graz", "Umeå", "Bologna", "Sibiu", "Limerick", "Plovdiv"]),
    ("alert-subscription", ["Gent", "Umeå", "Oulu", "Larisa", "Tartu", "Plovdiv", "Trento"]),
    ("consultation", ["Graz", "Gent", "Porto", "Sibiu", "Tartu", "Jelgava", "Limerick"]),
]
STATE_FILE = "demo.json"
DEMO_K = 5  # the demo federation's suppression threshold: small cities, few simulated people


@dataclass
class Login:
    """An account to print."""

    where: str
    role: str
    login: str
    password: str


@dataclass
class DemoState:
    """What a prepared demo needs to serve again."""

    nodes: dict[str, str] = field(default_factory=dict)  # slug -> instance folder
    logins: list[Login] = field(default_factory=list)
    hub: str = ""
    # The users the simulator meant: slug -> service -> YYYY-MM -> expected distinct citizens.
    intended: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def save(self, root: Path) -> None:
        """Write the state next to the demo's folders."""
        data = {
            "nodes": self.nodes,
            "hub": self.hub,
            "logins": [asdict(x) for x in self.logins],
            "intended": self.intended,
        }
        path = root / STATE_FILE
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        path.chmod(0o600)  # it holds the demo's passwords

    @classmethod
    def load(cls, root: Path) -> "DemoState | None":
        """The state of an earlier run, or None."""
        path = root / STATE_FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        logins = [Login(**x) for x in data["logins"]]
        return cls(data["nodes"], logins, data["hub"], data.get("intended", {}))


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<44}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    )


def create_hub(root: Path, state: DemoState, real: "RealMode | None" = None) -> Path:
    """A hub instance with an admin and a coordinator who reads the dashboards."""
    from federation.hub.accounts.models import Role

    instance = root / "hub"
    users = {"admin": Role.ADMIN, "coordinator": Role.COORDINATOR}
    passwords = operations.init_hub(
        instance,
        users=users,
        k=DEMO_K,
        database_url=real.database("hub") if real is not None else None,
        broker_url=real.broker_url if real is not None else None,
    )
    for name, role in users.items():
        state.logins.append(Login("hub", role.value, name, passwords[name]))
    state.hub = str(instance)
    return instance


def create_node(root: Path, city: City, state: DemoState, real: "RealMode | None" = None) -> Path:
    """A node for a city, with its context figures, an admin, a supervisor and an agent."""
    from carmen.simulator import illustrative_shares
    from node.instance import initialise
    from node.sync.service import default_slug

    slug = default_slug({"CITY": city.name, "COUNTRY": city.country})
    language = LANGUAGES.get(city.country, "en")
    admin = Login(slug, "admin", f"admin@{slug}.example", secrets.token_urlsafe(9))
    initialise(
        path=root / slug,
        city=city.name,
        country=city.country,
        population=city.population,
        admin_email=admin.login,
        admin_password=admin.password,
        database_url=real.database(slug) if real else None,
        languages=[language, "en"] if language != "en" else ["en"],
        districts=["Centre", "North", "South", "East", "West"],
        settings={
            "context": city.context,
            "population_shares": illustrative_shares(city.name),
            "sms_auth_token": secrets.token_hex(16),
            # One simulator sends every request from one address: limits would stop it.
            "ratelimit_enabled": False,
            # The demo's months are sent as they go, the open one too, so the hub has them all.
            "release_grace_days": 0,
            **({"broker_url": real.broker_url} if real else {}),
        },
    )
    state.nodes[slug] = str(root / slug)
    state.logins.append(admin)
    return root / slug


def add_staff(instance: Path, slug: str, state: DemoState, app=None) -> None:
    """A supervisor, a call-centre agent and a caseworker for each department of its services."""
    from node.database import get_db
    from node.instance import load_services, open_app
    from node.services.service import list_active, spec_of
    from node.staff import service as staff

    app = app or open_app(instance)
    load_services(app)
    with get_db(app).session() as session:
        departments = sorted(
            {code for s in list_active(db_session=session) for code in spec_of(s).departments}
        )
        roles = [("supervisor", None), ("agent", None)] + [("caseworker", d) for d in departments]
        for role, department in roles:
            login = Login(
                slug,
                role if not department else f"caseworker ({department})",
                f"{role}.{department or 'all'}@{slug}.example",
                secrets.token_urlsafe(9),
            )
            staff.create_user(
                db_session=session,
                email=login.login,
                role=role,
                password=login.password,
                department_code=department,
                must_change_password=False,
            )
            if role != "caseworker" or department == departments[0]:
                state.logins.append(login)
        session.commit()


def open_consultations(instance: Path, when, app=None) -> None:
    """Staff open the consultation of every consultation service of a node."""
    from node.cases.schemas import Actor
    from node.consultations import service as consultations
    from node.database import get_db
    from node.instance import open_app

    app = app or open_app(instance)
    with get_db(app).session() as session:
        for service in consultations.consultation_services(db_session=session):
            consultations.open_consultation(
                db_session=session,
                service_code=service.code,
                now=when,
                services_dir=app.config["SERVICES_DIR"],
                timezone=app.config["TIMEZONE"],
                actor=Actor.system(),
            )
        session.commit()


def build(
    root: Path,
    *,
    scale: float,
    seed: int,
    ports: "Ports",
    cities: list[str] | None = None,
    months: int = 18,
    real: "RealMode | None" = None,
) -> DemoState:
    """Create the whole federation and play its pilot; returns what serving needs."""
    from carmen.simulator import SimulatedCity, pilot_months, prepare_city, simulate
    from node.database import get_db as node_db
    from node.database import utcnow
    from node.instance import open_app

    root.mkdir(parents=True, exist_ok=True)
    state = DemoState()
    cities = {name: find_city(name) for name in cities or DEMO_CITIES}
    pilots = [(t, [c for c in where if c in cities]) for t, where in PILOTS]
    pilots = [(t, where) for t, where in pilots if where]
    with _progress() as progress:
        setup = progress.add_task("Creating the hub and the city nodes", total=len(cities) + 1)
        create_hub(root, state, real)
        progress.advance(setup)
        instances = {}
        for name, city in cities.items():
            instances[name] = create_node(root, city, state, real)
            progress.advance(setup)

        templates = progress.add_task(
            "Generating and cloning services", total=sum(len(c) for _, c in pilots)
        )
        opened = pilot_months(utcnow(), months)[0]
        answers = {
            "consultation": [
                "verification=phone",  # simulated citizens take part by SMS from their phone
                f"opens_on={opened:%Y-%m-%d}",
                f"closes_on={utcnow() + timedelta(days=60):%Y-%m-%d}",
            ]
        }
        for template, where in pilots:
            origin = instances[where[0]]
            sets = parse_assignments(answers.get(template, []))
            code = operations.new_service(instance=origin, template=template, assignments=sets).name
            progress.advance(templates)
            for name in where[1:]:
                operations.clone_service(
                    service=code, source=origin, target=instances[name], assignments=sets
                )
                progress.advance(templates)
        for slug, folder in state.nodes.items():
            app = open_app(Path(folder))  # once: building a node's app takes a while
            add_staff(Path(folder), slug, state, app)
            open_consultations(Path(folder), opened, app)
            node_db(app).engine.dispose()

        servers = Servers.start(state, ports)
        try:
            rng = random.Random(seed)
            simulated = []
            for node in servers.nodes:
                sim = SimulatedCity.of_node(
                    node.app,
                    base_url=f"{servers.nodes_url}/{node.slug}",
                    rng=random.Random(rng.random()),
                )
                # Citizens are registered as the months need them: as many as use a service.
                prepare_city(sim, citizens=0, start=opened)
                simulated.append(sim)

            played = progress.add_task("Citizens and staff, month by month", total=months)
            report = simulate(
                simulated,
                months=months,
                scale=scale,
                progress=lambda _m, done, _t: progress.update(played, completed=done),
            )
            for node, sim in zip(servers.nodes, simulated, strict=True):
                intended = state.intended.setdefault(node.slug, {})
                for (service, period), users in sorted(sim.intended.items()):
                    intended.setdefault(service, {})[period] = round(users, 3)

            enroll = progress.add_task("Syncing the nodes with the hub", total=len(servers.nodes))
            for node in servers.nodes:
                servers.enroll(node)
            servers.sync_all(lambda: progress.advance(enroll))
            evaluate = progress.add_task("Evaluating every service in every city", total=1)
            servers.evaluate()
            progress.advance(evaluate)
        finally:
            servers.stop()
    state.save(root)
    if report.refused:
        print(f"{len(report.refused)} simulated requests were refused, e.g. {report.refused[0]}")
    print(
        f"Simulated {report.total} requests: "
        + ", ".join(f"{c} {n}" for c, n in sorted(report.requests.items()))
    )
    return state


@dataclass
class Ports:
    """Where the demo listens."""

    host: str = "127.0.0.1"
    nodes: int = 8300
    hub: int = 8400


@dataclass
class RealMode:
    """The demo on real servers: a PostgreSQL database per node and for the hub, a broker."""

    server_url: str  # a PostgreSQL URL whose user may create databases
    broker_url: str | None = None
    prefix: str = "carmen_demo"

    def database(self, name: str) -> str:
        """A fresh database named after the demo and the node (or hub) on the server."""
        url = sa.make_url(self.server_url)
        if not url.get_backend_name().startswith("postgresql"):
            raise RuntimeError("--database-url must name a PostgreSQL server")
        database = f"{self.prefix}_{name}".replace("-", "_")
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
        except sa.exc.OperationalError as exc:
            raise RuntimeError(f"cannot create {database} on {url.host}: {exc.orig}") from exc
        finally:
            admin.dispose()
        return url.set(database=database).render_as_string(hide_password=False)

    def databases(self) -> list[str]:
        """The names of the demo's databases on the server."""
        admin = sa.create_engine(sa.make_url(self.server_url))
        try:
            with admin.connect() as connection:
                return list(
                    connection.scalars(
                        sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                        {"p": f"{self.prefix}_%"},
                    )
                )
        finally:
            admin.dispose()


class Servers:
    """The hub (with its dashboards) and the nodes (in ASP mode), each on a loopback port."""

    def __init__(self, state: DemoState, ports: Ports) -> None:
        from carmen.asp import open_nodes, path_dispatcher
        from carmen.operations import mount_dashboard
        from federation.hub.app import create_app

        self.state = state
        self.nodes = open_nodes([Path(p) for p in state.nodes.values()])
        self.hub_app = create_app({"INSTANCE_PATH": Path(state.hub)})
        # Listen first (port 0 picks a free one), then build the apps that need the addresses.
        hub_slot, nodes_slot = _Slot(), _Slot()
        self._servers = [
            BackgroundServer(hub_slot, host=ports.host, port=ports.hub),
            BackgroundServer(nodes_slot, host=ports.host, port=ports.nodes),
        ]
        self.ports = Ports(
            ports.host,
            nodes=int(self._servers[1].effective_port),
            hub=int(self._servers[0].effective_port),
        )
        self.hub_url = f"http://{ports.host}:{self.ports.hub}"
        self.nodes_url = f"http://{ports.host}:{self.ports.nodes}"
        hub_slot.app = mount_dashboard(
            self.hub_app, hub_url=self.hub_url, secret_key=self.hub_app.config["SECRET_KEY"]
        )
        nodes_slot.app = path_dispatcher(self.nodes)

    @classmethod
    def start(cls, state: DemoState, ports: Ports) -> "Servers":
        """Open every instance and start serving."""
        return cls(state, ports)

    def enroll(self, node) -> None:
        """Enroll a node with the hub over HTTP."""
        token, _ = operations.enrollment_token(
            self.hub_app,
            city=node.city,
            country=node.app.config["COUNTRY"],
            slug=node.slug,
            ttl_hours=1,
        )
        instance = Path(node.app.instance_path)
        operations.enroll_node(
            node.app, instance=instance, hub_url=self.hub_url, token=token, slug=node.slug
        )

    def sync_all(self, synced: Callable[[], None]) -> None:
        """Build and push every enrolled node's months, in one process per core.

        A node's first sync protects every month of its pilot (an interval audit of linear
        programs per month), most of the demo's time after the simulation; the nodes share
        nothing but the hub, which takes their pushes over HTTP. The processes are plain
        interpreters running `sync_instance`, so that nothing of this one (its serving
        threads, its caller's script) is copied or run again in them.
        """
        instances = [str(node.app.instance_path) for node in self.nodes]
        workers = min(os.cpu_count() or 1, len(instances))
        if workers <= 1:
            for instance in instances:
                _acknowledged(*sync_instance(instance))
                synced()
            return
        results: queue.Queue[str | None] = queue.Queue()
        processes = []
        with tempfile.TemporaryDirectory(prefix="carmen-sync-") as logs:
            for n in range(workers):
                group = instances[n::workers]  # the cities come largest first: balanced
                log = open(Path(logs) / f"{n}.log", "w+", encoding="utf-8")  # noqa: SIM115
                process = subprocess.Popen(
                    [sys.executable, "-c", _SYNC_SCRIPT, *group],
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
                threading.Thread(target=_lines, args=(process, results), daemon=True).start()
                processes.append((process, log))
            done, running = 0, workers
            while running:
                line = results.get()
                if line is None:
                    running -= 1
                    continue
                city, refused = json.loads(line)
                _acknowledged(city, refused)
                done += 1
                synced()
            failed = []
            for process, log in processes:
                if process.wait() != 0:
                    log.seek(0)
                    failed.append(log.read()[-2000:])
                log.close()
        if failed or done != len(instances):
            raise RuntimeError("a node's sync failed:\n" + "\n".join(failed))

    def evaluate(self) -> None:
        """Run the hub's evaluation over everything synced."""
        run = operations.evaluate_hub(self.hub_app, seed=0)
        if run.error:
            raise RuntimeError(f"the evaluation failed: {run.error}")

    def stop(self) -> None:
        """Stop serving."""
        for server in self._servers:
            server.close()


def sync_instance(instance: str) -> tuple[str, list[str]]:
    """Build and push a node's pending months (in a process of its own); returns its city
    and the months the hub did not acknowledge."""
    from node.instance import open_app

    app = open_app(Path(instance))
    results = operations.sync_node(app, instance=Path(instance))
    return app.config["CITY"], [p for p, r in results.items() if not r.acknowledged]


_SYNC_SCRIPT = """
import json, sys
from carmen.demo import sync_instance
for instance in sys.argv[1:]:
    print(json.dumps(sync_instance(instance)), flush=True)
"""


def _lines(process: subprocess.Popen, results: "queue.Queue[str | None]") -> None:
    """Hand a sync process's result lines over, then None when it is done."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip():
            results.put(line)
    results.put(None)


def _acknowledged(city: str, refused: list[str]) -> None:
    if refused:
        raise RuntimeError(f"{city}: the hub did not acknowledge {', '.join(refused)}")


class _Slot:
    """A WSGI app filled in once the server listens (its address goes into the app)."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def prepare(
    *,
    root: Path,
    fresh: bool,
    scale: float = 1.0,
    seed: int = 7,
    ports: Ports | None = None,
    cities: list[str] | None = None,
    months: int = 18,
    real: "RealMode | None" = None,
) -> DemoState:
    """The demo's state: reused from an earlier run unless fresh, else built now."""
    ports = ports or Ports()
    if fresh and root.exists():
        shutil.rmtree(root)
    state = DemoState.load(root)
    if state is not None:
        return state
    if root.exists() and any(root.iterdir()):
        # A run stopped half-way: start again rather than serve something incomplete.
        shutil.rmtree(root)
    try:
        return build(
            root, scale=scale, seed=seed, ports=ports, cities=cities, months=months, real=real
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def banner(state: DemoState, ports: Ports) -> str:
    """What the demo prints once it serves."""
    lines = [
        "CARMEN federation demo",
        f"  dashboards:   http://{ports.host}:{ports.hub}/dashboard/   (coordinator login below)",
        f"  hub API:      http://{ports.host}:{ports.hub}/api/v1/openapi.json",
        "  city portals and back offices:",
        *[
            f"    http://{ports.host}:{ports.nodes}/{slug}/   (/office/ for staff)"
            for slug in state.nodes
        ],
        "  logins (supervisors, agents and caseworkers of every city are in demo.json):",
        *[
            f"    {x.where:<16} {x.role:<12} {x.login:<34} {x.password}"
            for x in state.logins
            if x.role in ("admin", "coordinator")
        ],
        f"  {ATTRIBUTION}",
        "serving (Ctrl-C to stop)",
    ]
    return "\n".join(lines)


VERDICTS = ("replicate", "pilot first", "not viable")


def judgement_summary(hub_app) -> list[str]:
    """Three lines on the hub's last evaluation: which service to take where, and how sure."""
    from federation.hub.database import get_db
    from federation.hub.evaluations.models import EvaluationRun
    from federation.hub.nodes.models import Node

    with hub_app.app_context(), get_db(hub_app).session() as session:
        run = session.scalars(
            sa.select(EvaluationRun)
            .where(EvaluationRun.status == "done")
            .order_by(EvaluationRun.id.desc())
        ).first()
        names = {node.slug: node.city for node in session.scalars(sa.select(Node))}
        results = run.results if run is not None else None
    if not results:
        return ["The hub has no evaluation yet: nothing is judged."]
    judged: dict[str, list[dict]] = {}
    for row in results.get("viability") or []:
        judged.setdefault(row["verdict"], []).append(row)

    def pair(row: dict) -> str:
        where = f"{row['service']} in {names.get(row['city_id'], row['city_id'])}"
        facts = []
        if row.get("expected_uptake") is not None:
            expected = f"expects {row['expected_uptake']:.2f}"
            if row.get("target_uptake") is not None:
                expected += f" against a target of {row['target_uptake']:.2f}"
            facts.append(expected)
        if row.get("score") is not None:
            facts.append(f"score {row['score']:.2f}")
        return where + (f" ({', '.join(facts)})" if facts else "")

    def best(verdict: str, most: int) -> str:
        rows = sorted(judged.get(verdict, []), key=lambda r: -(r.get("score") or 0))
        more = len(rows) - most
        return "; ".join(pair(r) for r in rows[:most]) + (f"; {more} more" if more > 0 else "")

    total = sum(len(rows) for rows in judged.values())
    kinds = [v for v in VERDICTS if v in judged] + sorted(set(judged) - set(VERDICTS))
    counts = ", ".join(f"{len(judged[v])} {v}" for v in kinds)
    if judged.get("replicate"):
        first = f"take {best('replicate', 3)}"
    else:
        first = "no service is sure to reach its target anywhere yet"
    lines = [
        f"Judged {total} service × city pairs ({counts}; citizens per 1,000 a month): {first}."
    ]
    others = [f"{v.capitalize()}: {best(v, 2)}." for v in kinds if v != "replicate"]
    lines.append(" ".join(others) or "Every pair judged replicates.")
    overall = [r for r in results.get("backtest") or [] if r.get("service") == "overall"]
    if overall and overall[0].get("spearman") is not None:
        o = overall[0]
        nearest = o.get("spearman_nearest")
        against = f", the nearest city {nearest:.2f}" if nearest is not None else ""
        lines.append(
            "How sure: predicting each pilot city from the others ranks their uptake with a "
            f"Spearman of {o['spearman']:.2f}{against}; a score is the chance of reaching the "
            "target."
        )
    else:
        lines.append("How sure: too few pilot cities for a back-test; a score is a chance.")
    return lines


def summary_of(state: DemoState) -> list[str]:
    """The judgement's three lines for a prepared demo."""
    from federation.hub.app import create_app

    return judgement_summary(create_app({"INSTANCE_PATH": Path(state.hub)}))


def serve_forever(state: DemoState, ports: Ports, *, stop: Callable[[], bool] | None = None):
    """Serve the hub, the dashboards and every node until Ctrl-C."""
    import time

    servers = Servers.start(state, ports)
    print("\n".join(judgement_summary(servers.hub_app)))
    print(banner(state, servers.ports), flush=True)
    try:
        while not (stop and stop()):
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping")
    finally:
        servers.stop()
