"""The append-only, hash-chained audit trail. A leaf every service writes to."""
