"""Domain errors: each says, in words a person understands, which rule a command broke."""


class DomainError(Exception):
    """Base of every rule the domain enforces."""


class RuleBroken(DomainError):
    """The command is well formed but the current state forbids it (HTTP 409)."""


class CapacityExhausted(RuleBroken):
    """No free room, place or seat is left for the request."""


class InvalidInput(DomainError):
    """The command carries a value that can never be valid (HTTP 422)."""


class NotFound(DomainError):
    """The command names something that does not exist (HTTP 404)."""
