"""ASP mode: one deployment hosting several cities, with nothing crossing between them."""

import random

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from carmen.asp import host_dispatcher, open_nodes, path_dispatcher
from carmen.cli import main
from node.cases.models import Case
from node.database import get_db
from node.instance import initialise, open_app
from tests.factories import PASSWORD, install_example_services, seed_month
from tests.node.web import csrf_token


def make_city(root, city, country, population):
    instance = root / city.lower()
    initialise(
        path=instance,
        city=city,
        country=country,
        population=population,
        admin_email=f"admin@{city.lower()}.example",
        admin_password=PASSWORD,
    )
    install_example_services(instance)
    return instance


@pytest.fixture
def deployment(tmp_path):
    bologna = make_city(tmp_path, "Bologna", "IT", 390_000)
    tallinn = make_city(tmp_path, "Tallinn", "EE", 423_420)
    nodes = open_nodes([bologna, tallinn])
    for node, prefix in zip(nodes, ("BO", "TA"), strict=True):
        with get_db(node.app).session() as session:
            seed_month(session, year=2026, month=4, cases=3, rng=random.Random(1), prefix=prefix)
            session.commit()
    return nodes


def sign_in(client: Client, prefix: str, email: str) -> None:
    page = client.get(f"{prefix}/office/login").get_data(as_text=True)
    answer = client.post(
        f"{prefix}/office/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)


def test_each_city_is_served_under_its_own_path(deployment):
    client = Client(path_dispatcher(deployment))
    front = client.get("/").get_data(as_text=True)
    assert "/it-bologna/" in front and "/ee-tallinn/" in front
    assert client.get("/it-bologna/healthz").json["city"] == "Bologna"
    assert client.get("/ee-tallinn/healthz").json["city"] == "Tallinn"


def test_staff_signed_in_to_one_city_reach_nothing_of_another(deployment):
    _, tallinn = deployment
    client = Client(path_dispatcher(deployment))
    sign_in(client, "/it-bologna", "admin@bologna.example")
    assert client.get("/it-bologna/office/").status_code == 200
    with get_db(tallinn.app).session() as session:
        tallinn_case = session.query(Case).first()
    for path in (
        "/ee-tallinn/office/",
        f"/ee-tallinn/office/cases/{tallinn_case.id}",
        "/ee-tallinn/office/sla",
        "/ee-tallinn/office/staff",
    ):
        answer = client.get(path)
        assert answer.status_code == 302 and "/ee-tallinn/office/login" in answer.location, path
    # The session cookie is scoped to its city's path and named after it.
    cookie = client.get_cookie("carmen_it_bologna", path="/it-bologna")
    assert cookie is not None
    # Even replayed to the other city, it is not a session there: each city has its own key.
    other = Client(path_dispatcher(deployment))
    other.set_cookie("carmen_ee_tallinn", cookie.value, path="/ee-tallinn")
    assert other.get("/ee-tallinn/office/").status_code == 302


def test_staff_of_one_city_cannot_sign_in_to_another(deployment):
    client = Client(path_dispatcher(deployment))
    page = client.get("/ee-tallinn/office/login").get_data(as_text=True)
    refused = client.post(
        "/ee-tallinn/office/login",
        data={
            "email": "admin@bologna.example",
            "password": PASSWORD,
            "csrf_token": csrf_token(page),
        },
    )
    assert refused.status_code == 401  # the form again, with an error: no such account here


def test_cities_can_be_told_apart_by_host_name(deployment):
    client = Client(host_dispatcher(deployment))
    assert (
        client.get("/healthz", headers={"Host": "ee-tallinn.carmen.example"}).json["city"]
        == "Tallinn"
    )
    assert "Cities hosted here" in client.get("/", headers={"Host": "carmen.example"}).get_data(
        as_text=True
    )


def test_hosting_the_same_city_twice_is_refused(tmp_path):
    bologna = make_city(tmp_path, "Bologna", "IT", 390_000)
    result = CliRunner().invoke(
        main, ["asp", "serve", "--instance", str(bologna), "--instance", str(bologna)]
    )
    assert result.exit_code == 1
    assert "each city may be hosted once" in result.output
    assert open_app(bologna).config["CITY"] == "Bologna"
