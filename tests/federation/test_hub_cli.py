"""`carmen hub`: init, enroll, user and token creation, export, as an operator runs them."""

import pandas as pd
from click.testing import CliRunner

from carmen.cli import main
from federation.hub import create_app
from tests.federation.factories import (
    SNAPSHOTS_PATH,
    body_of,
    make_identity,
    make_registration,
    make_snapshot,
    signed_headers,
)


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_an_operator_sets_up_a_hub_and_a_city_pushes_to_it(tmp_path):
    instance = str(tmp_path / "hub")
    admin_password = last_line(run("hub", "init", "--instance", instance, "--k", "12"))
    assert len(admin_password) >= 12
    assert (tmp_path / "hub" / "hub.toml").stat().st_mode & 0o077 == 0  # secret stays private

    token = last_line(
        run(
            "hub",
            "enroll",
            "--instance",
            instance,
            "--city",
            "Bologna",
            "--country",
            "it",
            "--slug",
            "bologna",
        )
    )
    app = create_app({"INSTANCE_PATH": instance, "EVALUATE_ON_INGEST": False})
    client = app.test_client()
    identity = make_identity("bologna")
    answer = client.post(
        "/api/v1/enroll",
        json={"token": token, "registration": make_registration(identity).model_dump(mode="json")},
    )
    assert answer.status_code == 201 and answer.json["k"] == 12
    body = body_of(make_snapshot("bologna", k=12))  # suppressed with the k it was given
    assert (
        client.post(SNAPSHOTS_PATH, data=body, headers=signed_headers(identity, body)).status_code
        == 200
    )

    login = client.post(
        "/api/v1/auth/tokens", json={"username": "admin", "password": admin_password}
    )
    assert login.status_code == 201 and login.json["role"] == "admin"

    password = last_line(run("hub", "user", "create", "--instance", instance, "--username", "cora"))
    assert (
        client.post(
            "/api/v1/auth/tokens", json={"username": "cora", "password": password}
        ).status_code
        == 201
    )
    api_token = last_line(
        run("hub", "token", "create", "--instance", instance, "--username", "cora")
    )
    nodes = client.get("/api/v1/nodes", headers={"Authorization": f"Bearer {api_token}"})
    assert nodes.json["nodes"][0]["node"] == "bologna"

    out = tmp_path / "tables"
    run("hub", "export", "--instance", instance, "--out", str(out))
    assert pd.read_csv(out / "cities.csv").city_id.tolist() == ["bologna"]
    assert len(pd.read_csv(out / "observations.csv")) > 0


def test_commands_on_a_missing_instance_say_what_to_do(tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "hub",
            "enroll",
            "--instance",
            str(tmp_path / "none"),
            "--city",
            "Bologna",
            "--country",
            "IT",
        ],
    )
    assert result.exit_code != 0
    assert "carmen hub init" in result.output


def test_a_bad_country_code_is_refused_clearly(tmp_path):
    instance = str(tmp_path / "hub")
    run("hub", "init", "--instance", instance)
    result = CliRunner().invoke(
        main, ["hub", "enroll", "--instance", instance, "--city", "Bologna", "--country", "Italy"]
    )
    assert result.exit_code != 0
    assert "2-letter Eurostat country code" in result.output


def test_every_hub_command_has_help():
    for command in (
        ["init"],
        ["serve"],
        ["enroll"],
        ["export"],
        ["user", "create"],
        ["user", "list"],
        ["user", "passwd"],
        ["user", "disable"],
        ["user", "enable"],
        ["token", "create"],
        ["token", "list"],
        ["token", "revoke"],
        ["node", "list"],
        ["node", "suspend"],
        ["node", "resume"],
        ["migrate"],
    ):
        output = run("hub", *command, "--help")
        assert "--instance" in output
