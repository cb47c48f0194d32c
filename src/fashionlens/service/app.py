"""create_app(settings): the fashionlens web service (FastAPI). The API: docs/service.md.

Models are loaded once, when the service starts (lifespan), never per request; model work runs in a
worker thread behind a bounded queue; every error is JSON {"error": "..."}.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from fashionlens.service import routes_analyze, routes_catalog, routes_experiments, routes_insights
from fashionlens.service.handlers import error, install_handlers
from fashionlens.service.limits import API_KEY_HEADER, BodyReadTimeout, NoSniff, check_admin, size_text
from fashionlens.service.settings import ServiceSettings
from fashionlens.service.state import open_state

FORM_OVERHEAD = 64 * 1024  # multipart boundaries, headers and the small form fields around a photo


SETTINGS_VARIABLE = "FASHIONLENS_SERVICE_SETTINGS"  # how `serve --workers N` hands its settings to each worker


def app_from_environment() -> FastAPI:
    """The app of one of `serve --workers N`'s processes (uvicorn's factory): the settings the command
    checked, read from the environment; the worker loads its own models at start-up."""
    return create_app(ServiceSettings.from_environment(os.environ[SETTINGS_VARIABLE]))


def create_app(settings: ServiceSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = await run_in_threadpool(open_state, settings)
        try:
            yield
        finally:
            await app.state.service.imports.wait_all()  # an import started by a request finishes first
            app.state.service.queue.close()
            app.state.service.catalog.close()

    # no /docs or /redoc: FastAPI's pages load Swagger UI and ReDoc from a CDN, blank on a closed network,
    # and no installed package ships them; /openapi.json stays
    app = FastAPI(
        title="fashionlens",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Garments in a photo, similar and complete-the-look products from the shop's "
        'catalogue, and insights on what customers wear. Errors: {"error": "..."}.',
    )
    photo_limit = settings.max_upload_bytes + FORM_OVERHEAD
    import_limit = settings.max_import_bytes + FORM_OVERHEAD
    app.include_router(routes_analyze.router, max_body_size=photo_limit)
    app.include_router(routes_catalog.router, max_body_size=photo_limit)
    app.include_router(routes_catalog.admin, max_body_size=import_limit)
    app.include_router(routes_insights.router, max_body_size=photo_limit)
    app.include_router(routes_experiments.router, max_body_size=photo_limit)
    app.include_router(routes_experiments.admin, max_body_size=photo_limit)
    install_handlers(app)
    # inside check_before_the_body's middleware: that one (BaseHTTPMiddleware) hands the app a receive()
    # whose errors arrive wrapped in an ExceptionGroup, which FastAPI would answer 400
    app.add_middleware(BodyReadTimeout, seconds=settings.body_timeout_s)
    check_before_the_body(app, photo_limit, import_limit)
    if settings.cors_origins:  # closed unless origins are configured: other sites' pages may not call us
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Content-Type", API_KEY_HEADER],
        )
    from fashionlens.service.pages import mount_pages

    mount_pages(app)
    app.add_middleware(NoSniff)  # added last: the outermost, so every answer above passes through it
    return app


def check_before_the_body(app: FastAPI, photo_limit: int, import_limit: int) -> None:
    """The admin key and a declared Content-Length, checked before FastAPI reads a body: without the key
    no one makes the server receive a 500 MB upload, and an oversize body is refused unread. (The routers'
    max_body_size still counts the bytes of bodies sent without a length.)"""
    admin_routes = [
        (route.methods, route.path_regex)
        for route in routes_catalog.admin.routes
        if isinstance(route, APIRoute) and route.methods is not None  # FastAPI gives every APIRoute its methods
    ]

    @app.middleware("http")
    async def before_the_body(request: Request, call_next):
        path = request.scope["path"]
        admin = any(request.method in methods and regex.match(path) for methods, regex in admin_routes)
        if admin:
            try:
                check_admin(request)
            except HTTPException as refused:
                return error(refused.status_code, refused.detail)
        declared, limit = request.headers.get("content-length", ""), import_limit if admin else photo_limit
        if declared.isdigit() and int(declared) > limit:
            return error(413, f"request body too large ({size_text(int(declared))}, limit {size_text(limit)})")
        return await call_next(request)
