"""The phone-facing HTTP app: files at the root (``/<mac>.cfg``, ...), the
phone-screen pages under ``/screen/``."""

from aiohttp import web

from services.provision import files, screen
from services.provision.context import CONTEXT, ProvisionContext


def phone_app(context: ProvisionContext) -> web.Application:
    app = web.Application()
    app[CONTEXT] = context
    app.router.add_get("/screen/{device}/{token}/login", screen.login)
    app.router.add_get("/screen/{device}/{token}/logout", screen.logout)
    app.router.add_get("/{filename:[^/]+}", files.get_file)
    app.router.add_put("/{filename:[^/]+}", files.refuse_upload)
    return app
