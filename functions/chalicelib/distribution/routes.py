"""Routes: the install script and the agent's wheel, for hosts; no authentication, no secrets.

Both answers are `no-store`: the script pins the wheel's sha256, so a cached
script outliving a deploy would refuse the new wheel (and a script derived
from the request's Host must not be shared, see package.py).
"""

from __future__ import annotations

from collections.abc import Callable

from chalice import Blueprint, Response

from ..errors import FleetvisorError
from ..settings import settings
from ..web import error_response
from . import package

bp = Blueprint(__name__)

COMMON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@bp.route(package.SCRIPT_PATH, methods=["GET"])
def install_script() -> Response:
    def answer() -> Response:
        request = bp.current_request
        url = package.control_plane_url(settings().public_url, host=request.headers.get("host"),
                                        forwarded_proto=request.headers.get("x-forwarded-proto"),
                                        path=str((request.context or {}).get("path", "")))
        return Response(package.install_script(url), status_code=200, headers={
            **COMMON_HEADERS, "Content-Type": "text/plain; charset=utf-8", "Vary": "Host, X-Forwarded-Proto"})

    return _answering(answer)


@bp.route("/agent/{filename}", methods=["GET"])
def agent_file(filename: str) -> Response:
    def answer() -> Response:
        wheel = package.wheel(filename)
        return Response(wheel.data, status_code=200, headers={
            **COMMON_HEADERS, "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{wheel.filename}"'})

    return _answering(answer)


def _answering(make: Callable[[], Response]) -> Response:
    try:
        return make()
    except FleetvisorError as exc:
        return error_response(exc)
