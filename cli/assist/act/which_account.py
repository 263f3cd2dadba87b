"""Where a person decides about a held task, which of their accounts it is about: the account the mail
came to (where filing, flagging and drafting happen, and what a "might be spam" is to) and, for a send,
the address it goes out from. Said only when they have more than one account (`[actions.imap.accounts]`),
and cheap to ask when they have one: the executors are imported only then (`assist queue ls` and
`assist top` start without them). Found by the person's configuration as the actions find it
(mail.account_of): a task's own note can only choose among their accounts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Config

IN_THE_ACCOUNT = ("email.move", "email.flag", "email.draft", "email.forward")  # done in the account the mail came to


@dataclass(frozen=True)
class Accounts:
    """What to tell of a task's account (queue/admin.py AccountsTold), for a person with several."""

    config: Config

    def came_to(self, task: dict[str, Any]) -> str | None:
        """"it came to me@corp.example (your account work)" for a mail read from an account (data.imap);
        why it is none of them when its note names no configured account; None for any other task."""
        from ..mail import MailError, account_of
        from ..task import is_mail

        data = task.get("data")
        noted = data.get("imap") if is_mail(task) and isinstance(data, dict) else None
        if not isinstance(noted, dict):
            return None
        try:
            account = account_of(self.config, noted.get("account"))
        except MailError as exc:
            return str(exc)
        return f"it came to {account.user}" + (f" (your account {account.label})" if account.label else "")

    def notice(self, task: dict[str, Any], kind: str) -> str | None:
        """For an action of `kind` waiting for approval: the address a send goes out from
        (email_smtp.goes_out_from), the account an action on the mail is done in; None for any other."""
        if kind in IN_THE_ACCOUNT:
            return self.came_to(task)
        from .executors.email_smtp import SENDS, goes_out_from

        return goes_out_from(self.config, task) if kind in SENDS else None


def told(config: Config) -> Accounts | None:
    """Accounts to tell of, or None with one account, the only one a mail can be of (queue/admin.py)."""
    return Accounts(config) if config.action_section("imap").get("accounts") else None
