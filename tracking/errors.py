"""Failures of the application layer that are not rules of the domain."""

from domain.errors import DomainError


class StoreUnavailable(Exception):
    """The database did not answer in time; the caller should retry later (HTTP 503)."""


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key came with a different request (HTTP 422)."""


class Busy(DomainError):
    """Too many concurrent writers changed the same records; try again (HTTP 409)."""


class AccessNotRecorded(Exception):
    """A read of sensitive data could not be written to the access log, so the data is not
    shown (HTTP 503): no audit, no read."""
