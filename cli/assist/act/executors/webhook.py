"""webhook.post: a JSON body, signed with HMAC-SHA256, to a URL the config allows; retried on 5xx.

A webhook's path is often its secret (Slack's, Discord's), so errors, and with them the log, name its
site only (printable.site_of); the plan, which the person reads, has the whole URL.
A redirect is followed only to a URL that passes the same checks (the allowlist, allow_remote)."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlparse

from ...errors import TemporaryError
from ...printable import site_of
from ..access import require_local_or_allowed, url_allowed
from ..registry import ActionContext, ActionError, Refused, executor


@executor("webhook.post", {
    "required": ["url", "body"],
    "properties": {"url": {"type": "string", "pattern": "^https?://[^\\s]+$", "maxLength": 2000},
                   "body": {"type": "object"}},
}, repeatable=True)
def post(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    import orjson
    import requests

    from ...net import request

    section = ctx.section("webhook")
    url = args["url"]

    def check(target: str) -> None:
        what = f"webhook to {site_of(url)}" if target == url else \
            f"webhook: {site_of(url)} redirected to {site_of(target)}, which"
        if not url_allowed(target, section.get("allow", [])):
            raise Refused(f"{what} is not in [actions.webhook] allow" if target == url else
                          f"{what} is not in [actions.webhook] allow; not followed")
        require_local_or_allowed(urlparse(target).hostname or "", ctx, what)

    check(url)
    body = orjson.dumps(args["body"])
    headers = {"Content-Type": "application/json", "X-Assist-Delivery": ctx.key}
    if section.get("token"):
        from ...auth.secrets import secret

        key = secret(ctx.config.home, section["token"]).encode()
        headers["X-Assist-Signature-256"] = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    status = None
    for attempt in range(3):
        try:
            response = request("POST", url, check=check, data=body, headers=headers, timeout=15)
            status = response.status_code
        except requests.RequestException as exc:
            status = type(exc).__name__
        else:
            if status < 500:
                break
        time.sleep(0.2 * 2**attempt)
    if not isinstance(status, int) or status >= 500:
        raise TemporaryError(f"webhook: {site_of(url)} failed ({status})")
    if status >= 400:
        raise ActionError(f"webhook: {site_of(url)} refused the call (HTTP {status})")
    return {"status": status}
