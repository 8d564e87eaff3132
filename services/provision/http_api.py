"""The phone-facing HTTP app: files at the root (``/<mac>.cfg``, ...), the
phone-screen pages under ``/screen/``."""

from aiohttp import web

from services.provision import files, screen
from services.provision.context import CONTEXT, ProvisionContext


def phone_app(context: ProvisionContext) -> web.Application:
    app = web.Application()
    app[CONTEXT] = context
    for page, handler in (("login", screen.login), ("logout", screen.logout)):
        # GET shows the page; the PIN comes back only in a POST's body.
        app.router.add_get(f"/screen/{{device}}/{{token}}/{page}", handler)
        app.router.add_post(f"/screen/{{device}}/{{token}}/{page}", handler)
    app.router.add_get("/{filename:[^/]+}", files.get_file)
    app.router.add_put("/{filename:[^/]+}", files.refuse_upload)
    return app
