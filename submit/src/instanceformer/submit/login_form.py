"""Reading the CSRF token out of a Django sign-in page."""

from __future__ import annotations

from html.parser import HTMLParser

CSRF_FIELD = "csrfmiddlewaretoken"


class _LoginPageParser(HTMLParser):
    """Collects the hidden CSRF field of the page's forms."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.csrf_token: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "input" or self.csrf_token is not None:
            return
        attributes = dict(attrs)
        if attributes.get("name") == CSRF_FIELD and attributes.get("value"):
            self.csrf_token = attributes["value"]


def find_csrf_token(html: str) -> str | None:
    """The value of the first ``<input name="csrfmiddlewaretoken">`` of the page, or None."""
    parser = _LoginPageParser()
    parser.feed(html)
    parser.close()
    return parser.csrf_token
