"""The shared vocabulary: age bands and histogram buckets as every node and the hub use them."""

import pytest

from federation.protocol.vocabulary import (
    AgeBand,
    duration_bucket_index,
    duration_bucket_names,
)


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (None, AgeBand.UNKNOWN),
        (15, AgeBand.UNKNOWN),
        (16, AgeBand.A16_24),
        (24, AgeBand.A16_24),
        (25, AgeBand.A25_54),
        (55, AgeBand.A55_74),
        (74, AgeBand.A55_74),
        (75, AgeBand.A75_PLUS),
    ],
)
def test_ages_fall_into_eurostat_internet_use_bands(age, band):
    from federation.protocol.vocabulary import age_band

    assert age_band(age) is band


def test_every_duration_lands_in_exactly_one_named_bucket():
    names = duration_bucket_names("time_to_complete")
    assert names[0] == "time_to_complete_h_le_1"
    assert names[-1] == "time_to_complete_h_gt_720"
    assert duration_bucket_index(0.5) == 0
    assert duration_bucket_index(1.0) == 0
    assert duration_bucket_index(1.01) == 1
    assert duration_bucket_index(10_000) == len(names) - 1


def test_the_staff_channel_is_internal_and_no_channel_of_citizens():
    from federation.protocol.vocabulary import (
        CHANNEL_FAMILY,
        CITIZEN_CHANNELS,
        Channel,
        ChannelFamily,
    )

    assert CHANNEL_FAMILY[Channel.STAFF] is ChannelFamily.INTERNAL
    assert Channel.STAFF not in CITIZEN_CHANNELS
    assert set(CITIZEN_CHANNELS) | {Channel.STAFF} == set(Channel)
