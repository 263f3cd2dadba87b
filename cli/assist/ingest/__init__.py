"""Event ingestion: turning mail, files, webhooks and timers into task documents (DESIGN §1)."""
