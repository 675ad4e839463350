"""Words every page shows: a domain refusal placed on its form."""

from types import SimpleNamespace

from flask import get_flashed_messages

from node.display import place_errors
from node.errors import InvalidInput


def test_a_refusal_shows_next_to_its_field_and_what_no_field_shows_is_flashed_once(app):
    form = SimpleNamespace(email=SimpleNamespace(errors=()))
    refusal = InvalidInput(
        "the profile is not valid",
        {"email": "already used", "birth_year": "required", "district": "required"},
    )
    with app.test_request_context():
        place_errors(form, refusal)
        flashed = get_flashed_messages(with_categories=True)
    assert form.email.errors == ["Another profile already uses this."]
    assert flashed == [("error", "the profile is not valid")]
