"""`assist init`: make a working home in one step."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..config import Config
    from ..init_home import MailAccount, Plan


def _account_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from ..init_home import ACCOUNT_NAME

    if value is not None and not ACCOUNT_NAME.fullmatch(value):
        raise click.BadParameter("a name of 1-40 letters, digits, - and _, the first a letter or digit (e.g. work)")
    return value


@click.command()
@click.option("--account", metavar="NAME", callback=_account_name,
              help="Add another mail account of yours under this name (the mail flags are its): signed in to "
                   "first, its sections added to assist.toml, the rest left as it is.")
@click.option("--imap-host", metavar="HOST", help="Your mail server (IMAP), e.g. imap.fastmail.com.")
@click.option("--imap-port", type=int, default=None, help="Default: 993 with TLS, 143 otherwise.")
@click.option("--imap-security", type=click.Choice(["tls", "starttls", "plain"]), default="tls", show_default=True,
              help="plain only for a server on this machine.")
@click.option("--user", metavar="LOGIN", help="The mail login (usually your address).")
@click.option("--password-stdin", is_flag=True, help="Read the mail password from stdin (else it is asked).")
@click.option("--password-env", metavar="NAME", help="Take the password from this environment variable instead "
              "(it is not stored).")
@click.option("--token", metavar="NAME", help="Use an entry already in the token store (a password, an OAuth2 "
              "token: `assist token set`).")
@click.option("--smtp-host", metavar="HOST", help="The server to send through (SMTP); default: none (no sending).")
@click.option("--smtp-port", type=int, default=None, help="Default: 587 with STARTTLS, 465 with TLS.")
@click.option("--smtp-security", type=click.Choice(["tls", "starttls", "plain"]), default="starttls",
              show_default=True)
@click.option("--from", "sender", metavar="ADDRESS", help="The From of mail sent (default: --user).")
@click.option("--cafile", type=click.Path(dir_okay=False, exists=True), help="Trust this CA (a private server).")
@click.option("--notes", metavar="DIR", default="notes", show_default=True,
              help="The folder of Markdown notes (relative: under the home).")
@click.option("--spamd", metavar="HOST:PORT", help="A spamd to check each mail with (SpamAssassin's daemon), or "
              "none. Default: the one at 127.0.0.1:783 if it answers.")
@click.option("--alerts", "alerts", type=click.Choice(["desktop", "none"]), default=None,
              help="Desktop notifications when something waits for your approval or fails (default: on when "
                   "this machine has a desktop session to show them in).")
@click.option("--no-model", is_flag=True, help="Do not fetch the default language model now.")
@click.option("--preview", "preview_count", type=click.IntRange(0, 50), default=5, show_default=True,
              help="Show what would happen to this many of the newest messages (nothing is done).")
@click.option("--systemd", is_flag=True,
              help="Install and start systemd user units instead of printing crontab lines.")
@click.option("--force", is_flag=True, help="Replace an existing assist.toml (the old one is kept as a backup).")
def init(account: str | None, imap_host: str | None, imap_port: int | None, imap_security: str, user: str | None,
         password_stdin: bool, password_env: str | None, token: str | None, smtp_host: str | None,
         smtp_port: int | None, smtp_security: str, sender: str | None, cafile: str | None, notes: str,
         spamd: str | None, alerts: str | None, no_model: bool, preview_count: int, systemd: bool, force: bool) -> None:
    """Make a working home in one step: first a sign-in to the mail account (IMAP, and SMTP when given;
    nothing read or sent): a wrong password, port or certificate is said, and nothing is written. Then
    an assist.toml whose routes all work, the mail password in the encrypted token store, a local spamd
    when there is one, desktop alerts when there is a desktop, the default model, a check, whom you wrote
    to (the Sent folder's To and Cc: their mail is never filed in Junk unasked), a look at the newest
    messages, and how to run it.

    The home is --home, else $ASSIST_HOME, else the nearest folder upward with an assist.toml, else the user
    data folder (~/.local/share/assist). Questions are asked on a terminal for what the flags leave out (a
    password refused is asked again); without a terminal, what is not given is left out (no mail account:
    the notes routes still work). Run again, it changes nothing that is already right; an assist.toml of
    yours that differs is kept, and the one init would write goes beside it (assist.toml.new) unless
    --force.

    Another account of yours (work, say) is added with --account NAME and its own mail flags: the same
    sign-in first, its password kept as mail-NAME, [actions.imap.accounts.NAME] (and
    [actions.smtp.accounts.NAME] with --smtp-host) added to your assist.toml, whom you wrote to from it, a
    look at its newest mail, and the crontab lines (or units) that fetch every account. Its mail is acted on
    in that account (docs/ingest.md, "More than one account").

    \b
    Examples:
      assist init                                          # asks
      assist init --imap-host imap.fastmail.com --user me@fastmail.com --smtp-host smtp.fastmail.com
      echo "$PASSWORD" | assist init --imap-host 127.0.0.1 --imap-security plain --user me --password-stdin
      assist init --spamd 127.0.0.1:783                    # SpamAssassin's spamd as one more spam signal
      assist init --account work --imap-host outlook.office365.com --user me@corp.example --token work
    """
    from .. import init_home as setup
    from ..home import find_home

    home = find_home()
    home.mkdir(parents=True, exist_ok=True)
    asking = sys.stdin.isatty() and not password_stdin
    if imap_host is None and asking:
        imap_host = click.prompt("Mail server (IMAP) host, empty for none", default="", show_default=False) or None
    if account is not None and not imap_host:
        raise click.UsageError("--account NAME adds a mail account: give its --imap-host and --user too")
    home_wide = [flag for flag, given in (("--notes", notes != "notes"), ("--spamd", spamd), ("--alerts", alerts),
                                          ("--force", force)) if given]
    if account is not None and home_wide:
        raise click.UsageError(f"{', '.join(home_wide)}: of the whole home, not of an account: run assist init "
                               "without --account for that")
    mail, ask_again = None, None
    if imap_host:
        if user is None:
            if not asking:
                raise click.UsageError("--user is needed with --imap-host")
            user = click.prompt("Mail login")
        password = None
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        elif not token and not password_env and asking:
            question = f"Password for {user} (kept encrypted in {home}/tokens.enc)"
            password = click.prompt(question, hide_input=True)
            ask_again = lambda: click.prompt(question, hide_input=True)  # noqa: E731 (refused: asked again)
        if not (password or token or password_env):
            raise click.UsageError("give the mail password: --password-stdin, --password-env NAME or --token NAME")
        if smtp_host is None and asking:
            smtp_host = click.prompt("Server to send through (SMTP), empty for none", default="",
                                     show_default=False) or None
        mail = setup.MailAccount(imap_host, user, imap_port, imap_security, smtp_host, smtp_port, smtp_security,
                                 sender, password, token, password_env, cafile)
    if account is not None:  # the rest of the home is as the person has it
        plan = setup.Plan(mail=mail, pull_model=not no_model, account=account)
        sys.exit(_run(home, plan, preview_count, systemd, ask_again))
    try:
        found, said = setup.find_spamd(spamd)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--spamd") from None
    desktop, told = setup.find_desktop(alerts)
    plan = setup.Plan(notes=notes, mail=mail, pull_model=not no_model, force=force, spamd=found,
                      desktop_alerts=desktop, said=[said, told])
    sys.exit(_run(home, plan, preview_count, systemd, ask_again))


def _run(home: Path, plan: Plan, preview_count: int, systemd: bool,
         ask_again: Callable[[], str] | None = None) -> int:
    from .. import init_home as setup
    from ..config_file import load, problems, read
    from ..errors import CONFIG

    click.echo(f"assist init: home {home}")
    added = setup.add_account(home, plan.account, plan.mail) if plan.account and plan.mail else None
    if plan.mail is not None:
        refused = _sign_in(home, plan.mail, ask_again)
        if refused is not None:
            return refused
    made = setup.ensure_token_store(home)
    if made:
        click.echo(f"  {made}")
    if plan.mail is not None:
        kept = setup.keep_password(home, plan.mail, plan.account)
        if kept:
            click.echo(f"  {kept}")
    if added is not None:
        text, what = added
        if text is not None:
            setup.replace_config(home / "assist.toml", text)
    else:
        text = setup.template() + "\n" + setup.accounts(plan, setup.other_accounts(home))
        _, what = setup.write_config(home, text, plan.force)
    click.echo(f"  assist.toml: {what}")
    for line in plan.said:
        click.echo(f"  {line}")
    config_path = home / "assist.toml"
    errors, gaps = problems(read(config_path), config_path)
    for line in [*errors, *gaps]:
        click.echo(f"  problem: {line}", err=True)
    if errors:
        return CONFIG
    config = load(home)
    if plan.pull_model:
        from ..ai.pull import DEFAULT, best_pulled, pull

        pulled = best_pulled(home / "models")
        if pulled is not None:
            click.echo(f"  model: {pulled.name} is there ({pulled.file})")
        else:
            click.echo(f"  model: fetching {DEFAULT.name} ({DEFAULT.size / 1e6:,.0f} MB, {DEFAULT.license}) ...")
            pull(home / "models", DEFAULT, log=lambda m: click.echo(f"    {m}"), progress=sys.stderr.isatty())
    if plan.mail is not None:
        _correspondents(config, plan.account)
    if plan.mail is not None and preview_count:
        _preview(config, preview_count, plan.account)
    assist = str(Path(sys.executable).parent / "assist")
    imap = bool(config.action_section("imap").get("host"))
    accounts = sorted(config.action_section("imap").get("accounts") or {})  # the person's others, by name
    if systemd:
        for line in setup.install_units(home, assist, imap=imap, accounts=accounts):
            click.echo(f"  {line}")
    else:
        click.echo("  to run it every five minutes, add these lines to `crontab -e`, in place of assist's lines "
                   "there (or use --systemd):")
        for line in setup.cron_lines(home, assist, imap=imap, accounts=accounts):
            click.echo(f"    {line}")
    if plan.account:
        click.echo(f"  next: assist ingest imap --account {plan.account} --once --to inbox && assist work --from "
                   "inbox --once (that account's last day of mail); then assist queue ls --state hold (or assist "
                   "top) for what waits for you")
    elif imap:
        click.echo("  next: assist ingest imap --once --to inbox && assist work --from inbox --once (the last "
                   "day's mail; older mail with --backlog 7d); then assist queue ls --state hold (or assist top) "
                   "for what waits for you")
    else:
        click.echo("  next: assist init --imap-host HOST --user LOGIN adds your mail account (or run assist init "
                   "on a terminal to be asked); assist ask needs none (assist ask --help)")
    return 0 if not gaps else CONFIG


def _sign_in(home: Path, mail: MailAccount, ask_again: Callable[[], str] | None) -> int | None:
    """Sign in to the account before anything is written: None when it works, else the exit code, the
    reason said. A password typed at the question and refused is asked again (three tries in all)."""
    from .. import init_home as setup
    from ..errors import AssistError
    from ..mail import SignInRefused
    from ..printable import printable

    tries = 1
    while True:
        try:
            for line in setup.sign_in(home, mail):
                click.echo(f"  {line}")
            return None
        except AssistError as exc:
            click.echo(f"  {printable(str(exc).splitlines()[0])}", err=True)
            refused = isinstance(exc, SignInRefused)
            if refused and ask_again is not None and tries < 3:
                mail.password, tries = ask_again(), tries + 1
                continue
            if refused:
                click.echo("  if the password is right, the provider may want another kind: Gmail, iCloud, Yahoo "
                           "and Fastmail an app password made for assist in their account settings; Outlook.com, "
                           "Microsoft 365 and Google Workspace an OAuth2 sign-in (assist token sign-in NAME "
                           "--provider microsoft or google, then --token NAME: docs/tokens.md)", err=True)
            click.echo("  nothing written: mend it and run assist init again (assist init --help)", err=True)
            return exc.exit_code


def _correspondents(config: Config, account: str = "") -> None:
    """Whom the person wrote to, from the Sent folder (headers only; `account`: of that account only): their
    mail is never filed in Junk unasked. A problem is one line; init goes on."""
    from ..correspondents import from_sent_folder
    from ..errors import AssistError

    try:
        read, kept = from_sent_folder(config, account=account or None)
    except AssistError as exc:
        click.echo(f"  correspondents: {str(exc).splitlines()[0]} (later: assist classify correspondents --from-sent)")
        return
    click.echo(f"  correspondents: {kept} address(es) you wrote to, from {read} sent message(s); "
               "their mail is never filed in Junk unasked")


def _preview(config: Config, count: int, account: str = "") -> None:
    from .. import init_home as setup
    from ..errors import AssistError
    from ..printable import printable

    try:
        events, (recent, older) = setup.newest(config, count, account)
        rows = setup.preview(config, events)
    except AssistError as exc:
        click.echo(f"  preview: {printable(str(exc).splitlines()[0])}")
        return
    click.echo(f"  what would happen to the newest {len(rows)} message(s) (nothing is done now):")
    for subject, route, what in rows:  # a subject is the sender's: no escape sequence reaches the terminal
        click.echo(f"    {printable(subject)[:48]:<48}  {route:<11} {what}")
    click.echo(f"  the first run reads the {recent} message(s) that arrived in the last day; {older} older one(s) "
               "are left alone (assist ingest imap --backlog 7d reads further back)")
