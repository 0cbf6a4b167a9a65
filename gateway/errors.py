"""Domain exceptions. Storage and services raise these; the web layer maps them to HTTP."""


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class RecordNotFound(GatewayError):
    """The record asked for does not exist."""

    def __init__(self, kind: str, record_id: object) -> None:
        super().__init__(f"{kind} {record_id} not found")
        self.kind = kind
        self.record_id = record_id


class Conflict(GatewayError):
    """The request contradicts the record's current state (e.g. resolving twice)."""


class SchemaOutdated(GatewayError):
    """The database schema is not at the revision this code expects."""
