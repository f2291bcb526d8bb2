"""6.22 ESME (ECS25a-b3): the body's Enable / Disable settings are carried into the
512-bit alert configuration string (`emulator.gbcs.alert_settings`)."""

from __future__ import annotations

from duis_support import request_xml

from emulator.gbcs import alert_settings
from emulator.gbcs.dlms.axdr import BitString
from hil.dcc.routes import route
from hil.duis.transform import Transformed, transform
from hil.duis.xml import parse, read_request


def _t(settings: str, group: str) -> Transformed:
    inner = f"<sr:{group}>{settings}</sr:{group}>"
    body = f"<sr:ConfigureAlertBehaviour>{inner}</sr:ConfigureAlertBehaviour>"
    return transform(read_request(parse(request_xml(body, "6.22"))), device_type="ESME")


def test_the_logging_settings_are_carried_into_their_use_case() -> None:
    t = _t(
        "<sr:SupplierESMECommon><sr:x8145>Disable</sr:x8145><sr:x81A0>Enable</sr:x81A0>"
        "</sr:SupplierESMECommon>",
        "ElectricitySupplierLoggingSettings",
    )
    assert route("6.22", "ESME", t.option).use_case == "ECS25a3" and t.unmapped == []
    value = t.params["values"]["0"]
    assert isinstance(value, BitString) and value.bits == 512
    assert alert_settings.decode(value.value) == {0x8145: False, 0x81A0: True}


def test_a_changed_setting_changes_the_string() -> None:
    common = "<sr:SupplierESMECommon><sr:x810D>{}</sr:x810D></sr:SupplierESMECommon>"
    on = _t(common.format("Enable"), "ElectricitySupplierAlerts").params["values"]["0"]
    off = _t(common.format("Disable"), "ElectricitySupplierAlerts").params["values"]["0"]
    assert on.value != off.value
    assert on.value[:32] == off.value[:32]  # the same alert is set, to another value


def test_the_network_operator_settings_take_their_route() -> None:
    t = _t(
        "<sr:NetworkOperatorESMECommon><sr:x8015>Enable</sr:x8015></sr:NetworkOperatorESMECommon>",
        "ElectricityNetworkOperatorAlerts",
    )
    assert route("6.22", "ESME", t.option).use_case == "ECS25b" and t.unmapped == []
    assert t.params["values"]["0"].value == alert_settings.encode({0x8015: True})
