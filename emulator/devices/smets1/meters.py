"""Emulated SMETS1 devices: meters, PPMID and the hub's own firmware, sans-IO.

Each device executes one `VendorCommand` at a time (`execute`) and answers with
a `VendorReply`; the hub (`hub.Smets1Hub`) puts them on a link and applies the
model's delay before a command runs. Money is held in the model's own units
(`Smets1Profile.money_resolution_mp` millipence each: whole pence for the Secure
cohort); time-driven state (standing charge, debt recovery, energy) is brought
up to the clock lazily (`catch_up`), as GBCS devices do.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field
from typing import Any

from emulator.clock import Clock
from emulator.devices.smets1.profile import Behaviour, Smets1Profile
from emulator.devices.smets1.protocol import COMMANDS, VendorCommand, VendorReply
from emulator.gbcs.eui import Eui64

log = logging.getLogger(__name__)

KINDS = ("CHF", "ESME", "GSME", "PPMID")
PAYMENT_MODES = ("credit", "prepayment")
DAY = 86_400.0


class Rejected(Exception):
    """The device refuses the command (mode, state or limit): reply status `rejected`."""

    def __init__(self, code: str, text: str, status: str = "rejected") -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.status = status


@dataclass
class Smets1Device:
    """What every SMETS1 device has: identity, clock in its time base, firmware."""

    eui: Eui64
    kind: str
    profile: Smets1Profile
    clock: Clock
    firmware_version: str = ""
    pending_images: dict[str, str] = field(default_factory=dict)  # hash -> version
    last_delay_s: float = 0.0
    last_executed_at: str = ""  # UTC ISO time the last command ran
    #: Commands executed, by name (every known command present, from 0).
    commands: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMMANDS, 0))

    def __post_init__(self) -> None:
        if not self.firmware_version:
            self.firmware_version = self.profile.factory.firmware_version

    # -- time in the device's base -----------------------------------------------------------
    def local_now(self) -> _dt.datetime:
        return self.clock.now().astimezone(self.profile.timezone)

    @property
    def local_time(self) -> str:
        """The time the device shows (its own base, no offset), e.g. 2026-03-29T02:30:00."""
        return self.local_now().replace(tzinfo=None).isoformat(timespec="seconds")

    @property
    def dst(self) -> bool:
        return bool(self.local_now().dst())

    def catch_up(self) -> None:
        """Devices without time-driven state have nothing to bring up to date."""

    # -- commands -------------------------------------------------------------------------------
    def execute(self, command: VendorCommand, delay_s: float = 0.0) -> VendorReply:
        self.catch_up()
        self.last_delay_s = delay_s
        self.last_executed_at = self.clock.now().isoformat()
        try:
            data = self._run(command.cmd, command.args)
        except Rejected as exc:
            log.info("SMETS1 %s %s: %s %s", self.kind, self.eui, command.cmd, exc.code)
            return self._reply(command, exc.status, exc.code, exc.text, {}, delay_s)
        self.commands[command.cmd] += 1
        return self._reply(command, "ok", "OK", "", data, delay_s)

    def _reply(
        self,
        command: VendorCommand,
        status: str,
        code: str,
        text: str,
        data: dict[str, Any],
        delay_s: float,
    ) -> VendorReply:
        return VendorReply(
            command.id, command.device, status, code, text, data, self.local_time, self.dst, delay_s
        )

    def _run(self, cmd: str, args: dict[str, Any]) -> dict[str, Any]:
        if cmd == "read_time":
            return {}
        if cmd == "read_firmware":
            return {"version": self.firmware_version}
        if cmd == "load_firmware":
            return self._load_firmware(args)
        if cmd == "activate_firmware":
            image_hash = str(args["image_hash"])
            version = self.pending_images.pop(image_hash, None)
            if version is None:
                raise Rejected("UNKNOWN_IMAGE", f"no image {image_hash[:16]}... held", "failed")
            self.firmware_version = version
            return {"version": version}
        raise Rejected("NOT_SUPPORTED", f"a SMETS1 {self.kind} does not do {cmd}")

    def _load_firmware(self, args: dict[str, Any]) -> dict[str, Any]:
        self.pending_images[str(args["image_hash"])] = str(args["version"])
        return {"held": str(args["image_hash"])}


@dataclass
class Smets1Ppmid(Smets1Device):
    """A PPMID: on the Secure cohort its firmware only arrives through the hub's regime."""

    def _load_firmware(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.profile.has(Behaviour.PPMID_FIRMWARE_VIA_HUB):
            raise Rejected("HUB_REGIME_ONLY", "PPMID firmware is loaded through the hub")
        return super()._load_firmware(args)

    def receive_from_hub(self, image_hash: str, version: str) -> None:
        self.pending_images[image_hash] = version


@dataclass
class Smets1Meter(Smets1Device):
    """An electricity (ESME) or gas (GSME) meter with its prepayment state."""

    payment_mode: str = ""
    balance_units: int = 0
    debt_units: int = 0
    debt_recovery_units_per_day: int = 0
    standing_charge_units_per_day: int = 0
    ec_active: bool = False
    ec_limit_units: int = 0
    ec_threshold_units: int = 0
    supply_enabled: bool = True
    debt_recovery_order: list[str] = field(default_factory=list)
    disablement_not_allowed: bool = False
    non_disablement: list[Any] = field(default_factory=list)
    scripts_by_day: dict[str, int] = field(default_factory=dict)  # local date -> scripts
    standing_charge_collected_units: int = 0
    debt_collected_units: int = 0
    import_wh: float = 0.0
    load_w: float = 500.0
    _last: _dt.datetime | None = None
    _sc_part: float = 0.0
    _debt_part: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        factory, per = self.profile.factory, self.profile.money_resolution_mp
        if not self.payment_mode:
            self.payment_mode = factory.payment_mode
        if not self.debt_recovery_order:
            self.debt_recovery_order = list(factory.debt_recovery_order)
        self.disablement_not_allowed = factory.disablement_not_allowed
        self.balance_units = factory.balance_pence * 1000 // per
        self.ec_limit_units = factory.ec_limit_pence * 1000 // per
        self.ec_threshold_units = factory.ec_threshold_pence * 1000 // per
        self.standing_charge_units_per_day = factory.standing_charge_pence_per_day * 1000 // per
        self._last = self.clock.now()

    # -- money as the consumer sees it -----------------------------------------------------------
    def _pence(self, units: int) -> float:
        return units * self.profile.money_resolution_mp / 1000

    @property
    def balance_pence(self) -> float:
        return self._pence(self.balance_units)

    @property
    def debt_pence(self) -> float:
        return self._pence(self.debt_units)

    @property
    def ec_limit_pence(self) -> float:
        return self._pence(self.ec_limit_units)

    @property
    def standing_charge_collected_pence(self) -> float:
        return self._pence(self.standing_charge_collected_units)

    @property
    def debt_collected_pence(self) -> float:
        return self._pence(self.debt_collected_units)

    @property
    def debt_collection_suspended(self) -> bool:
        """Debt recovery stops while supply is disabled or emergency credit is in use."""
        return not self.supply_enabled or self.ec_active

    @property
    def scripts_today(self) -> int:
        return self.scripts_by_day.get(self.local_now().date().isoformat(), 0)

    # -- time-driven state -----------------------------------------------------------------------
    def catch_up(self) -> None:
        now = self.clock.now()
        last = self._last or now
        seconds = (now - last).total_seconds()
        self._last = now
        if seconds <= 0:
            return
        if self.supply_enabled:
            self.import_wh += self.load_w * seconds / 3600
        if self.payment_mode != "prepayment":
            return
        suspended = self.debt_collection_suspended
        charge = not suspended or self.profile.has(Behaviour.STANDING_CHARGE_WHILE_DEBT_SUSPENDED)
        if charge:
            self._sc_part += self.standing_charge_units_per_day * seconds / DAY
            whole = int(self._sc_part)
            self._sc_part -= whole
            self.balance_units -= whole
            self.standing_charge_collected_units += whole
        if not suspended and self.debt_units > 0:
            self._debt_part += self.debt_recovery_units_per_day * seconds / DAY
            whole = min(int(self._debt_part), self.debt_units)
            self._debt_part -= int(self._debt_part)
            self.balance_units -= whole
            self.debt_units -= whole
            self.debt_collected_units += whole

    # -- commands ---------------------------------------------------------------------------------
    def _run(self, cmd: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, f"_cmd_{cmd}", None)
        if handler is None:
            return super()._run(cmd, args)
        result: dict[str, Any] = handler(args)
        return result

    def _balance(self) -> dict[str, Any]:
        return {
            "balance_units": self.balance_units,
            "debt_units": self.debt_units,
            "ec_active": self.ec_active,
            "resolution_mp": self.profile.money_resolution_mp,
        }

    def _cmd_read_balance(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._balance()

    def _cmd_read_registers(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"import_wh": int(self.import_wh)}

    def _cmd_read_payment_mode(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"mode": self.payment_mode}

    def _cmd_read_supply(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"enabled": self.supply_enabled}

    def _cmd_read_config(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "debt_recovery_order": list(self.debt_recovery_order),
            "disablement_not_allowed": self.disablement_not_allowed,
            "payment_mode": self.payment_mode,
        }

    def _units(self, args: dict[str, Any], name: str) -> int:
        value = args.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise Rejected("BAD_ARGUMENT", f"{name} must be an integer number of units")
        return value

    def _cmd_top_up(self, args: dict[str, Any]) -> dict[str, Any]:
        units = self._units(args, "units")
        most = self.profile.limits.max_top_up_pence * 1000 // self.profile.money_resolution_mp
        if not 0 < units <= most:
            raise Rejected("LIMIT", f"top-up of {units} units outside 1..{most}")
        self.balance_units += units
        return self._balance()

    def _cmd_set_payment_mode(self, args: dict[str, Any]) -> dict[str, Any]:
        mode = args.get("mode")
        if mode not in PAYMENT_MODES:
            raise Rejected("BAD_ARGUMENT", f"mode must be one of {', '.join(PAYMENT_MODES)}")
        self.payment_mode = str(mode)
        return {"mode": self.payment_mode}

    def _cmd_set_prepay_config(self, args: dict[str, Any]) -> dict[str, Any]:
        config = args["config"]
        if not isinstance(config, dict):
            raise Rejected("BAD_ARGUMENT", "config must be an object")
        if self.payment_mode == "credit" and self.profile.has(Behaviour.CREDIT_MODE_2_1_REJECTED):
            raise Rejected("CREDIT_MODE", "prepayment configuration refused in credit mode")
        limit = self.profile.limits.non_disablement_scripts_per_day
        script = config.get("non_disablement")
        if script is not None and limit is not None and self.scripts_today >= limit:
            raise Rejected(
                "SCRIPT_LIMIT",
                f"{self.scripts_today} non-disablement scripts today (limit {limit})",
            )
        for key in ("ec_limit_units", "ec_threshold_units"):
            if key in config:
                setattr(self, key, self._units(config, key))
        if "debt_recovery_order" in config:
            self.debt_recovery_order = [str(v) for v in config["debt_recovery_order"]]
        if "disablement_not_allowed" in config:
            self.disablement_not_allowed = bool(config["disablement_not_allowed"])
        if script is not None:
            day = self.local_now().date().isoformat()
            self.scripts_by_day[day] = self.scripts_by_day.get(day, 0) + 1
            self.non_disablement = list(script) if isinstance(script, list) else [script]
        return {"scripts_today": self.scripts_today}

    def _cmd_set_debt(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.payment_mode != "prepayment" and self.profile.has(Behaviour.DEBT_PREPAYMENT_ONLY):
            raise Rejected("NOT_IN_PREPAYMENT", "debt can only be set in prepayment mode")
        units = self._units(args, "units")
        rate = self._units(args, "recovery_units_per_day")
        most = self.profile.limits.max_debt_pence * 1000 // self.profile.money_resolution_mp
        if not 0 <= units <= most or rate < 0:
            raise Rejected("LIMIT", f"debt of {units} units outside 0..{most}")
        self.debt_units, self.debt_recovery_units_per_day = units, rate
        return self._balance()

    def _cmd_activate_ec(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.ec_active or self.balance_units > self.ec_threshold_units:
            why = "already in use" if self.ec_active else "balance above the threshold"
            if self.profile.has(Behaviour.EC_ACTIVATION_FAILURE_RESPONSE):
                raise Rejected(
                    "EC_ACTIVATION_FAILED", f"emergency credit not activated: {why}", "failed"
                )
            log.info(
                "SMETS1 %s: emergency credit not activated (%s), reported as done", self.eui, why
            )
            return {**self._balance(), "ec_active": self.ec_active}
        self.ec_active = True
        return self._balance()

    def _cmd_set_supply(self, args: dict[str, Any]) -> dict[str, Any]:
        self.supply_enabled = bool(args["enabled"])
        return {"enabled": self.supply_enabled}


def make_device(kind: str, eui: Eui64, profile: Smets1Profile, clock: Clock) -> Smets1Device:
    if kind not in KINDS:
        raise ValueError(f"a SMETS1 premises has no {kind} (known: {', '.join(KINDS)})")
    if kind in ("ESME", "GSME"):
        return Smets1Meter(eui, kind, profile, clock)
    if kind == "PPMID":
        return Smets1Ppmid(eui, kind, profile, clock)
    return Smets1Device(eui, kind, profile, clock)
