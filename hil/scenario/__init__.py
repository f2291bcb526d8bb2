"""Scenarios: steps run against a lab, and the test record every output is written from."""
