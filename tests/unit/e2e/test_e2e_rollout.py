"""A firmware rollout to 20 premises through mosquitto, one link in ten dropping
part-way through: every device ends on the new version or failed with a reason."""

from __future__ import annotations

import pytest

from emulator.han.broker import MosquittoBroker, find_mosquitto
from hil.rollout import NEW_VERSION, run_rollout


@pytest.mark.mosquitto
async def test_a_rollout_to_20_premises_over_mosquitto(request: pytest.FixtureRequest) -> None:
    if find_mosquitto() is None:
        selected = str(request.config.getoption("markexpr") or "")
        if "mosquitto" in selected and "not mosquitto" not in selected:
            pytest.fail("mosquitto tests were selected but no mosquitto binary is installed")
        pytest.skip("mosquitto not installed (Debian: apt-get install mosquitto)")
    async with MosquittoBroker() as broker:
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
