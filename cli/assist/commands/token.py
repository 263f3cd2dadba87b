"""`assist token`: the encrypted credential store."""

from __future__ import annotations

import sys

import click

from ._common import load_config, print_json, print_table

KIND_CHOICE = click.Choice(["bearer", "api_key", "basic", "password", "oauth2"])


def _store(passphrase_prompt: bool = True):
    import os

    from ..auth.store import KDF_SCRYPT, TokenStore

    store = TokenStore(load_config().home)
    if store.passphrase is None and passphrase_prompt and store.exists() and sys.stdin.isatty():
        blob = store.path.read_bytes()
        if len(blob) > 15 and blob[15] == KDF_SCRYPT and not os.environ.get("ASSIST_KEY"):
            store.passphrase = click.prompt("Passphrase", hide_input=True)
    return store


def _log():
    from .. import log

    return log.for_component(load_config(), "token")


@click.group()
def token() -> None:
    """Keep credentials (API keys, passwords, OAuth2 tokens) in an encrypted store, tokens.enc.

    Secrets are read from stdin or a hidden prompt, never from the command line, and are never printed
    unless you ask with `show --reveal`. The store's key comes from $ASSIST_KEY, the key file token.key,
    the OS keyring, or a passphrase ($ASSIST_PASSPHRASE or a prompt).

    \b
    Examples:
      assist token init
      printf '%s' "$APP_PASSWORD" | assist token set fastmail --kind password --username me@fastmail.com
      assist token ls
    """


@token.command()
@click.option("--keyring", "where", flag_value="keyring", help="Keep the key in the OS keyring.")
@click.option("--passphrase", "where", flag_value="passphrase", help="Lock the store with a passphrase.")
@click.option("--key-file", "where", flag_value="file", default=True, help="Keep the key in token.key (default).")
def init(where: str) -> None:
    """Create an empty store and its key.

    With $ASSIST_KEY set, the store is locked with that key and no key file is written.

    \b
    Examples:
      assist token init
      ASSIST_PASSPHRASE=... assist token init --passphrase
    """
    import os

    store = _store(passphrase_prompt=False)
    if where == "passphrase" and store.passphrase is None:
        store.passphrase = click.prompt("New passphrase", hide_input=True, confirmation_prompt=True)
    if where == "file" and os.environ.get("ASSIST_KEY"):
        where = "env"
    note = store.init(where)
    click.echo(f"created {store.path}: {note}")


@token.command("set")
@click.argument("name")
@click.option("--kind", "-k", type=KIND_CHOICE, required=True, help="What sort of credential it is.")
@click.option("--username", help="basic / password: the user name.")
@click.option("--header", help="api_key: the HTTP header that carries it (e.g. X-Api-Key).")
@click.option("--token-url", help="oauth2: the token endpoint used to refresh.")
@click.option("--client-id", help="oauth2: the client id.")
@click.option("--scopes", help="oauth2: the scopes, space-separated.")
@click.option("--expires-in", metavar="DURATION", help="When the secret stops working (e.g. 1h, 90d).")
def set_(name: str, kind: str, username: str | None, header: str | None, token_url: str | None,
         client_id: str | None, scopes: str | None, expires_in: str | None) -> None:
    """Store a credential. Its secret values come from stdin or a hidden prompt, never from arguments.

    On stdin give either the one secret (bearer: token, api_key: key, basic/password: password), or a
    JSON object with the secret fields (oauth2: refresh_token, and access_token, client_secret if any).

    \b
    Examples:
      printf '%s' "$OPENAI_KEY" | assist token set openai --kind api_key --header Authorization
      echo '{"refresh_token": "...", "client_secret": "..."}' | \\
        assist token set gmail --kind oauth2 --token-url https://oauth2.googleapis.com/token --client-id ID
    """
    from ..auth.store import KINDS
    from ..timeutil import now_ms, parse_duration, rfc3339

    entry: dict = {"kind": kind}
    for field, value in (("username", username), ("header", header), ("token_url", token_url),
                         ("client_id", client_id)):
        if value:
            entry[field] = value
    if scopes:
        entry["scopes"] = scopes.split()
    if expires_in:
        try:
            entry["expires_at"] = rfc3339(now_ms() + int(parse_duration(expires_in) * 1000))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--expires-in") from None
    secret_fields = KINDS[kind]["secret"]
    if sys.stdin.isatty():
        asked = ("refresh_token", "client_secret") if kind == "oauth2" else secret_fields[:1]
        for field in asked:
            value = click.prompt(field.replace("_", " ").capitalize(), hide_input=True,
                                 default="" if field == "client_secret" else None, show_default=False)
            if value:
                entry[field] = value
    else:
        entry.update(_secrets_from_stdin(sys.stdin.buffer.read(), secret_fields))
    store = _store()
    store.set(name, entry)
    _log().info("token_set", name=name, kind=kind)
    click.echo(f"stored {name} ({kind})")


def _secrets_from_stdin(data: bytes, fields: tuple[str, ...]) -> dict:
    import orjson

    try:
        text = data.decode().strip()
    except UnicodeDecodeError:
        raise click.UsageError("the secret on stdin is not UTF-8 text") from None
    if text.startswith("{"):
        try:
            given = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise click.UsageError("stdin looks like JSON but is not valid JSON") from None
        unknown = set(given) - set(fields)
        if unknown:
            raise click.UsageError(f"unknown secret field(s) on stdin: {', '.join(sorted(unknown))} "
                                   f"(expected: {', '.join(fields)})")
        return {k: str(v) for k, v in given.items() if v}
    if not text:
        raise click.UsageError("no secret on stdin")
    return {fields[0]: text}


@token.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ls(as_json: bool) -> None:
    """List stored credentials: names, kinds and expiry, never their values.

    \b
    Example:
      assist token ls
    """
    entries = _store().names()
    if as_json:
        print_json(entries)
        return
    if not entries:
        click.echo("no tokens stored (add one with `assist token set NAME --kind KIND`)")
        return
    print_table(["name", "kind", "user / client", "expires", "updated"],
                [[e["name"], e["kind"], e.get("username") or e.get("client_id", ""), _when(e.get("expires_at")),
                  e.get("updated_at", "")] for e in entries])


def _when(at: str | None) -> str:
    if not at:
        return "-"
    from ..timeutil import human_age, now_ms, parse_rfc3339

    delta = (parse_rfc3339(at) - now_ms()) / 1000
    return f"in {human_age(delta)}" if delta > 0 else f"EXPIRED {human_age(-delta)} ago"


@token.command()
@click.argument("name")
@click.option("--reveal", is_flag=True, help="Print the secret values too.")
def show(name: str, reveal: bool) -> None:
    """Show one credential as JSON; secret values only with --reveal.

    \b
    Example:
      assist token show gmail
    """
    from ..auth.store import SECRET_FIELDS, public

    store = _store()
    entry = store.get(name)
    if reveal:
        _log().info("token_revealed", name=name)
        print_json({"name": name, **entry})
    else:
        shown = public(name, entry)
        print_json({**shown, **{f: "(hidden: use --reveal)" for f in SECRET_FIELDS if entry.get(f)}})


@token.command()
@click.argument("name")
def rm(name: str) -> None:
    """Delete a credential.

    \b
    Example:
      assist token rm old-api
    """
    _store().remove(name)
    _log().info("token_removed", name=name)
    click.echo(f"removed {name}")


@token.command()
@click.argument("name")
def refresh(name: str) -> None:
    """Get a new OAuth2 access token with the stored refresh token, now.

    \b
    Example:
      assist token refresh gmail
    """
    from ..auth.oauth import refresh as do_refresh

    entry = do_refresh(_store(), name, force=True)
    _log().info("token_refreshed", name=name, expires_at=entry.get("expires_at"))
    click.echo(f"refreshed {name}: expires {entry.get('expires_at') or 'never'}")


@token.command("sign-in")
@click.argument("name")
@click.option("--client-id", required=True, help="Your app registration's client id.")
@click.option("--provider", type=click.Choice(sorted(["microsoft", "google"])),
              help="Fill in the endpoints and mail scopes: microsoft (Outlook.com, Microsoft 365) signs in with "
                   "a device code, google (Gmail, Google Workspace) in a browser.")
@click.option("--tenant", default="common", show_default=True,
              help="microsoft: your organisation (its tenant id or domain), or consumers / organizations.")
@click.option("--device-url", help="Sign in with a device code (RFC 8628) at this endpoint.")
@click.option("--auth-url", help="Sign in in a browser at this authorization endpoint (with PKCE).")
@click.option("--token-url", help="The token endpoint, if not --provider's.")
@click.option("--scopes", help="Space-separated, if not --provider's mail scopes.")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Browser sign-in: the port on 127.0.0.1 the browser comes back to (default: a free one; fix "
                   "it to forward it with ssh -L from the machine with the browser).")
def sign_in(name: str, client_id: str, provider: str | None, tenant: str, device_url: str | None,
            auth_url: str | None, token_url: str | None, scopes: str | None, port: int) -> None:
    """Sign in to an OAuth2 provider and keep the tokens as NAME (kind oauth2), for a mail account that
    takes only OAuth2.

    With a device code (Outlook.com, Microsoft 365), from a machine with or without a browser: it prints
    an address and a code, and you sign in there on any device. In a browser (Gmail and Google Workspace,
    whose device flow allows no mail scope): it prints an address to open in a browser on this machine
    (or one whose port is forwarded here), and the provider sends the browser back to it. The client
    secret, if your app has one (Google's do), is read from stdin or a hidden prompt. The refresh token is
    stored, from which the access token is renewed as it expires. The client id is that of an app you
    register with the provider (docs/tokens.md says how): none ships with this program. Signing in again
    under the same NAME replaces the entry; a declined or expired sign-in stores nothing (exit 1). Then
    `assist init ... --token NAME` uses it for the mail account.

    \b
    Examples:
      assist token sign-in outlook --provider microsoft --client-id YOUR-APP-ID
      assist token sign-in work --provider microsoft --tenant example.com --client-id YOUR-APP-ID
      assist token sign-in gmail --provider google --client-id YOUR-CLIENT-ID.apps.googleusercontent.com
    """
    import re
    from urllib.parse import urlsplit

    from ..auth.oauth import PROVIDERS, browser_sign_in, device_sign_in
    from ..net import is_loopback

    if not re.fullmatch(r"[\w.-]{1,100}", tenant):
        raise click.BadParameter(f"{tenant!r}: a tenant id, a domain, consumers or organizations",
                                 param_hint="--tenant")
    preset = PROVIDERS[provider] if provider else {}
    given = {"device_url": device_url, "auth_url": auth_url, "token_url": token_url, "scopes": scopes}
    if device_url or auth_url:  # an endpoint given picks the way of signing in
        preset = {key: value for key, value in preset.items() if key not in ("device_url", "auth_url")}
    urls = {key: value or (preset[key].format(tenant=tenant) if key in preset else None)
            for key, value in given.items()}
    if not (urls["device_url"] or urls["auth_url"]) or not urls["token_url"] or not urls["scopes"]:
        raise click.UsageError("give --provider, or --device-url (or --auth-url), --token-url and --scopes")
    for key in ("device_url", "auth_url", "token_url"):
        parts = urlsplit(urls[key] or "https://")
        if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.hostname or "")):
            raise click.BadParameter(f"{urls[key]}: tokens are asked for over https (http only on this machine)",
                                     param_hint="--" + key.replace("_", "-"))
    store = _store()
    store.names()  # opened before the person signs in: a store that is not there, or locked, says so now
    scope_list = str(urls["scopes"]).split()
    if urls["device_url"]:
        def show_code(address: str, code: str, seconds: int) -> None:
            click.echo(f"To sign in, open {address} and enter the code {code} (within {seconds // 60} minutes); "
                       "waiting...", err=True)

        entry = device_sign_in(name, str(urls["device_url"]), str(urls["token_url"]), client_id, scope_list,
                               show_code)
    else:
        secret = _client_secret()

        def show_address(address: str) -> None:
            click.echo(f"To sign in, open {address} in a browser on this machine; waiting...", err=True)

        entry = browser_sign_in(name, str(urls["auth_url"]), str(urls["token_url"]), client_id, secret, scope_list,
                                show_address, port, preset.get("asked"))
    store.set(name, entry)
    _log().info("token_set", name=name, kind="oauth2", how="device code" if urls["device_url"] else "browser")
    click.echo(f"signed in: {name} (oauth2), refreshed as it expires")


def _client_secret() -> str | None:
    """An app's client secret: stdin's first line, or a hidden prompt on a terminal; none when empty."""
    if sys.stdin.isatty():
        given = click.prompt("Client secret (Enter for none)", hide_input=True, default="", show_default=False)
    else:
        given = sys.stdin.readline()
    return given.strip() or None


@token.command("rotate-key")
@click.option("--keyring", "where", flag_value="keyring", help="Keep the new key in the OS keyring.")
@click.option("--passphrase", "where", flag_value="passphrase", help="Lock the store with a new passphrase.")
@click.option("--key-file", "where", flag_value="file", default=True, help="Keep the new key in token.key (default).")
def rotate_key(where: str) -> None:
    """Re-encrypt the store under a new key (the old key file is replaced).

    \b
    Example:
      assist token rotate-key
    """
    store = _store()
    store.load()  # the old key must work before anything changes
    new_passphrase = None
    if where == "passphrase":
        import os

        new_passphrase = os.environ.get("ASSIST_NEW_PASSPHRASE")
        if not new_passphrase:
            if not sys.stdin.isatty():
                raise click.UsageError("set ASSIST_NEW_PASSPHRASE, or run in a terminal to type it")
            new_passphrase = click.prompt("New passphrase", hide_input=True, confirmation_prompt=True)
    note = store.rotate_key(where, new_passphrase)
    _log().info("token_key_rotated", where=where)
    click.echo(f"re-encrypted {store.path}: {note}")


@token.command()
@click.option("--audience", required=True, help="Who accepts it: ingest (assist ingest http) or serve.")
@click.option("--ttl", default="5m", show_default=True, metavar="DURATION", help="How long it is valid.")
@click.option("--subject", default="cli", show_default=True, help="Who it names (shown in logs).")
def jwt(audience: str, ttl: str, subject: str) -> None:
    """Print a short-lived JWT signed with the store's key, for assist's own HTTP endpoints.

    \b
    Example:
      curl -H "Authorization: Bearer $(assist token jwt --audience ingest)" ...
    """
    from ..auth.jwt_tokens import mint
    from ..timeutil import parse_duration

    try:
        seconds = parse_duration(ttl)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--ttl") from None
    click.echo(mint(_store(), audience=audience, subject=subject, ttl_s=seconds))
