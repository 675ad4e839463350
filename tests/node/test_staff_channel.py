"""The staff channel at the node: requests the city's own employees raise, apart from citizens'."""

import pytest
import sqlalchemy as sa

from node.cases.models import Event, EventKind
from node.errors import InvalidInput
from node.intake import service as intake
from node.profiles import service as profiles
from node.profiles.models import SegmentDefinition, SegmentKind


def test_any_service_takes_a_request_its_staff_raised_though_it_lists_only_public_channels(
    db_session,
):
    case = intake.submit(
        db_session=db_session,
        service_code="noise-report",  # lists web, app, sms, email, phone and counter
        channel="staff",
        description="Inspector: generator running all night behind the market hall",
        attributes={"source": "works"},
        tracking_prefix="BO",
    )
    assert case.channel == "staff"
    submitted = db_session.scalar(
        sa.select(Event).where(Event.case_id == case.id, Event.kind == EventKind.SUBMITTED)
    )
    assert submitted.channel == "staff"


def test_no_citizen_prefers_the_staff_channel_and_no_group_profile_names_it(db_session):
    with pytest.raises(InvalidInput, match="preferred_channel"):
        profiles.parse_citizen({"name": "Anna Bianchi", "preferred_channel": "staff"})
    profiles.seed_segment_definitions(db_session=db_session, districts=[])
    families = set(
        db_session.scalars(
            sa.select(SegmentDefinition.value).where(
                SegmentDefinition.kind == SegmentKind.CHANNEL_FAMILY
            )
        )
    )
    assert families == {"digital", "assisted"}
