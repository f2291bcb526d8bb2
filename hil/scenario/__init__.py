"""Scenarios: steps run against a lab, and the test record every output is written from."""

from hil.scenario.model import (
    Scenario,
    ScenarioError,
    ScenarioFileError,
    check_scenario,
    load_scenarios,
    scenario,
)
from hil.scenario.runner import ScenarioContext, run_scenario, run_scenarios

__all__ = [
    "Scenario",
    "ScenarioContext",
    "ScenarioError",
    "ScenarioFileError",
    "check_scenario",
    "load_scenarios",
    "run_scenario",
    "run_scenarios",
    "scenario",
]
