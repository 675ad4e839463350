"""Settings as an operator meets them: a file written by an older node still loads, variables
win over the file, and a mistake stops the start with the name of the setting and its place."""

import pytest
from click.testing import CliRunner

from carmen.cli import main
from federation.hub.config import HubSettings
from node.config import NodeSettings
from runtime.settings import SettingsError
from tests.factories import make_node_app

# node.toml as `carmen node init` and the demo wrote it before settings were typed.
OLD_NODE_TOML = """\
city = "Kraków"
country = "PL"
population = 800000
secret_key = "0f3c"
languages = ["pl", "en"]
default_language = "pl"
default_country_code = "PL"
districts = ["Stare Miasto", "Nowa Huta"]
context = { internet_use_pct = 88.5, gdp_pps = 98 }
population_shares = { "16-24" = 0.1021, "25-54" = 0.4433, "55-74" = 0.3102, "75+" = 0.1444 }
sms_auth_token = "a1b2"
ratelimit_enabled = false
channels = "web,app,sms,email"
"""


@pytest.fixture
def instance(tmp_path):
    return tmp_path / "krakow"


def write(instance, text):
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "node.toml").write_text(text, encoding="utf-8")


def test_a_node_toml_written_by_the_old_code_loads_with_typed_values(instance):
    write(instance, OLD_NODE_TOML)
    settings = NodeSettings.load(instance)
    assert (settings.city, settings.population, settings.tracking_prefix) == (
        "Kraków",
        800000,
        "KR",
    )
    assert settings.context == {"internet_use_pct": 88.5, "gdp_pps": 98.0}
    assert settings.population_shares["75+"] == 0.1444
    assert settings.channels == ["web", "app", "sms", "email"]
    assert settings.ratelimit_enabled is False
    assert settings.database_url == f"sqlite:///{instance / 'node.db'}"
    assert settings.services_dir == instance / "services"


def test_given_values_beat_variables_which_beat_the_file_which_beats_the_defaults(
    instance, monkeypatch
):
    write(instance, 'city = "Bologna"\npopulation = 390000\nsync_interval_seconds = 60\n')
    monkeypatch.setenv("CARMEN_NODE_POPULATION", "391000")
    monkeypatch.setenv("CARMEN_NODE_SYNC_INTERVAL_SECONDS", "30")
    monkeypatch.setenv("CARMEN_NODE_LANGUAGES", '["it", "en"]')  # a TOML literal
    monkeypatch.setenv("CARMEN_NODE_INSTANCE", str(instance))  # names the folder, not a setting
    settings = NodeSettings.load(instance, {"SYNC_INTERVAL_SECONDS": 2})
    assert settings.city == "Bologna"  # the file
    assert settings.population == 391000  # the variable, read as a number
    assert settings.languages == ["it", "en"]
    assert settings.sync_interval_seconds == 2  # given by code
    assert settings.mail_from == "no-reply@localhost"  # the default


def test_an_unknown_setting_in_the_file_is_named_with_the_file(instance):
    write(instance, 'city = "Bologna"\nmesaging_max_retries = 3\n')
    with pytest.raises(SettingsError) as error:
        NodeSettings.load(instance)
    assert str(instance / "node.toml") in str(error.value)
    assert "unknown setting 'mesaging_max_retries'" in str(error.value)


def test_an_unknown_variable_is_named(instance, monkeypatch):
    monkeypatch.setenv("CARMEN_NODE_BROKER", "redis://127.0.0.1:6379/0")
    with pytest.raises(SettingsError, match="CARMEN_NODE_BROKER: unknown setting 'broker'"):
        NodeSettings.load(instance)


def test_a_value_of_the_wrong_type_is_named_with_its_file_and_a_secret_is_not_shown(instance):
    write(instance, 'population = "many"\nsmtp_password = 1234\nsmtp_port = "twenty-five"\n')
    with pytest.raises(SettingsError) as error:
        NodeSettings.load(instance)
    lines = str(error.value).splitlines()
    assert len(lines) == 3
    assert all(line.startswith(str(instance / "node.toml")) for line in lines)
    assert "population" in lines[0] and "'many'" in lines[0]
    assert "smtp_password" in str(error.value) and "1234" not in str(error.value)


def test_a_bad_variable_is_named_rather_than_the_file(instance, monkeypatch):
    write(instance, "population = 390000\n")
    monkeypatch.setenv("CARMEN_NODE_POPULATION", "lots")
    with pytest.raises(SettingsError, match="environment variable CARMEN_NODE_POPULATION"):
        NodeSettings.load(instance)


def test_an_unknown_time_zone_and_a_gateway_without_url_are_refused(instance):
    with pytest.raises(SettingsError, match="Europe/Bologna"):
        NodeSettings.load(instance, {"TIMEZONE": "Europe/Bologna"})
    with pytest.raises(SettingsError, match="needs sms_gateway_url"):
        NodeSettings.load(instance, {"SMS_GATEWAY": "HTTP"})


def test_the_app_config_holds_typed_settings_and_flasks_own_keys(instance):
    app = make_node_app(instance, MESSAGING_MAX_RETRIES=2, WTF_CSRF_ENABLED=False)
    assert app.config["MESSAGING_MAX_RETRIES"] == 2
    assert app.config["SERVICES_DIR"] == instance / "services"
    assert app.config["WTF_CSRF_ENABLED"] is False
    assert app.config["SMS_GATEWAY_TIMEOUT"] == 10.0


def test_a_hub_reads_an_evaluation_table_from_a_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("CARMEN_HUB_EVALUATION_OPTIONS", "{resamples = 10}")
    monkeypatch.setenv("CARMEN_HUB_BROKER_URL", "redis://127.0.0.1:6379/9")
    settings = HubSettings.load(tmp_path)
    assert settings.evaluation_options == {"resamples": 10}
    assert settings.evaluate_on_ingest is True  # a real broker turns it on


def test_a_hub_earliest_period_that_is_no_month_stops_the_start(tmp_path, monkeypatch):
    assert HubSettings.load(tmp_path).earliest_period == "2000-01"
    monkeypatch.setenv("CARMEN_HUB_EARLIEST_PERIOD", '"2000-13"')
    with pytest.raises(SettingsError, match="CARMEN_HUB_EARLIEST_PERIOD: earliest_period"):
        HubSettings.load(tmp_path)


def test_init_writes_a_node_toml_that_settings_lists_with_secrets_masked(tmp_path, monkeypatch):
    from tests.node.web import cheap_password_hashing

    cheap_password_hashing(monkeypatch)
    instance = tmp_path / "gent"
    runner = CliRunner()
    created = runner.invoke(
        main,
        [
            "node", "init", "--city", "Gent", "--country", "BE", "--population", "265000",
            "--instance", str(instance), "--district", "Ledeberg",
        ],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    secret = NodeSettings.load(instance).secret_key
    assert len(secret) == 64
    listed = runner.invoke(
        main, ["node", "settings", "--instance", str(instance)], terminal_width=200
    )
    assert listed.exit_code == 0, listed.output
    assert "Ledeberg" in listed.output and "messaging_max_retries" in listed.output
    assert secret not in listed.output and "***" in listed.output


def test_settings_of_a_broken_file_say_what_is_wrong(instance):
    write(instance, "population = -3\n")
    result = CliRunner().invoke(main, ["node", "settings", "--instance", str(instance)])
    assert result.exit_code == 1
    assert "population" in result.output and "greater than or equal to 0" in result.output
