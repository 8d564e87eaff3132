"""What the vendor modules share: one way to load a vendor's templates, and
the helpers for values that end up in a phone's files."""

import re
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, Template, select_autoescape
from markupsafe import Markup

from services.provision.vendors.base import Rendered

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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

    A GET form replaces the query of its action URL with its own fields, so
    the parameters the server put in a submit URL (a token, say) are carried
    as hidden fields instead.
    """
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return base, parse_qsl(parts.query, keep_blank_values=True)
