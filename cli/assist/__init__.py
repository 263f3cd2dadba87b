"""assist: a local-first orchestration layer for a personal AI assistant."""

__version__ = "0.1.0"
