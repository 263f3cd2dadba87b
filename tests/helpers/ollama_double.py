"""A test double of Ollama's HTTP API (Ollama itself cannot be installed here), following its
documented `/api/tags` and `/api/chat` (docs/api.md in github.com/ollama/ollama): it records each
request and answers with scripted replies, streamed as NDJSON when asked."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OllamaDouble:
    def __init__(self, models: list[str]):
        self.models = models
        self.requests: list[dict] = []
        self.replies: list[str] = []
        self.failures: list[int] = []  # statuses to answer the next chat requests with, before replying
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/api/tags":
                    tags = [{"name": m, "model": m, "size": 1} for m in double.models]
                    return self._send(200, json.dumps({"models": tags}).encode())
                return self._send(404, b'{"error": "not found"}')

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                double.requests.append(body)
                if self.path != "/api/chat":
                    return self._send(404, b'{"error": "not found"}')
                if double.failures:
                    return self._send(double.failures.pop(0), b'{"error": "busy"}')
                name = body["model"] if ":" in body["model"] else body["model"] + ":latest"  # Ollama's default tag
                if name not in double.models:
                    return self._send(404, json.dumps({"error": f"model '{body['model']}' not found"}).encode())
                text = double.replies.pop(0) if double.replies else "ok"
                prompt_count = sum(len(m["content"].split()) for m in body["messages"])
                if body.get("stream", True):
                    words = text.split(" ")
                    lines = [{"model": body["model"], "message": {"role": "assistant", "content": w + " "},
                              "done": False} for w in words]
                    lines.append({"model": body["model"], "message": {"role": "assistant", "content": ""},
                                  "done": True, "done_reason": "stop", "prompt_eval_count": prompt_count,
                                  "eval_count": len(words)})
                    return self._send(200, b"".join(json.dumps(x).encode() + b"\n" for x in lines),
                                      "application/x-ndjson")
                reply = {"model": body["model"], "message": {"role": "assistant", "content": text}, "done": True,
                         "done_reason": "stop", "prompt_eval_count": prompt_count, "eval_count": len(text.split())}
                return self._send(200, json.dumps(reply).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
