"""A phone vendor: how its phones name their files, how they say who they are
(User-Agent), what its files look like, its XML-browser pages and its resync
event. One module plus a template folder per vendor; adding one touches no
other (register it in ``services.provision.vendors``)."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from services.provision.phone import PhoneView

if TYPE_CHECKING:
    from services.provision.vendors.templating import BrowserPages

FileKind = Literal["common", "device"]


@dataclass(frozen=True)
class ModelSpec:
    name: str  # as the directory names it
    line_keys: int  # programmable line/feature keys
    browser: bool  # has an XML browser (else Login/Logout are speed dials)


@dataclass(frozen=True)
class FileRequest:
    """A requested path this vendor recognises.

    ``common``: no device in particular and nothing secret in it (served
    without credentials). ``device``: one device's file, found by ``mac``;
    it carries the SIP secret, so it needs the device's credentials.
    """

    kind: FileKind
    filename: str
    mac: str | None  # 12 lowercase hex digits for device files


@dataclass(frozen=True)
class UserAgent:
    """What a User-Agent header says: the model (normalised to the
    directory's spelling, e.g. "T54W", "VVX450") and the MAC when the vendor
    puts it there."""

    model: str
    mac: str | None


@dataclass(frozen=True)
class Rendered:
    body: bytes
    content_type: str


class Vendor(ABC):
    name: ClassVar[str]  # "yealink"; the directory's device `vendor`
    # The Event header of the unsolicited NOTIFY that makes the phone
    # re-fetch its files without rebooting.
    check_sync_event: ClassVar[str]
    # Whether the phones' XML browser can submit a form by POST. The
    # phone-screen pages take a PIN, which must never travel in a URL: a
    # vendor whose forms only GET gets no phone-screen keys (its Login and
    # Logout keys dial the tenant's feature codes instead).
    screen_forms: ClassVar[bool]

    @abstractmethod
    def model(self, name: str) -> ModelSpec:
        """The spec of a model (a conservative default for unknown ones)."""

    @abstractmethod
    def parse_path(self, filename: str) -> FileRequest | None:
        """A requested file name (no directories) if it is one of ours."""

    @abstractmethod
    def parse_user_agent(self, user_agent: str) -> UserAgent | None:
        """None when the header is not this vendor's phone."""

    def is_upload(self, filename: str) -> bool:
        """Whether ``filename`` is one a phone of this vendor uploads (settings
        overrides, contacts, call lists, logs). The server refuses them all:
        nothing of a user may be stored where the next user's phone reads it.
        """
        return False

    @abstractmethod
    def render(self, request: FileRequest, view: PhoneView | None) -> Rendered:
        """The file; ``view`` is None for common files."""

    # XML-browser pages (Yealink XML objects, Polycom microbrowser XHTML),
    # from the vendor's login/logout/message templates.
    pages: "BrowserPages"

    def login_page(self, submit_url: str, extension: str, error: str | None) -> Rendered:
        """Asks for extension (prefilled with ``extension``, may be "") and
        PIN; submits them to ``submit_url`` as form fields ``ext`` and
        ``pin`` (POST where ``screen_forms``). ``error`` (e.g. "Wrong PIN")
        is shown above the form."""
        return self.pages.login(submit_url, extension, error)

    def logout_page(self, confirm_url: str, who: str) -> Rendered:
        """Asks "Log out <who>?"; confirming requests ``confirm_url`` (GET)."""
        return self.pages.logout(confirm_url, who)

    def logout_pin_page(self, submit_url: str, who: str, error: str | None) -> Rendered:
        """Asks "Log out <who>?" and that user's PIN, submitted to
        ``submit_url`` as form field ``pin`` (POST where ``screen_forms``)."""
        return self.pages.logout_pin(submit_url, who, error)

    def message_page(self, title: str, text: str) -> Rendered:
        """A result screen (logged in, logged out, locked, ...)."""
        return self.pages.message(title, text)
