"""SMS providers behind one small protocol.

A backend has ``send(phone_e164, text, *, reference, code=None) -> provider_message_id`` and
raises ``SmsTransportError`` when the message may not have gone out (the outbox retries).
``code`` is the one-time code a sensitive message carries, for providers whose pre-approved
templates take it as a parameter. ``SMS_BACKEND`` selects one:

- ``console`` (development and tests): logs the message and appends it to ``sent``;
- ``aliyun``: Alibaba Cloud Dysmsapi ``SendSms`` over HTTPS (RPC signature v1, HMAC-SHA1),
  with the standard library only.

No Flask import at module level beyond reading the config passed in: the delivery job
builds the backend from ``current_app.config``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib import error as urlerror
from urllib import parse, request

log = logging.getLogger(__name__)


class SmsTransportError(Exception):
    """The provider did not accept the message (down, timed out, refused)."""


class SmsBackend(Protocol):
    def send(
        self, phone_e164: str, text: str, *, reference: str, code: str | None = None
    ) -> str: ...


# --------------------------------------------------------------------------- console

sent: list[dict[str, Any]] = []
_sent_lock = threading.Lock()


def sent_messages() -> list[dict[str, Any]]:
    """A copy of what the console backend sent in this process (tests, browser tests)."""
    with _sent_lock:
        return list(sent)


def clear_sent() -> None:
    with _sent_lock:
        sent.clear()


class ConsoleBackend:
    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config = config or {}

    def send(self, phone_e164: str, text: str, *, reference: str, code: str | None = None) -> str:
        message_id = f"console-{uuid.uuid4().hex[:16]}"
        with _sent_lock:
            sent.append(
                {
                    "id": message_id,
                    "phone": phone_e164,
                    "text": text,
                    "reference": reference,
                    "code": code,
                }
            )
        # WARNING, not INFO: a web worker has no INFO handler, and in development this line
        # is how a person reads the code they asked for (the console backend is dev-only).
        log.warning("SMS to %s (%s): %s", phone_e164, reference, text)
        return message_id


# --------------------------------------------------------------------------- aliyun

ALIYUN_API_VERSION = "2017-05-25"
_CODE = re.compile(r"(?<!\d)(\d{4,8})(?!\d)")


def one_time_code(text: str) -> str | None:
    """The last run of 4-8 digits in ``text`` (the code in "验证码 123456，10 分钟内有效")."""
    found = _CODE.findall(text or "")
    return found[-1] if found else None


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Alibaba Cloud's RPC signature wants it (space -> %20, ~ kept)."""
    return parse.quote(str(value), safe="~")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def rpc_signature(method: str, params: Mapping[str, str], secret: str) -> str:
    """Signature v1: base64(HMAC-SHA1(secret + "&", METHOD&%2F&encoded(canonical query)))."""
    string_to_sign = "&".join(
        [method.upper(), percent_encode("/"), percent_encode(canonical_query(params))]
    )
    digest = hmac.new(
        (secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def template_for(text: str, code: str | None, config: Mapping[str, Any]) -> tuple[str, dict]:
    """Pre-approved templates: a one-time code, or a short notice title."""
    if code:
        return config["SMS_ALIYUN_TEMPLATE_CODE"], {"code": code}
    title = re.sub(r"^【[^】]*】", "", (text or "").strip())[:20]
    return config["SMS_ALIYUN_TEMPLATE_NOTICE"], {"title": title}


class AliyunBackend:
    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.url = config.get("SMS_HTTP_URL") or "https://dysmsapi.aliyuncs.com/"
        if parse.urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError("SMS_HTTP_URL must be an http(s) URL")
        self.timeout = float(config.get("SMS_HTTP_TIMEOUT") or 5)

    def params_for(
        self,
        phone_e164: str,
        text: str,
        *,
        reference: str,
        code: str | None,
        now: datetime | None = None,
        nonce: str | None = None,
    ) -> dict[str, str]:
        template_code, template_param = template_for(text, code, self.config)
        phone = phone_e164.removeprefix("+86")  # mainland numbers go without the prefix
        return {
            "AccessKeyId": self.config["SMS_ALIYUN_ACCESS_KEY_ID"] or "",
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": reference[:64],
            "PhoneNumbers": phone,
            "RegionId": "cn-hangzhou",
            "SignName": self.config["SMS_ALIYUN_SIGN_NAME"] or "",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": template_code or "",
            "TemplateParam": json.dumps(template_param, ensure_ascii=False),
            "Timestamp": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": ALIYUN_API_VERSION,
        }

    def send(self, phone_e164: str, text: str, *, reference: str, code: str | None = None) -> str:
        params = self.params_for(phone_e164, text, reference=reference, code=code)
        signature = rpc_signature("POST", params, self.config["SMS_ALIYUN_ACCESS_KEY_SECRET"] or "")
        body = f"Signature={percent_encode(signature)}&{canonical_query(params)}".encode("ascii")
        req = request.Request(  # noqa: S310 - scheme checked in __init__
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        try:
            with request.urlopen(req, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read(65536)
        except urlerror.HTTPError as exc:  # 4xx/5xx carry the provider's JSON error
            raw = exc.read(65536) if exc.fp else b""
            raise SmsTransportError(f"HTTP {exc.code}: {_error_text(raw)}") from exc
        except (urlerror.URLError, TimeoutError, OSError) as exc:
            raise SmsTransportError(f"{type(exc).__name__}: {exc}") from exc
        try:
            answer = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SmsTransportError("the provider's answer is not JSON") from exc
        if answer.get("Code") != "OK":
            raise SmsTransportError(_error_text(raw))
        return str(answer.get("BizId") or answer.get("RequestId") or "")


def _error_text(raw: bytes) -> str:
    try:
        answer = json.loads(raw.decode("utf-8"))
        return f"{answer.get('Code')}: {answer.get('Message')}"[:300]
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return raw[:200].decode("utf-8", "replace")


BACKENDS = {"console": ConsoleBackend, "aliyun": AliyunBackend}


def backend_for(config: Mapping[str, Any]) -> SmsBackend:
    """The configured backend; a non-string ``SMS_BACKEND`` is used as the backend itself."""
    choice = config.get("SMS_BACKEND") or "console"
    if not isinstance(choice, str):
        return choice
    try:
        return BACKENDS[choice](config)
    except KeyError:
        raise ValueError(f"unknown SMS_BACKEND {choice!r}; use one of {sorted(BACKENDS)}") from None
