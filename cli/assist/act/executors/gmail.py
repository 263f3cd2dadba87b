"""gmail.send, gmail.label, gmail.draft over Gmail's REST API with a stored OAuth2 token.

`[actions.gmail] token = "gmail"` names an oauth2 entry of the token store; it is refreshed before it
expires and once after a 401. Gmail is a remote service: it is used only with `allow_remote = true`.
A send or draft cut short by a crash is looked for by the Message-ID made from its key (not found, it
is unsure, not sent again); a label is set again.
"""

from __future__ import annotations

import base64
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlparse

from ...correspondents import Correspondents
from ...errors import TemporaryError
from ..access import require_local_or_allowed
from ..headers import ADDRESS, HEADER_TEXT, MESSAGE_ID
from ..registry import ActionContext, ActionError, executor

API = "https://gmail.googleapis.com"
MAIL = {"to": ADDRESS, "subject": HEADER_TEXT,
        "body": {"type": "string", "maxLength": 5_000_000}, "in_reply_to": MESSAGE_ID,
        "thread_id": {"type": "string", "pattern": "^[0-9a-zA-Z]{1,64}$"}}


def _call(ctx: ActionContext, method: str, path: str, body: dict[str, Any] | None = None,
          params: dict[str, str] | None = None) -> dict[str, Any]:
    import requests

    from ...auth.oauth import call_with_token
    from ...auth.store import TokenStore

    section = ctx.section("gmail")
    if not section.get("token"):
        raise ActionError("gmail: no token is configured ([actions.gmail] token)")
    api = section.get("api", API).rstrip("/")
    host = urlparse(api).hostname or ""
    require_local_or_allowed(host, ctx, "gmail")

    def check(url: str) -> None:  # a redirect goes nowhere the first address could not
        require_local_or_allowed(urlparse(url).hostname or "", ctx, f"gmail: a redirect to {url}")

    def request(token: str) -> Any:
        from ...net import request as http_request

        try:
            return http_request(method, f"{api}/gmail/v1/users/me/{path}", check=check, json=body, params=params,
                                timeout=30, headers={"Authorization": f"Bearer {token}"})
        except requests.RequestException as exc:
            raise TemporaryError(f"gmail: cannot reach {host} ({type(exc).__name__})") from None

    response = call_with_token(TokenStore(ctx.config.home), section["token"], request)
    if response.status_code == 429 or response.status_code >= 500:
        raise TemporaryError(f"gmail: HTTP {response.status_code}; retrying later")
    if response.status_code >= 400:
        raise ActionError(f"gmail: {path.split('/')[0]} refused (HTTP {response.status_code})")
    return response.json()


def _raw(args: dict[str, Any], ctx: ActionContext) -> str:
    msg = EmailMessage()
    msg["To"] = args["to"]
    msg["Subject"] = args.get("subject", "")
    msg["Message-ID"] = f"<{ctx.key}@assist.local>"
    if args.get("in_reply_to"):
        msg["In-Reply-To"] = args["in_reply_to"]
        msg["References"] = args["in_reply_to"]
    msg.set_content(args.get("body", ""))
    return base64.urlsafe_b64encode(msg.as_bytes()).decode()


def _found(path: str, field: str, key: str, ctx: ActionContext) -> dict[str, Any] | None:
    """After a crash mid-send or mid-draft: Gmail's own copy, found by the Message-ID made from the key
    (users.messages.list or users.drafts.list, q=rfc822msgid:). None (unsure, as before) when there is
    none: that Gmail keeps the Message-ID a mail is given is not something it promises."""
    answer = _call(ctx, "GET", path, params={"q": f"rfc822msgid:{key}@assist.local"})
    found = answer.get(field) or []
    return {"id": found[0].get("id"), "found_in_sent" if path == "messages" else "found_in_drafts": True} \
        if found and isinstance(found[0], dict) else None


@executor("gmail.send", {"required": ["to", "subject", "body"], "properties": MAIL},
          check_done=lambda key, ctx: _found("messages", "messages", key, ctx))
def send(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    body: dict[str, Any] = {"raw": _raw(args, ctx)}
    if args.get("thread_id"):
        body["threadId"] = args["thread_id"]
    answer = _call(ctx, "POST", "messages/send", body)
    result = {"id": answer.get("id"), "thread_id": answer.get("threadId")}
    problem = Correspondents.of(ctx.config).remember([str(args["to"])])
    return {**result, "warning": problem} if problem else result


@executor("gmail.draft", {"required": ["to", "subject", "body"], "properties": MAIL},
          check_done=lambda key, ctx: _found("drafts", "drafts", key, ctx))
def draft(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    answer = _call(ctx, "POST", "drafts", {"message": {"raw": _raw(args, ctx)}})
    return {"draft_id": answer.get("id")}


@executor("gmail.label", {
    "required": ["message_id"],
    "properties": {"message_id": {"type": "string", "pattern": "^[0-9a-zA-Z]{1,64}$"},
                   "add": {"type": "array", "items": {"type": "string", "maxLength": 100}, "maxItems": 20},
                   "remove": {"type": "array", "items": {"type": "string", "maxLength": 100}, "maxItems": 20}},
}, repeatable=True)
def label(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    answer = _call(ctx, "POST", f"messages/{args['message_id']}/modify",
                   {"addLabelIds": args.get("add", []), "removeLabelIds": args.get("remove", [])})
    return {"labels": answer.get("labelIds", [])}
