"""The spam decision for mail, before the rules: a mail is spam when the provider that delivered it said
so (X-Spam-Flag / X-Spam-Status), when the spam model is at least as sure as the spam route's
`threshold` (BULK_MARGIN more for a list's or bulk mail), or when the local spamd (`[classify] spamd`)
said so and the model does not disagree (SPAMD_AGREE); at `[classify] spam_hold` and above it is held
for a person ("might be spam"); below, the rules and the intent model decide, with the model's
probability as `signals.spam` for rules to read (the default urgent rule wants it low).

Mail from someone the person wrote to (correspondents.py; `signals.correspondent`) is never filed in
Junk unasked, by the model, spamd or the provider's verdict: what they would file is held for the
person, and "might be spam" is not asked. A From line can be forged, so a correspondent's name earns a
question, not a pass into the inbox. When the person's provider says it could not confirm the From
line (DMARC failed: lookalikes.not_confirmed), the mail is not a correspondent's (no
`signals.correspondent`, so no reply drafted, and "might be spam" asked), yet what would go to Junk is
still held: a correspondent whose own domain's DMARC is set up wrong fails it with every mail.

A mail the person took out of Junk (the same bytes as one the spam route filed there: junked.py) is
not filed there again, by the model, spamd or a header, nor asked about: `signals.rescued`, and the rules
and the intent model place it. Its sender, and the sender of a mail the person gave a route other than
spam, is one they said is not spam (learning.SendersNotSpam: their latest word on the sender's mail),
whose mail is then as a correspondent's here (held rather than filed in Junk, not asked "might be spam",
`signals.sender_not_spam`), but earns no reply: a "Not junk" is not a word to someone. Not when the
provider could not confirm the From line, nor for the person's own addresses, which spam forges most.

Mail of the backlog (`data.backlog`: weeks old, read with `assist ingest imap --backlog`) is not asked
about as "might be spam": the person kept it in their INBOX all that while, which says what they think
of it, and a month of backlog asked dozens of such questions. What the model is sure of still goes to
Junk. Only mail ingestion marks mail so (by the server's arrival date), and only mail ingestion makes
a mail: a feed's item cannot be one.

Only a verdict of spam is ever taken from a header: every header can be written by the sender, and a
spammer who writes "X-Spam-Flag: YES" files their own mail in Junk. A verdict of "not spam" is
ignored, and so is a `data.spamd` when no spamd is configured (a task document cannot vouch for itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Config
    from ..correspondents import Correspondents
    from ..junked import Junked
    from .spam import SpamModel

DEFAULT_ROUTE = "spam"
DEFAULT_THRESHOLD = 0.8
DEFAULT_HOLD = 0.5
# spamd's verdict files a mail in Junk when the model gives it at least this: on the developers' 600
# messages spamd's offline rules flagged 7 list mails (forged-looking From lines), all under 0.2 by the
# model, and the spam it caught that the model missed scored above 0.3 (bench/mail.py)
SPAMD_AGREE = 0.3
# mail that says it is a list's or bulk (List-Id, List-Unsubscribe, Precedence: data.bulk), the newsletters
# and offers a person signed up for, needs the spam route's threshold plus this to be filed in Junk by
# the model unasked; below it, it is asked about like any "might be spam". On the developers' 600 mails
# (bench/_spam_folds.py, three shuffles) it kept an airline's offer to its customers (0.82) out of Junk
# and held 4 of the 600 spam instead (bench/README.md)
BULK_MARGIN = 0.05


def spam_route_name(config: Config) -> str:
    """The route of spam: `[classify] spam_route` ("" for none), else "spam"."""
    return str(config.section("classify").get("spam_route", DEFAULT_ROUTE))


def judged(task: dict[str, Any]) -> bool:
    """Whether the spam decision judges this task: a mail (task.is_mail) with a subject or a body."""
    from ..task import is_mail

    data = task.get("data")
    return is_mail(task) and isinstance(data, dict) and ("subject" in data or "body_text" in data)


@dataclass
class SpamPolicy:
    route: str
    threshold: float
    hold: float
    model: SpamModel
    spamd: bool  # whether a spamd is configured (else data.spamd is not read)
    correspondents: Correspondents
    junked: Junked
    not_spam: frozenset[str] = frozenset()  # senders the person said are not spam (learning.SendersNotSpam)
    own: frozenset[str] = frozenset()  # correspondents.sender_key of each of the person's own addresses

    @classmethod
    def from_config(cls, config: Config, model: SpamModel | None = None,
                    not_spam: frozenset[str] = frozenset()) -> SpamPolicy | None:
        """The policy the config asks for; None when it has no spam route (or `spam_route = ""`). `not_spam`:
        the senders the person said are not spam (a learned version's)."""
        settings = config.section("classify")
        route = spam_route_name(config)
        if not route or route not in config.routes:
            return None
        if model is None:
            from .model_file import configured_model
            from .spam import SpamModel, shipped

            model = configured_model(SpamModel.load, config, "spam_model") if settings.get("spam_model") \
                else shipped()
        from ..correspondents import Correspondents, own_addresses, sender_key
        from ..junked import Junked

        threshold = float(config.routes[route].get("threshold", DEFAULT_THRESHOLD))
        own = frozenset(filter(None, (sender_key({"from": address}) for address in own_addresses(config))))
        return cls(route, threshold, float(settings.get("spam_hold", DEFAULT_HOLD)), model,
                   bool(settings.get("spamd")), Correspondents.of(config), Junked(config.home), not_spam, own)

    def judge(self, data: dict[str, Any], arrived: bool = True) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(the signals for the rules: spam, the model's probability, correspondent when the mail is from
        someone the person wrote to, rescued when the person took it out of Junk: it `arrived` again with
        the bytes of a mail filed there; the intent when this step decides: spam, or held)."""
        from ..correspondents import sender_key
        from ..lookalikes import not_confirmed

        p = round(self.model.probability(data), 4)
        named = self.correspondents.wrote_to(str(data.get("from") or ""))  # a correspondent's address...
        doubt = not_confirmed(data) if named else None  # ...which the provider could not confirm
        known = named and doubt is None
        mark: dict[str, Any] = {"correspondent": True} if known else {}
        sender = sender_key(data) if self.not_spam else None  # None too when the provider could not confirm
        vouched = sender is not None and sender in self.not_spam and sender not in self.own
        if vouched:
            mark["sender_not_spam"] = True
        if arrived and self.junked.holds(data.get("sha256")):
            return {"spam": p, "rescued": True, **mark}, None
        signals: dict[str, Any] = {"spam": p, **mark}
        evidence: dict[str, Any] = {"model": p, **mark}
        provider = data.get("provider_spam")
        spamd = data.get("spamd") if self.spamd else None
        if isinstance(spamd, dict):
            evidence["spamd"] = {k: spamd[k] for k in ("spam", "score", "threshold", "error") if k in spamd}
        if isinstance(provider, dict) and provider.get("flag") is True:
            evidence["provider"] = {k: provider[k] for k in ("flag", "score") if k in provider}
        provider_says = "provider" in evidence
        spamd_says = isinstance(spamd, dict) and spamd.get("spam") is True and p >= SPAMD_AGREE
        threshold = self.threshold + (BULK_MARGIN if data.get("bulk") is True else 0.0)
        by = ("spam:provider" if provider_says else "spam:model" if p >= threshold
              else "spam:spamd" if spamd_says else None)
        if by == "spam:provider" and not (named or vouched):
            return signals, self._intent(self.route, by, 1.0, evidence, self.threshold)
        if by is not None and not (named or vouched):
            return signals, self._intent(self.route, by, p, evidence, threshold)
        who = (f"from an address you wrote to, but {doubt}" if doubt else "from someone you wrote to" if named
               else "from a sender you said is not spam")
        if by is not None:
            intent = self._intent("fallback", by, p, evidence, threshold)
            intent["reason"] = f"{who}, yet {by[5:]} says spam (model {p:.2f}); held for a person"
            return signals, intent
        if p >= self.hold and not (known or vouched) and data.get("backlog") is not True:
            intent = self._intent("fallback", "spam:model", p, evidence, threshold)
            margin = f"; a list's or bulk mail goes to Junk unasked from {threshold:.2f}" if p >= self.threshold else ""
            intent["reason"] = f"might be spam (model {p:.2f}{margin}{'; ' + who if doubt else ''}); held for a person"
            return signals, intent
        return signals, None

    def _intent(self, route: str, by: str, confidence: float, evidence: dict[str, Any],
                threshold: float) -> dict[str, Any]:
        return {"route": route, "labels": [{"name": self.route, "score": evidence["model"]}], "by": by,
                "confidence": round(confidence, 4), "threshold": round(threshold, 4), "spam": evidence}
