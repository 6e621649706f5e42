"""The dashboard's HTML pages: Jinja templates around small static scripts.

The pages hold no data: every number comes from the JSON API (``/api/v1``) through the
scripts in ``static/``. Templates only lay out the page, so the server renders nothing that
depends on the database or the vault, and every page works while the vault is locked.
Content-Security-Policy friendly: no inline scripts or styles anywhere.

Forms that carry a secret (Unlock, Link exchange, the token dialog) use ``method="post"`` (or
``"dialog"``), so that even when the script does not run, the browser never puts what was
typed into a URL (history, logs, ``Referer``). The script sends them to the JSON API; a form
that reaches its page by POST anyway gets :data:`NEEDS_JS`, a page saying so, and its body is
never read.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from keyfolio import __version__

__all__ = ["PAGES", "STATIC_DIR", "TEMPLATES_DIR", "Page", "router"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""The directory the API mounts at ``/static``."""

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


class Page:
    """One dashboard page: its path, template, title and script.

    ``command`` is the CLI equivalent of a page whose form carries a secret: such a page also
    answers POST (with :data:`NEEDS_JS`).
    """

    __slots__ = ("command", "label", "nav", "path", "script", "template", "title")

    def __init__(
        self,
        path: str,
        template: str,
        title: str,
        script: str,
        *,
        label: str | None = None,
        command: str | None = None,
    ) -> None:
        self.path = path
        self.template = template
        self.title = title
        self.script = script
        self.label = label  # the navigation link's text; None keeps it out of the navigation
        self.nav = label is not None
        self.command = command


PAGES: tuple[Page, ...] = (
    Page("/", "overview.html", "Overview", "overview.js", label="Overview"),
    Page("/accounts", "accounts.html", "Accounts", "accounts.js", label="Accounts"),
    Page(
        "/link",
        "link.html",
        "Link an exchange",
        "link.js",
        label="Link exchange",
        command="keyfolio account add okx --name NAME",
    ),
    Page("/portfolios", "portfolios.html", "Portfolios", "portfolios.js", label="Portfolios"),
    Page(
        "/unlock",
        "unlock.html",
        "Unlock the vault",
        "unlock.js",
        command="keyfolio serve",
    ),
)
"""Every page, in navigation order."""

NEEDS_JS = "form_needs_js.html"
"""The answer to a form POSTed to its page: the form is sent by script; nothing was read."""


@cache
def _templates() -> Jinja2Templates:
    """The template environment, built on first use (nothing happens at import time)."""
    return Jinja2Templates(directory=str(TEMPLATES_DIR))


def _render(request: Request, page: Page) -> HTMLResponse:
    context = {
        "page": page,
        "pages": [item for item in PAGES if item.nav],
        "version": __version__,
    }
    response = _templates().TemplateResponse(request, page.template, context)
    response.headers["Cache-Control"] = "no-store"
    return response


router = APIRouter(include_in_schema=False)
"""The page routes; ``create_app`` includes it and mounts :data:`STATIC_DIR` at ``/static``."""


def _add_route(page: Page) -> None:
    async def endpoint(request: Request) -> HTMLResponse:
        return _render(request, page)

    endpoint.__name__ = f"page_{page.template.removesuffix('.html')}"
    router.add_api_route(
        page.path, endpoint, methods=["GET"], response_class=HTMLResponse, name=endpoint.__name__
    )


def _add_post_route(page: Page) -> None:
    async def endpoint(request: Request) -> HTMLResponse:
        context = {"page": page, "version": __version__, "command": page.command}
        response = _templates().TemplateResponse(request, NEEDS_JS, context, status_code=400)
        response.headers["Cache-Control"] = "no-store"
        return response

    endpoint.__name__ = f"post_{page.template.removesuffix('.html')}"
    router.add_api_route(
        page.path, endpoint, methods=["POST"], response_class=HTMLResponse, name=endpoint.__name__
    )


for _page in PAGES:
    _add_route(_page)
    if _page.command is not None:
        _add_post_route(_page)
