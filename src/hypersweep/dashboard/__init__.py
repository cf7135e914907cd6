"""The web dashboard: static HTML, CSS and JavaScript pages that read the public ``/api/v1`` API.

``dashboard_router()`` serves them on the server's port::

    /                    projects and sweeps
    /sweeps/{sweep}      one sweep (also /sweeps/{project}/{sweep})
    /runs/{run}          one run
    /static/{file}       the pages' CSS and JavaScript
    /static/plotly.min.js  Plotly.js from the installed ``plotly`` package (never a CDN)

An unknown sweep or run still gets its page, which asks the API and shows a not-found message
with a link back.
"""

from __future__ import annotations

import gzip
import importlib.util
import threading
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from hypersweep.protocol import ErrorBody

__all__ = ["STATIC_DIR", "dashboard_router", "plotly_js_path"]

STATIC_DIR = Path(__file__).parent / "static"
_PAGES = {"index": "index.html", "sweep": "sweep.html", "run": "run.html"}
# Pages and assets change with the installed version; the browser revalidates each load.
_NO_CACHE = {"Cache-Control": "no-cache"}


def plotly_js_path() -> Path | None:
    """``plotly/package_data/plotly.min.js`` of the installed ``plotly``, or None without it."""
    # find_spec, not import: importing plotly costs time and memory the server does not need.
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "package_data" / "plotly.min.js"
        if path.is_file():
            return path
    return None


class _Compressed:
    """plotly.min.js gzipped once (4.8 MB -> about 1.4 MB on the wire)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[Path, bytes] = {}

    def get(self, path: Path) -> bytes:
        with self._lock:
            if path not in self._cache:
                self._cache[path] = gzip.compress(path.read_bytes(), compresslevel=6)
            return self._cache[path]


def dashboard_router() -> APIRouter:
    """The dashboard's pages and assets, to include at the root of the server's app."""
    router = APIRouter(include_in_schema=False)
    compressed = _Compressed()

    def page(name: str) -> FileResponse:
        return FileResponse(STATIC_DIR / _PAGES[name], media_type="text/html", headers=_NO_CACHE)

    @router.get("/")
    def index() -> FileResponse:
        return page("index")

    @router.get("/sweeps/{sweep}")
    def sweep_page(sweep: str) -> FileResponse:
        return page("sweep")

    @router.get("/sweeps/{project}/{sweep}")
    def project_sweep_page(project: str, sweep: str) -> FileResponse:
        return page("sweep")

    @router.get("/runs/{run}")
    def run_page(run: str) -> FileResponse:
        return page("run")

    @router.get("/static/plotly.min.js")
    def plotly_js(request: Request) -> Response:
        path = plotly_js_path()
        if path is None:
            body = ErrorBody(
                error="NotFoundError",
                message="the dashboard's charts need the plotly package, which is not "
                "installed; pip install plotly and restart the server",
            )
            return JSONResponse(body.model_dump(), status_code=404)
        headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(
                compressed.get(path),
                media_type="text/javascript",
                headers={**headers, "Content-Encoding": "gzip"},
            )
        return FileResponse(path, media_type="text/javascript", headers=headers)

    @router.get("/static/{name}")
    def asset(name: str) -> Response:
        # Only the files shipped next to this module; a name cannot climb out of the folder
        # because the route's parameter holds no '/'.
        path = STATIC_DIR / name
        if name.startswith(".") or not path.is_file():
            body = ErrorBody(
                error="NotFoundError",
                message=f"no dashboard file {name!r}; the dashboard starts at /",
            )
            return JSONResponse(body.model_dump(), status_code=404)
        media = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
        return FileResponse(path, media_type=media.get(path.suffix), headers=_NO_CACHE)

    return router
