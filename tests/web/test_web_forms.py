"""Forms that carry secrets never put them into a URL (no browser needed).

A ``<form>`` without ``method`` submits with GET when its script does not run: the browser
then writes every field into the address (history, server and proxy logs, ``Referer``). Every
form holding a password-like field must say ``method="post"`` (or ``"dialog"``, which sends
nothing); forms built by the scripts too.
"""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from keyfolio.api.app import create_app
from keyfolio.config import Settings
from keyfolio.web.pages import PAGES, STATIC_DIR, TEMPLATES_DIR

SECRET_NAMES = {"password", "confirm", "secret", "passphrase", "token", "api_key", "apikey"}
SAFE_METHODS = {"post", "dialog"}
PLANTED = "form-secret-PLANTED-5e1d"


class _Forms(HTMLParser):
    """Each form's method and whether it holds a secret field."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, object]] = []
        self._open: dict[str, object] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: (value or "") for name, value in attrs}
        if tag == "form":
            self._open = {
                "id": values.get("id", "?"),
                "method": values.get("method", "").lower(),
                "secret": [],
            }
            self.forms.append(self._open)
        elif tag in ("input", "textarea") and self._open is not None:
            name = values.get("name", "").lower()
            if values.get("type", "").lower() == "password" or name in SECRET_NAMES:
                self._open["secret"].append(name or values.get("id", "?"))  # type: ignore[union-attr]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def unsafe_forms(html: str) -> list[str]:
    parser = _Forms()
    parser.feed(html)
    return [
        f"form #{form['id']} ({', '.join(form['secret'])}) has method={form['method']!r}"  # type: ignore[arg-type]
        for form in parser.forms
        if form["secret"] and form["method"] not in SAFE_METHODS
    ]


def test_the_checker_catches_a_form_without_method() -> None:
    assert unsafe_forms('<form id="f"><input name="secret" type="password"></form>')
    assert unsafe_forms('<form id="f" method="get"><input name="token"></form>')
    assert not unsafe_forms('<form id="f" method="POST"><input type="password"></form>')
    assert not unsafe_forms('<form id="f" method="dialog"><input type="password"></form>')
    assert not unsafe_forms('<form id="f"><input name="name"></form>')


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES_DIR.glob("*.html")))
def test_every_template_posts_its_secrets(template: str) -> None:
    assert unsafe_forms((TEMPLATES_DIR / template).read_text()) == []


def test_the_secret_forms_are_found() -> None:
    """The checker sees the forms it must check (a parse that finds nothing proves nothing)."""
    found = {}
    for path in TEMPLATES_DIR.glob("*.html"):
        parser = _Forms()
        parser.feed(path.read_text())
        found.update({form["id"]: form["method"] for form in parser.forms if form["secret"]})
    assert found == {"unlock-form": "post", "link-form": "post", "token-form": "dialog"}


_FORM_CALL = re.compile(r'h\(\s*"form"\s*,\s*\{(?P<attrs>[^}]*)\}')


@pytest.mark.parametrize("script", sorted(p.name for p in STATIC_DIR.glob("*.js")))
def test_forms_built_by_scripts_post_too(script: str) -> None:
    """Every form a script builds is submitted by that script: none may fall back to GET."""
    text = (STATIC_DIR / script).read_text()
    for match in _FORM_CALL.finditer(text):
        assert re.search(r'method:\s*"(post|dialog)"', match["attrs"]), (
            f'{script}: h("form", {{{match["attrs"]}}}) has no method: "post"'
        )


@pytest.fixture
async def http(tmp_path: Path):
    api = create_app(Settings(home=tmp_path / "home"), live=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://127.0.0.1"
    ) as client:
        yield client
    api.state.keyfolio.app.close()


async def test_rendered_pages_post_their_secrets(http: httpx.AsyncClient) -> None:
    for page in PAGES:
        response = await http.get(page.path)
        assert response.status_code == 200
        assert unsafe_forms(response.text) == [], page.path


@pytest.mark.parametrize("path", ["/unlock", "/link"])
async def test_a_secret_form_posted_without_its_script_is_answered_and_discarded(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    caplog.set_level(logging.DEBUG)
    form = {"password": PLANTED, "secret": PLANTED, "passphrase": PLANTED, "api_key": PLANTED}
    response = await http.post(path, data=form, headers={"Origin": "http://127.0.0.1"})
    assert response.status_code == 400
    assert "This form needs JavaScript" in response.text and "Nothing was stored" in response.text
    assert "<script" not in response.text and PLANTED not in response.text
    assert PLANTED not in caplog.text
    vault = (await http.get("/api/v1/vault")).json()
    assert vault["exists"] is False and vault["unlocked"] is False  # nothing was used
    foreign = await http.post(path, data=form, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and PLANTED not in foreign.text
