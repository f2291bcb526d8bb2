"""Fleets of emulated premises across worker processes and machines, over an MQTT broker.

`hil.fleet.coordinator` publishes a run and watches it, `hil.fleet.worker` holds
one shard of the premises and sends their traffic, `hil.fleet.mix` is the
scenario mix file, `hil.fleet.traffic` the seeded per-premises requests,
`hil.fleet.protocol` the control topics, `hil.fleet.report` the JSON and HTML
reports. docs/fleet.md describes the whole.
"""
