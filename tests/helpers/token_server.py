"""A small real OAuth2 token endpoint (RFC 6749 §6, refresh_token grant), a protected API and a token
introspection endpoint (RFC 7662, as dovecot's oauth2 passdb asks a provider), for tests: it stands in
for Microsoft's and Google's, which cannot run here."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class TokenServer:
    def __init__(self, expires_in: int = 3600, rotate: bool = False, user: str = "testuser"):
        self.expires_in = expires_in
        self.user = user  # whose the access tokens are
        self.rotate = rotate
        self.refresh_tokens = {"RT-1"}
        self.valid_access: set[str] = set()
        self.refreshes = 0
        self.lock = threading.Lock()
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
                if self.path != "/token" or form.get("grant_type") != "refresh_token":
                    return self._send(400, {"error": "unsupported_grant_type"})
                if form.get("client_id") != "cid" or form.get("client_secret") != "csecret":
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
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if token in server.valid_access:
                    return self._send(200, {"ok": True})
                return self._send(401, {"error": "invalid_token"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> TokenServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
