"""Event ingestion: turning mail, files, webhooks and timers into task documents (docs/architecture.md)."""
