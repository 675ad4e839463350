"""A public Open311 page of requests (street, grid, redacted text and notes) against the same page
read in full by the city's own app, on one node with as many requests, each with a citizen and a
reply that names them.

python -m bench.open311_reads [REQUESTS]
"""

import tempfile
import time
from pathlib import Path

from bench import _alone
from node.app import create_app
from node.cases import service as cases
from node.cases.schemas import Actor
from node.database import get_db
from node.intake import clients
from node.intake import service as intake
from node.migrate import upgrade
from node.profiles import service as profiles
from node.services.service import load_catalogue

EXAMPLE = Path(__file__).resolve().parents[1] / "node" / "services" / "examples" / "noise-report"
PUBLISHED = '\n[publish]\nlocation = "street"\ndescription = true\n'


def _page_seconds(client, query: dict[str, str], rounds: int = 3) -> tuple[float, int]:
    client.get("/open311/v2/requests.json", query_string=query)  # warm
    started = time.perf_counter()
    for _ in range(rounds):
        answer = client.get("/open311/v2/requests.json", query_string=query)
    return (time.perf_counter() - started) / rounds, len(answer.json)


def run(requests: int = 1000) -> list[tuple[str, float | str]]:
    """Seconds per page of `requests` requests, public and in full, and their ratio."""
    with tempfile.TemporaryDirectory(prefix="carmen-bench-open311-") as tmp:
        folder = Path(tmp)
        (folder / "services" / "noise-report").mkdir(parents=True)
        spec = (EXAMPLE / "service.toml").read_text(encoding="utf-8") + PUBLISHED
        (folder / "services" / "noise-report" / "service.toml").write_text(spec, encoding="utf-8")
        app = create_app(
            {"INSTANCE_PATH": folder, "SECRET_KEY": "bench", "CITY": "Bologna", "COUNTRY": "IT"}
        )
        upgrade(app.config["DATABASE_URL"])
        with get_db(app).session() as session:
            load_catalogue(db_session=session, services_dir=folder / "services")
            for n in range(requests):
                citizen = profiles.create_citizen(
                    db_session=session,
                    data=profiles.parse_citizen(
                        {"name": f"Anna Rossi{n}", "phone": f"+39333{n:07d}"}
                    ),
                    actor=Actor.citizen(),
                )
                case = intake.submit(
                    db_session=session,
                    service_code="noise-report",
                    channel="web",
                    citizen=citizen,
                    attributes={"source": "venue"},
                    address=f"Via Zamboni {n + 1}, 40126 Bologna",
                    lat=44.4949 + n * 1e-5,
                    long=11.3426,
                    description=f"Music until 3 at Via Zamboni {n + 1}; call 333 {n:07d}.\n"
                    "Cordiali saluti\nAnna Rossi",
                    tracking_prefix="BO",
                )
                cases.reply(
                    db_session=session,
                    case=case,
                    text=f"Dear Anna Rossi{n}, an inspector comes to Via Zamboni {n + 1}.",
                    actor=Actor.system(),
                )
            _, full = clients.create_client(db_session=session, name="city app", scope="full")
            session.commit()
        client = app.test_client()
        public, listed = _page_seconds(client, {})
        in_full, _ = _page_seconds(client, {"api_key": full})
        get_db(app).engine.dispose()
    return [
        ("requests on the page", float(listed)),
        ("public page, redacted (s)", public),
        ("city app's page, in full (s)", in_full),
        ("ratio public / full", public / in_full),
    ]


if __name__ == "__main__":
    _alone.run_alone(run, __doc__, "bench.open311_reads", count=("requests", 1000, "requests"))
