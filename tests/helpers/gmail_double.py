"""A TEST DOUBLE of Gmail's REST API (the real one cannot be reached from here): the documented endpoints
users.messages.send, users.drafts.create, users.messages.modify, and users.messages.list and
users.drafts.list with a search of one kind (q=rfc822msgid:ID), behind bearer tokens issued by a
refresh_token grant on /token. It keeps what it was sent."""

from __future__ import annotations

import base64
import json
import threading
from email import message_from_bytes
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class GmailDouble:
    def __init__(self):
        self.valid_access = {"AT-0"}
        self.refresh_token = "RT-gmail"
        self.refreshes = 0
        self.sent, self.drafts, self.labels = [], [], {}
        self.unauthorized = 0
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.headers.get("Authorization", "").removeprefix("Bearer ") not in double.valid_access:
                    return self.reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
                path, _, query = self.path.partition("?")
                wanted = parse_qs(query).get("q", [""])[0].removeprefix("rfc822msgid:")
                kept = {"/gmail/v1/users/me/messages": ("messages", "m", double.sent),
                        "/gmail/v1/users/me/drafts": ("drafts", "d", double.drafts)}.get(path)
                if kept is None:
                    return self.reply(404, {"error": "not found"})
                field, prefix, messages = kept
                found = [{"id": f"{prefix}{n + 1}"} for n, msg in enumerate(messages)
                         if str(msg["Message-ID"]).strip("<>") == wanted.strip("<>")]
                answer = {field: found} if found else {}  # Gmail leaves the list out when it is empty
                return self.reply(200, {**answer, "resultSizeEstimate": len(found)})

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/token":
                    form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                    if form.get("refresh_token") != double.refresh_token:
                        return self.reply(400, {"error": "invalid_grant"})
                    double.refreshes += 1
                    token = f"AT-{double.refreshes}"
                    double.valid_access = {token}
                    return self.reply(200, {"access_token": token, "expires_in": 3600})
                if self.headers.get("Authorization", "").removeprefix("Bearer ") not in double.valid_access:
                    double.unauthorized += 1
                    return self.reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
                body = json.loads(raw)
                if self.path == "/gmail/v1/users/me/messages/send":
                    msg = message_from_bytes(base64.urlsafe_b64decode(body["raw"]), policy=email_policy)
                    double.sent.append(msg)
                    return self.reply(200, {"id": f"m{len(double.sent)}", "threadId": body.get("threadId", "t1")})
                if self.path == "/gmail/v1/users/me/drafts":
                    double.drafts.append(message_from_bytes(base64.urlsafe_b64decode(body["message"]["raw"]),
                                                            policy=email_policy))
                    return self.reply(200, {"id": f"d{len(double.drafts)}"})
                if self.path.startswith("/gmail/v1/users/me/messages/") and self.path.endswith("/modify"):
                    mid = self.path.split("/")[-2]
                    labels = set(double.labels.get(mid, {"INBOX"})) | set(body.get("addLabelIds", []))
                    labels -= set(body.get("removeLabelIds", []))
                    double.labels[mid] = labels
                    return self.reply(200, {"id": mid, "labelIds": sorted(labels)})
                return self.reply(404, {"error": "not found"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
