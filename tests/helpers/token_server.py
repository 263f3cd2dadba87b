"""A small real OAuth2 token endpoint (RFC 6749 §6, refresh_token grant), a device authorization endpoint
and its grant (RFC 8628, as Microsoft's identity platform answers it), a protected API and a token
introspection endpoint (RFC 7662, as dovecot's oauth2 passdb asks a provider), for tests: it stands in
for Microsoft's and Google's, which cannot run here. Client "cid" has the secret "csecret"; client "pub"
is a public client (no secret), as an app registered for the device code flow is. /authorize is the
person's browser sign-in (RFC 6749 §4.1 with PKCE, RFC 7636, as Google's for installed apps): asked for
it, the server consents at once (or declines, `consent = False`) and sends the browser back to the
redirect_uri with a code; the code is exchanged once, for the verifier of its challenge."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class TokenServer:
    def __init__(self, expires_in: int = 3600, rotate: bool = False, user: str = "testuser"):
        self.expires_in = expires_in
        self.user = user  # whose the access tokens are
        self.rotate = rotate
        self.refresh_tokens = {"RT-1"}
        self.valid_access: set[str] = set()
        self.refreshes = 0
        self.lock = threading.Lock()
        # the device code flow: how the person's sign-in elsewhere goes, one answer per poll after the first
        # ("authorization_pending", "slow_down", "access_denied", "expired_token"; then the tokens)
        self.device_answers: list[str] = []
        self.device_polls: list[float] = []  # when each poll came (time.monotonic)
        self.verification_uri = ""  # else the server's own /device
        self.device_scopes = ""
        self.consent = True  # what the person says at /authorize
        self.authorized: dict[str, dict[str, str]] = {}  # code -> the /authorize request it answers
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if self.path == "/introspect":  # whose, if anyone's, an access token is
                    active = form.get("token") in server.valid_access
                    return self._send(200, {"active": True, "username": server.user} if active else {"active": False})
                if self.path == "/devicecode":
                    if form.get("client_id") != "pub":
                        return self._send(400, {"error": "unauthorized_client"})
                    server.device_scopes = form.get("scope", "")
                    return self._send(200, {"device_code": "DC-1", "user_code": "WDJB-MJHT", "expires_in": 900,
                                            "interval": 1, "verification_uri": server.verification_uri
                                            or f"{server.url}/device"})
                if self.path == "/token" and form.get("grant_type") == DEVICE_GRANT:
                    server.device_polls.append(time.monotonic())
                    if form.get("client_id") != "pub" or form.get("device_code") != "DC-1":
                        return self._send(400, {"error": "invalid_grant"})
                    if server.device_answers:
                        return self._send(400, {"error": server.device_answers.pop(0)})
                    return self._send(200, server.signed_in("RT-device", server.device_scopes))
                if self.path == "/token" and form.get("grant_type") == "authorization_code":
                    asked = server.authorized.pop(form.get("code", ""), None)  # a code is good once
                    verifier = form.get("code_verifier", "").encode()
                    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
                    if asked is None or asked["code_challenge"] != challenge \
                            or asked["redirect_uri"] != form.get("redirect_uri"):
                        return self._send(400, {"error": "invalid_grant"})
                    if form.get("client_id") != "cid" or form.get("client_secret") != "csecret":
                        return self._send(401, {"error": "invalid_client"})
                    return self._send(200, server.signed_in("RT-browser", asked.get("scope", "")))
                if self.path != "/token" or form.get("grant_type") != "refresh_token":
                    return self._send(400, {"error": "unsupported_grant_type"})
                public = form.get("client_id") == "pub" and "client_secret" not in form
                if not public and (form.get("client_id") != "cid" or form.get("client_secret") != "csecret"):
                    return self._send(401, {"error": "invalid_client"})
                with server.lock:
                    if form.get("refresh_token") not in server.refresh_tokens:
                        return self._send(400, {"error": "invalid_grant"})
                    server.refreshes += 1
                    access = f"AT-{server.refreshes}"
                    server.valid_access = {access}
                    body = {"access_token": access, "token_type": "Bearer", "expires_in": server.expires_in}
                    if server.rotate:
                        new = f"RT-{server.refreshes + 1}"
                        server.refresh_tokens = {new}
                        body["refresh_token"] = new
                return self._send(200, body)

            def do_GET(self):
                path, _, query = self.path.partition("?")
                if path == "/authorize":
                    asked = {k: v[0] for k, v in parse_qs(query).items()}
                    back = asked.get("redirect_uri", "")
                    if asked.get("response_type") != "code" or asked.get("client_id") != "cid" \
                            or asked.get("code_challenge_method") != "S256" or not back.startswith("http://127.0.0.1:"):
                        return self._send(400, {"error": "invalid_request"})
                    code = f"C-{len(server.authorized) + 1}"
                    if server.consent:
                        server.authorized[code] = asked
                    said = f"code={code}" if server.consent else "error=access_denied"
                    self.send_response(302)
                    self.send_header("Location", f"{back}?{said}&state={asked.get('state', '')}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if token in server.valid_access:
                    return self._send(200, {"ok": True})
                return self._send(401, {"error": "invalid_token"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def signed_in(self, refresh_token: str, scope: str) -> dict:
        """The tokens a sign-in gives: a new access token, and a refresh token that refreshes from now on."""
        with self.lock:
            self.refreshes += 1
            self.valid_access = {f"AT-{self.refreshes}"}
            self.refresh_tokens.add(refresh_token)
            return {"access_token": f"AT-{self.refreshes}", "token_type": "Bearer", "expires_in": self.expires_in,
                    "refresh_token": refresh_token, "scope": scope}

    def __enter__(self) -> TokenServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
