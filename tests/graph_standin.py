"""A local HTTP server standing in for WhatsApp's Graph API (real HTTP on loopback):

- GET /v21.0/<media id>: the media's metadata (url, mime_type, file_size), with the bearer
  token checked; GET /media/<media id>: its bytes;
- POST /v21.0/<phone number id>/messages: a message we send, recorded, answered with a
  `wamid.out.N` id.

And webhook deliveries as Meta builds and signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "graph-token-ppu"
APP_SECRET = "app-secret-ppu"
VERIFY_TOKEN = "verify-token-ppu"
PHONE_NUMBER_ID = "1098765"


class GraphStandIn:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.media: dict[str, tuple[bytes, str, int | None]] = {}
        self.sent: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, str]] = []  # method, path, authorization
        self.down = False
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: bytes, kind: str = "application/json"
                        ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                with standin.lock:
                    standin.requests.append(("GET", self.path, auth))
                if standin.down:
                    return self._answer(503, b'{"error": "down"}')
                if auth != f"Bearer {TOKEN}":
                    return self._answer(401, b'{"error": "bad token"}')
                parts = self.path.strip("/").split("/")
                if len(parts) == 2 and parts[0] == "v21.0" and parts[1] in standin.media:
                    content, mime, size = standin.media[parts[1]]
                    meta = {"id": parts[1], "mime_type": mime,
                            "url": f"{standin.url}/media/{parts[1]}",
                            "file_size": len(content) if size is None else size}
                    return self._answer(200, json.dumps(meta).encode())
                if len(parts) == 2 and parts[0] == "media" and parts[1] in standin.media:
                    return self._answer(200, standin.media[parts[1]][0],
                                        standin.media[parts[1]][1])
                return self._answer(404, b'{"error": "no such media"}')

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with standin.lock:
                    standin.sent.append({"path": self.path, "json": json.loads(raw),
                                         "auth": self.headers.get("Authorization", "")})
                    number = len(standin.sent)
                answer = {"messaging_product": "whatsapp",
                          "messages": [{"id": f"wamid.out.{number}"}]}
                return self._answer(200, json.dumps(answer).encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.graph_url = f"{self.url}/v21.0"
        self.messages_url = f"{self.graph_url}/{PHONE_NUMBER_ID}/messages"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(*messages: dict[str, Any], statuses: tuple[dict[str, Any], ...] = ()
             ) -> dict[str, Any]:
    """A webhook delivery of the Cloud API holding these messages and statuses."""
    value: dict[str, Any] = {"messaging_product": "whatsapp",
                             "metadata": {"display_phone_number": "6285100000000",
                                          "phone_number_id": PHONE_NUMBER_ID}}
    if messages:
        value["contacts"] = [{"profile": {"name": "Warga"}, "wa_id": m["from"]}
                             for m in messages]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": value}]}]}


def text(message_id: str, sender: str, at: int, body: str) -> dict[str, Any]:
    return {"from": sender, "id": message_id, "timestamp": str(at), "type": "text",
            "text": {"body": body}}


def location(message_id: str, sender: str, at: int, lat: float, lon: float,
             name: str = "", address: str = "") -> dict[str, Any]:
    place: dict[str, Any] = {"latitude": lat, "longitude": lon}
    if name:
        place["name"] = name
    if address:
        place["address"] = address
    return {"from": sender, "id": message_id, "timestamp": str(at), "type": "location",
            "location": place}


def image(message_id: str, sender: str, at: int, media_id: str, caption: str = "",
          mime: str = "image/jpeg") -> dict[str, Any]:
    body: dict[str, Any] = {"id": media_id, "mime_type": mime, "sha256": "x"}
    if caption:
        body["caption"] = caption
    return {"from": sender, "id": message_id, "timestamp": str(at), "type": "image",
            "image": body}


def status(message_id: str, state: str, at: int, recipient: str,
           error: dict[str, Any] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"id": message_id, "status": state, "timestamp": str(at),
                             "recipient_id": recipient}
    if error:
        found["errors"] = [error]
    return found
