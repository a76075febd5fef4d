"""Security headers, proxy handling and cache rules for every response."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature
from werkzeug.middleware.proxy_fix import ProxyFix

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(self), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


# A permanent session's cookie slides its expiry forward on use; re-signing it on every
# response costs more than the rest of a small page's session handling, so an unchanged
# session is re-signed only when its cookie is older than this. The idle lifetime is then
# between PERMANENT_SESSION_LIFETIME minus this and the full lifetime: never longer.
REFRESH_AFTER = timedelta(seconds=60)


class SignedSession(SecureCookieSession):
    signed_at: datetime | None = None  # when the incoming cookie was signed


class NoCookiesForApi(SecureCookieSessionInterface):
    """Signed-cookie sessions. The JSON API authenticates with bearer tokens and never sets
    a cookie; the signer is built once per secret key, not per request."""

    session_class = SignedSession

    def __init__(self) -> None:
        self._signer: tuple[tuple, object] | None = None

    def get_signing_serializer(self, app):
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if self._signer is None or self._signer[0] != key:
            self._signer = (key, super().get_signing_serializer(app))
        return self._signer[1]

    def open_session(self, app, request):
        signer = self.get_signing_serializer(app)
        if signer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = signer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        opened = self.session_class(data)
        opened.signed_at = signed_at
        return opened

    def should_set_cookie(self, app, session) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        return signed_at is None or datetime.now(UTC) - signed_at >= REFRESH_AFTER

    def save_session(self, app, session, response) -> None:
        if request.path.startswith("/api/"):
            return
        super().save_session(app, session, response)


def register(app: Flask) -> None:
    app.session_interface = NoCookiesForApi()
    hops = app.config.get("PROXY_FIX_HOPS", 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    @app.after_request
    def set_security_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        # Personal and mental-health data must not sit in shared caches or the back button.
        # A session that names a user counts as signed in (even a revoked one: stricter,
        # and the user need not be loaded from the database for a page that did not ask).
        signed_in = "_user_id" in session
        if request.endpoint != "static" and (signed_in or request.path.startswith("/api/")):
            response.headers["Cache-Control"] = "no-store"
            response.headers.add("Vary", "Cookie")
        return response
