"""The browser's defences, one definition for both places that serve the web app and the API.

In AWS CloudFront adds them to every answer (infra/template.yaml's
SecurityHeaders response-headers policy, overriding whatever the origin said);
locally infra/local_server.py does the same. tests/infra/test_stack_config.py
holds the template to this module, so the two cannot drift apart.

- Content-Security-Policy: scripts only from the app's origin (no inline
  script), styles from it plus inline ones (xterm.js sets element styles),
  and connections only to the app's origin and the S3 endpoint presigned
  URLs name (console chunks, the hosts page's change feed); no plugins, no
  <base>, forms post only to the app, and no page may frame it.
- X-Frame-Options DENY for browsers that predate frame-ancestors;
  Referrer-Policy no-referrer; X-Content-Type-Options nosniff on every answer.
- Strict-Transport-Security only where the app is served over HTTPS (a plain
  HTTP local stack would teach the browser nothing useful, and localhost
  ignores it anyway).
"""

from __future__ import annotations

from urllib.parse import urlsplit

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self' {s3_origin}; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HSTS_SECONDS = 31536000


def aws_s3_origin(region: str) -> str:
    """The origin presigned URLs name on AWS: S3's regional endpoint (functions/chalicelib/aws.py)."""
    return f"https://s3.{region}.amazonaws.com"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def security_headers(s3_origin: str, *, https: bool) -> dict[str, str]:
    headers = {"Content-Security-Policy": CSP.format(s3_origin=s3_origin),
               "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
    if https:
        headers["Strict-Transport-Security"] = f"max-age={HSTS_SECONDS}; includeSubDomains"
    return headers
