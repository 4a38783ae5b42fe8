"""The door-to-door line as pure aggregates, events and rules.

stdlib and eventsourcing.domain only: no I/O, no clock, no framework.
"""
