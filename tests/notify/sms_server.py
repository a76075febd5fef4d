"""A stand-in for Dysmsapi on 127.0.0.1: checks the signature, answers as told."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote

SECRET = "test-secret"


def expected_signature(params: dict[str, str], secret: str) -> str:
    encode = lambda s: quote(s, safe="~")  # noqa: E731
    canonical = "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"POST&%2F&{encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class FakeAliyun:
    """``mode``: ok | error | hang. ``requests`` holds each request's parameters."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict[str, str]] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                params = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                fake.requests.append(params)
                if fake.mode == "hang":
                    fake.release.wait(10)
                    return
                signature = params.pop("Signature", "")
                if signature != expected_signature(params, SECRET):
                    self.answer(400, {"Code": "SignatureDoesNotMatch", "Message": "bad"})
                elif fake.mode == "error":
                    self.answer(200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "limit"})
                else:
                    self.answer(200, {"Code": "OK", "Message": "OK", "BizId": "biz-42"})

            def answer(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeAliyun:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def config(self, timeout: int = 2) -> dict:
        return {
            "SMS_BACKEND": "aliyun",
            "SMS_ALIYUN_ACCESS_KEY_ID": "test-key",
            "SMS_ALIYUN_ACCESS_KEY_SECRET": SECRET,
            "SMS_ALIYUN_SIGN_NAME": "职工心理服务",
            "SMS_ALIYUN_TEMPLATE_NOTICE": "SMS_NOTICE_1",
            "SMS_ALIYUN_TEMPLATE_CODE": "SMS_CODE_1",
            "SMS_HTTP_URL": self.url,
            "SMS_HTTP_TIMEOUT": timeout,
        }
