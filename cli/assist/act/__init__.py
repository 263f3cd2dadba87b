"""Actions: what the assistant does in the world, under route policies, approvals and a journal (docs/actions.md)."""
