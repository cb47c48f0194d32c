"""create_app(settings): the fashionlens web service (FastAPI). Contract: /work/notes/service_contract.md.

Models are loaded once, when the service starts (lifespan), never per request; model work runs in a
worker thread behind a bounded queue; every error is JSON {"error": "..."}.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from . import routes_analyze, routes_catalog, routes_insights
from .handlers import error, install_handlers
from .limits import API_KEY_HEADER, check_admin
from .settings import ServiceSettings
from .state import open_state

FORM_OVERHEAD = 64 * 1024  # multipart boundaries, headers and the small form fields around a photo


def create_app(settings: ServiceSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = await run_in_threadpool(open_state, settings)
        try:
            yield
        finally:
            app.state.service.catalog.close()

    app = FastAPI(title="fashionlens", lifespan=lifespan,
                  description="Garments in a photo, similar and complete-the-look products from the shop's "
                              "catalogue, and insights on what customers wear. Errors: {\"error\": \"...\"}.")
    photo_limit = settings.max_upload_bytes + FORM_OVERHEAD
    app.include_router(routes_analyze.router, max_body_size=photo_limit)
    app.include_router(routes_catalog.router, max_body_size=photo_limit)
    app.include_router(routes_catalog.admin, max_body_size=settings.max_import_bytes + FORM_OVERHEAD)
    app.include_router(routes_insights.router, max_body_size=photo_limit)
    install_handlers(app)
    guard_admin_routes(app)
    if settings.cors_origins:  # closed unless origins are configured: other sites' pages may not call us
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Content-Type", API_KEY_HEADER])
    from .pages import mount_pages

    mount_pages(app)
    return app


def guard_admin_routes(app: FastAPI) -> None:
    """Check the admin key before FastAPI reads an admin route's body: without the key no one makes the
    server receive a 500 MB upload (the route's own check would come after the upload)."""
    admin_routes = [(route.methods, route.path_regex) for route in routes_catalog.admin.routes]

    @app.middleware("http")
    async def admin_key_first(request: Request, call_next):
        path = request.scope["path"]
        if any(request.method in methods and regex.match(path) for methods, regex in admin_routes):
            try:
                check_admin(request)
            except HTTPException as refused:
                return error(refused.status_code, refused.detail)
        return await call_next(request)
