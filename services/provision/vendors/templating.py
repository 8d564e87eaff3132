"""What the vendor modules share: one way to load a vendor's templates, and
the helpers for values that end up in a phone's files."""

import hashlib
import re
from collections.abc import Callable
from importlib import resources
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, Template, select_autoescape
from markupsafe import Markup

from services.provision.vendors.base import Rendered

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _template_version() -> str:
    """A digest of every vendor's templates (a rendered file depends on them)."""
    digest = hashlib.sha256()
    folders = [resources.files("services.provision").joinpath("templates")]
    while folders:
        folder = folders.pop()
        for item in sorted(folder.iterdir(), key=lambda i: i.name):
            if item.is_dir():
                folders.append(item)
            else:
                digest.update(f"{item.name}\0".encode() + item.read_bytes())
    return digest.hexdigest()[:16]


TEMPLATE_VERSION = _template_version()


def one_line(value: object) -> object:
    """Every value a template prints loses its control characters: a user's
    label with a line break in it must not start a new setting in a
    ``key = value`` file (nor split an XML attribute)."""
    if isinstance(value, str):
        cleaned = _CONTROL.sub(" ", value)
        # Markup (already escaped) must stay Markup, or it is escaped twice.
        return Markup(cleaned) if isinstance(value, Markup) else cleaned
    return value


def environment(
    vendor: str, filters: dict[str, Callable[..., object]] | None = None
) -> Environment:
    """The templates under ``services/provision/templates/<vendor>``.

    Templates named ``*.xml.j2``/``*.xhtml.j2`` are autoescaped; the others
    (plain ``key = value`` files) rely on their own filters and on
    ``one_line``, which every printed value goes through.
    """
    env = Environment(
        loader=PackageLoader("services.provision", f"templates/{vendor}"),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("xml.j2", "xhtml.j2"), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=one_line,
    )
    env.filters.update(filters or {})
    return env


def render(template: Template, content_type: str, **context: object) -> Rendered:
    return Rendered(template.render(**context).encode(), content_type)


def split_query(url: str) -> tuple[str, list[tuple[str, str]]]:
    """``url`` without its query, and the query's parameters.

    A GET form replaces the query of its action URL with its own fields (and
    not every phone browser keeps it for a POST), so the parameters the
    server put in a submit URL are carried as hidden fields instead.
    """
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return base, parse_qsl(parts.query, keep_blank_values=True)


class BrowserPages:
    """A vendor's XML-browser pages: ``login``, ``logout`` and ``message``
    templates with the same extension (``xml``, ``xhtml``) and content type."""

    def __init__(self, env: Environment, extension: str, content_type: str) -> None:
        self._login = env.get_template(f"login.{extension}.j2")
        self._logout = env.get_template(f"logout.{extension}.j2")
        self._logout_pin = env.get_template(f"logout_pin.{extension}.j2")
        self._message = env.get_template(f"message.{extension}.j2")
        self._type = content_type

    def login(self, submit_url: str, extension: str, error: str | None) -> Rendered:
        url, hidden = split_query(submit_url)
        return render(
            self._login, self._type, url=url, hidden=hidden, extension=extension, error=error
        )

    def logout(self, confirm_url: str, who: str) -> Rendered:
        return render(self._logout, self._type, confirm_url=confirm_url, who=who)

    def logout_pin(self, submit_url: str, who: str, error: str | None) -> Rendered:
        url, hidden = split_query(submit_url)
        return render(self._logout_pin, self._type, url=url, hidden=hidden, who=who, error=error)

    def message(self, title: str, text: str) -> Rendered:
        return render(self._message, self._type, title=title, text=text)
