"""The decision engine: rules, an offline intent model and the fallback (docs/classify.md)."""
