"""Security headers, proxy handling and cache rules for every response."""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
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


class NoCookiesForApi(SecureCookieSessionInterface):
    """The JSON API authenticates with bearer tokens and never sets a cookie."""

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
        try:
            signed_in = current_user.is_authenticated
        except Exception:  # noqa: BLE001 - database down: still send the page
            signed_in = False
        if request.endpoint != "static" and (signed_in or request.path.startswith("/api/")):
            response.headers["Cache-Control"] = "no-store"
            response.headers.add("Vary", "Cookie")
        return response
