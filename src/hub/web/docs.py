"""The API documentation pages (Swagger UI and ReDoc) from assets shipped in a package.

The scripts and styles come from ``fastapi_offline``'s packaged copies, served by the hub
itself, so the pages work on a site network with no internet access.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from hub.deps import PUBLIC

router = APIRouter(tags=["pages"], include_in_schema=False)

#: The packaged assets that may be served, with their media types.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
PREFIX = "/static/api-docs"


def asset(name: str) -> bytes:
    """The bytes of one packaged documentation asset."""
    return resources.files("fastapi_offline").joinpath("static", name).read_bytes()


@router.get(f"{PREFIX}/{{name}}", dependencies=[PUBLIC])
def docs_asset(name: Annotated[str, PathParam(max_length=40)]) -> Response:
    """One of the documentation pages' scripts or styles."""
    if name not in ASSETS:
        raise HTTPException(404, "no such asset")
    return Response(
        asset(name), media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/docs", dependencies=[PUBLIC])
def swagger_ui() -> HTMLResponse:
    """Swagger UI over the hub's OpenAPI document."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Clearline hub — API",
        swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{PREFIX}/favicon.png",
    )


@router.get("/redoc", dependencies=[PUBLIC])
def redoc() -> HTMLResponse:
    """ReDoc over the hub's OpenAPI document."""
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="Clearline hub — API",
        redoc_js_url=f"{PREFIX}/redoc.standalone.js",
        redoc_favicon_url=f"{PREFIX}/favicon.png",
        with_google_fonts=False,
    )
