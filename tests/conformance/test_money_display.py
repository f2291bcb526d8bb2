"""`smets-hil gbcs decode` shows the ESME's COSEM money (millipence, 10^-5 GBP) in
GBP: the reference ECS82 meter balance 250000 is 2.50 GBP, not 2,500 GBP (the
pence reading) nor 250000 of nothing."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from hil.cli import main


def test_reference_meter_balance_decodes_in_gbp(rtds_root: Path) -> None:
    folder = rtds_root / "RTDS-4.5.0" / "4.18_ECS82"
    result = CliRunner().invoke(
        main,
        [
            "gbcs",
            "decode",
            str(folder / "ECS82_4.18_SUCCESS_RESPONSE_GBCS.HEX"),
            "--command",
            str(folder / "ECS82_4.18_SUCCESS_COMMAND_GBCS.HEX"),
            "--keys",
            str(rtds_root / "keystore"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Meter balance: 2.50 GBP" in result.output
