"""QR codes for vouchers (segno, pure Python, no other dependencies). Pure: no Flask.

The QR holds an HTTPS link to ``/vouchers/v/<code>``: a phone camera or WeChat's scanner
opens it directly (the member lands on their wallet or the claim form, station staff on
the verify page), so nobody needs an in-app scanner. The code is printed under the QR for
typing by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import segno


@dataclass(frozen=True)
class QrImage:
    src: str  # data:image/svg+xml URI (our CSP allows img-src data:)
    size: int  # width = height in CSS pixels


def qr_image(content: str, scale: int = 4, border: int = 2) -> QrImage:
    qr = segno.make(content, error="m", micro=False)
    return QrImage(
        src=qr.svg_data_uri(scale=scale, border=border),
        size=qr.symbol_size(scale=scale, border=border)[0],
    )
