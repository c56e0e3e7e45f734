"""Non-API pages: the web UI at ``/`` and the offline API docs at ``/docs`` and ``/redoc``.

The docs pages load Swagger UI and ReDoc from the assets shipped in the ``fastapi-offline``
package (no CDN); without it, ``/docs`` is a plain page listing the operations of
``/openapi.json``.
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

WEB_STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
DOCS_ASSETS_URL = "/docs-assets"

_FALLBACK_DOCS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - API</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
code{{background:#eee;padding:0 .3em}}li{{margin:.3em 0}}</style></head>
<body><h1>{title} API</h1><p>Machine-readable schema: <a href="{openapi_url}">{openapi_url}</a></p>
<ul id="ops"></ul>
<script>
fetch("{openapi_url}").then(r => r.json()).then(spec => {{
  const ul = document.getElementById("ops");
  for (const [path, ops] of Object.entries(spec.paths)) {{
    for (const [method, op] of Object.entries(ops)) {{
      const li = document.createElement("li");
      li.innerHTML = "<code></code> ";
      li.firstChild.textContent = method.toUpperCase() + " " + path;
      li.append(op.summary || "");
      ul.append(li);
    }}
  }}
}});
</script></body></html>
"""

_FALLBACK_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>genrekit</title></head>
<body><h1>genrekit</h1><p>The web UI is not installed. The REST API is under <code>/api/v1</code>;
see <a href="/docs">/docs</a>.</p></body></html>
"""


def _offline_assets_dir() -> Path | None:
    try:
        import fastapi_offline
    except ImportError:
        return None
    path = Path(fastapi_offline.__file__).resolve().parent / "static"
    return path if (path / "swagger-ui-bundle.js").is_file() else None


def install_pages(app: FastAPI, *, web_dir: Path = WEB_STATIC_DIR) -> None:
    """Add ``/`` (+ ``/static``), ``/docs`` and ``/redoc`` to ``app`` (built with ``docs_url=None``)."""
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title
    assets = _offline_assets_dir()
    if assets is not None:
        app.mount(DOCS_ASSETS_URL, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        if assets is None:
            return HTMLResponse(_FALLBACK_DOCS.format(title=html.escape(title), openapi_url=openapi_url))
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - API docs",
            swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        if assets is None:
            return HTMLResponse(_FALLBACK_DOCS.format(title=html.escape(title), openapi_url=openapi_url))
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - API reference",
            redoc_js_url=f"{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    if web_dir.is_dir():
        app.mount("/static", StaticFiles(directory=web_dir), name="static")

    @app.get("/", include_in_schema=False, response_model=None)
    async def index() -> FileResponse | HTMLResponse:
        page = web_dir / "index.html"
        if page.is_file():
            return FileResponse(page, media_type="text/html")
        return HTMLResponse(_FALLBACK_INDEX)
