"""Bodies of the ingest endpoint: the wire's MetricsSnapshot in, IngestReceipt out."""

from federation.protocol.models import IngestReceipt, IngestStatus, MetricsSnapshot

__all__ = ["IngestReceipt", "IngestStatus", "MetricsSnapshot"]
