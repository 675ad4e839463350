"""A service's texts as citizens get them, whatever a local edit did to its messages.toml."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from node.alerts.schemas import read_settings as read_alert_settings
from node.bookings.schemas import read_settings as read_booking_settings
from node.consultations import service as consultations
from node.consultations.models import Consultation
from node.messaging import texts as node_texts
from node.texts import Texts, read_messages
from service_templates.engine import city_answers, new_service, templates_root

ENGLISH = {"hello": "Hello {name}, welcome to {city}.", "bye": "Goodbye."}


def write(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "messages.toml").write_text(body, encoding="utf-8")
    return folder


def texts_from(tmp_path: Path, body: str) -> Texts:
    return Texts.of(read_messages(write(tmp_path / "svc", body)), english=ENGLISH)


def test_a_text_comes_in_the_readers_language_then_the_services_default(tmp_path):
    texts = texts_from(
        tmp_path,
        'default_language = "it"\n[it]\nhello = "Ciao {name}!"\n[de]\nhello = "Hallo {name}!"\n',
    )
    assert texts.say("hello", "de", name="Ada", city="Bologna") == "Hallo Ada!"
    assert texts.say("hello", "fr", name="Ada", city="Bologna") == "Ciao Ada!"
    assert texts.say("hello", None, name="Ada", city="Bologna") == "Ciao Ada!"


def test_a_phrase_missing_from_every_table_is_the_templates_english(tmp_path):
    texts = texts_from(tmp_path, 'default_language = "it"\n[it]\nhello = "Ciao {name}!"\n')
    assert texts.say("bye", "it") == "Goodbye."


@pytest.mark.parametrize(
    "broken",
    [
        "Ciao {nome}!",  # a placeholder the node does not fill
        "Ciao {name!",  # a brace never closed
        "Ciao {0}!",  # a positional placeholder
        "Ciao {name.upper}!",  # an attribute the value does not have
        "Ciao }{ name",  # braces the wrong way round
    ],
)
def test_a_text_that_cannot_be_filled_in_falls_back_to_english(tmp_path, broken):
    body = f'default_language = "it"\n[it]\nhello = {broken!r}\n'.replace("'", '"')
    texts = texts_from(tmp_path, body)
    assert texts.say("hello", "it", name="Ada", city="Bologna") == "Hello Ada, welcome to Bologna."


def test_a_messages_file_that_is_not_toml_gives_the_english_texts(tmp_path):
    texts = texts_from(tmp_path, '[it\nhello = "Ciao"\n')
    assert texts.say("hello", "it", name="Ada", city="Bologna") == "Hello Ada, welcome to Bologna."


def test_when_even_the_english_text_cannot_be_filled_in_the_reply_still_goes(tmp_path):
    texts = texts_from(tmp_path, "")
    assert texts.say("hello", "en", name="Ada") == "Hello Ada, welcome to ."
    assert texts.say("no-such-text", "en") == "no-such-text"


def test_a_table_of_names_falls_back_like_the_texts(tmp_path):
    texts = texts_from(
        tmp_path, 'default_language = "it"\n[it.topics]\nroad-works = "Cantieri"\n[de]\nx = "y"\n'
    )
    assert texts.names("topics", "de") == {"road-works": "Cantieri"}
    assert texts.names("options", "de") == {}


def test_the_nodes_own_words_fall_back_to_english():
    assert node_texts.say("sms_stop", "et", city="Tartu").startswith("Tartu: you will get no more")
    assert node_texts.say("sms_stop", "it", city="Bologna").startswith("Bologna: non riceverai")


def generated(tmp_path: Path, template: str, **answers: str) -> Path:
    """A service folder generated from a template, as `carmen service new` writes it."""
    services = tmp_path / "services"
    new_service(
        root=templates_root(),
        template=template,
        services_dir=services,
        city=city_answers(city="Bologna", country="IT", languages=["it", "en"]),
        node_channels=["web", "app", "sms", "email", "phone", "counter"],
        assignments={"service_code": "svc", "department": "environment"} | answers,
    )
    return services / "svc"


def break_text(folder: Path, key: str, broken: str) -> None:
    lines = (folder / "messages.toml").read_text(encoding="utf-8").splitlines()
    lines = [f"{key} = {broken}" if line.startswith(f"{key} = ") else line for line in lines]
    (folder / "messages.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_an_alert_text_with_an_unknown_placeholder_is_sent_in_english(tmp_path):
    folder = generated(tmp_path, "alert-subscription", areas="Navile")
    break_text(folder, "unsubscribed", '"Non riceverà più avvisi da {comune}."')
    settings = read_alert_settings(folder)
    assert settings.say("unsubscribed", "it", city="Bologna") == (
        "You will get no more alerts from Bologna."
    )
    assert settings.topic_name("road-works", "it") == "Cantieri stradali"


def test_a_booking_text_with_a_malformed_placeholder_is_sent_in_english(tmp_path):
    folder = generated(tmp_path, "appointment-booking")
    break_text(folder, "cancelled", '"Il suo appuntamento {reference è cancellato."')
    settings = read_booking_settings(folder=folder, timezone="Europe/Rome")
    assert settings.say("cancelled", "it", reference="B-7") == "Your appointment B-7 is cancelled."
    assert settings.say("cancelled", "en", reference="B-7") == "Your appointment B-7 is cancelled."


def test_a_consultation_text_with_an_unknown_placeholder_is_sent_in_english(tmp_path):
    folder = generated(tmp_path, "consultation", opens_on="2027-03-01", closes_on="2027-03-31")
    break_text(folder, "closed", '"Chiusa il {data}."')
    consultation = Consultation(
        service_code="svc",
        question="Which?",
        options=["new-park", "cycle-lanes"],
        opens_on=date(2026, 1, 1),
        closes_on=date(2026, 2, 1),
        verification="account",
        minimum_age=16,
        timezone="Europe/Rome",
        texts=read_messages(folder),
        opened_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert consultations.text(consultation, "it", "closed", closes_on="2026-02-01") == (
        "This consultation closed on 2026-02-01."
    )
    assert consultations.option_names(consultation, "it")["new-park"] == "Un nuovo parco"
