"""Words for a chat's markup: what a mail or a model says reaches Slack or Discord as its words, never as
a call to everyone in the channel or a link that shows another address than it goes to.

Slack's text reads `<!channel>`, `<@U123>` and `<https://evil.example|https://bank.example>` between
angle brackets; `&`, `<` and `>` escaped as Slack asks (`&amp;`, `&lt;`, `&gt;`) are text. Discord reads
`@everyone`, `@here`, `<@123>`, `[text](url)` and its markdown; a backslash before each markup character,
and a zero-width space after the `@` of `@everyone` and `@here`, leave them text.

webhook.post escapes for a receiver's markup (act/plan.py): the values a route's template puts in a body
(`{{ data.subject }}`; the route's own words are its author's and stay), and every string of a body the
model wrote. Receivers are known by their URL: Slack's and Discord's hosts (KNOWN), and the patterns of
`[actions.webhook] markup` (a Mattermost or a self-hosted chat that reads Slack's markup, say).

Nor does the chat preview a link a mail put in the text: it would fetch it, and the sender learn that
the mail was read and when, as a mail client's remote images would tell. The body asks for no previews
(QUIET: Slack's unfurl_links and unfurl_media false, Discord's SUPPRESS_EMBEDS flag) unless the route
sets those fields itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .access import url_allowed

if TYPE_CHECKING:
    from ..config import Config

KNOWN = {"slack": ["https://hooks.slack.com/*"],
         "discord": ["https://discord.com/api/webhooks/*", "https://*.discord.com/api/webhooks/*",
                     "https://discordapp.com/api/webhooks/*"]}


def slack_text(value: Any) -> str:
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_DISCORD_MARKS = re.compile(r"([\\*_~`|<>\[\]()])")
_DISCORD_LINE_MARKS = re.compile(r"(?m)^([ \t]*)([#-])")  # a heading or a list item where a line starts
_DISCORD_EVERYONE = re.compile(r"@(?=everyone|here)", re.IGNORECASE)


def discord_text(value: Any) -> str:
    text = _DISCORD_MARKS.sub(r"\\\1", str(value))
    text = _DISCORD_LINE_MARKS.sub(r"\1\\\2", text)
    return _DISCORD_EVERYONE.sub("@\u200b", text)


ESCAPES: dict[str, Callable[[Any], str]] = {"slack": slack_text, "discord": discord_text}


QUIET: dict[str, dict[str, Any]] = {"slack": {"unfurl_links": False, "unfurl_media": False},
                                    "discord": {"flags": 4}}  # SUPPRESS_EMBEDS


def markup_of(url: Any, config: Config) -> str | None:
    """The markup the receiver at `url` reads ("slack", "discord"); None for a receiver of no known markup."""
    if not isinstance(url, str):
        return None
    configured = config.action_section("webhook").get("markup", {})
    for markup in ESCAPES:
        if url_allowed(url, [*KNOWN[markup], *configured.get(markup, [])]):
            return markup
    return None


def escape_for(url: Any, config: Config) -> Callable[[Any], str] | None:
    """How values must be escaped for the receiver at `url`; None for a receiver of no known markup."""
    markup = markup_of(url, config)
    return ESCAPES[markup] if markup else None


def quiet(body: Any, url: Any, config: Config) -> Any:
    """A body for the receiver at `url` that asks its chat for no link previews (QUIET), where the route
    did not say otherwise."""
    markup = markup_of(url, config)
    return {**QUIET[markup], **body} if markup and isinstance(body, dict) else body


def escaped(value: Any, escape: Callable[[Any], str]) -> Any:
    """Every string of a JSON value escaped (a body the model wrote: all of it is the model's)."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {k: escaped(v, escape) for k, v in value.items()}
    if isinstance(value, list):
        return [escaped(v, escape) for v in value]
    return value
