"""A firmware rollout to 20 premises through mosquitto, one link in ten dropping
part-way through: every device ends on the new version or failed with a reason."""

from __future__ import annotations

import pytest
from broker_support import mosquitto_or_skip

from hil.rollout import NEW_VERSION, run_rollout


@pytest.mark.mosquitto
async def test_a_rollout_to_20_premises_over_mosquitto(request: pytest.FixtureRequest) -> None:
    async with mosquitto_or_skip(request.config) as broker:
        report = await run_rollout(
            lambda i: broker.url_for(f"rollout{i}"), 20, drop_share=0.1, image_size=4096
        )
    assert report.devices == 40  # an ESME and a PPMID each
    assert len(report.dropped_links) == 2
    assert report.updated + len(report.failed) == report.devices
    assert all(reason for reason in report.failed.values())
    assert report.updated == 40, report.failed  # every link came back: all updated
    assert report.resumed == 2  # the dropped transfers went on from where they stopped
    assert report.image_bytes > 0 and report.wall_s > 0
    assert f"{NEW_VERSION:08X}" == "01000002"
