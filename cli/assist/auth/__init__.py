"""Credentials: the encrypted token store, its keys, OAuth2 refresh and internal JWTs (docs/tokens.md)."""
