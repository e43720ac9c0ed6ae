"""Form pieces: a labelled field row with its error line, and an address block.

``FieldRow`` puts a label beside one or more widgets and the field's error message
right under them; ``show_field_errors`` fills every row below a widget from a
``ValidationError.errors`` mapping. ``AddressFields`` is the billing or shipping
block of a customer form: street, postal code, city, country, and for the United
States and Canada a required State/Province selector instead of the free region.
Neither validates anything itself: the customers service does.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import pycountry
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static

from tui.domain.validation import FieldError, country_name, normalize_country, requires_state
from tui.i18n import _, current_language



class FieldRow(Vertical):
    """``label  [widget…]`` on one line, the field's error message on the next (when any)."""

    DEFAULT_CSS = """
    FieldRow {
        height: auto;
    }
    FieldRow > Horizontal {
        height: auto;
    }
    FieldRow .field-label {
        width: 18;
        padding-right: 1;
        color: $text-muted;
    }
    FieldRow Input.-textual-compact {
        width: 1fr;
        background: $foreground 10%;
    }
    FieldRow Input.-textual-compact:focus {
        background: $primary 25%;
    }
    FieldRow Select.-textual-compact {
        width: 1fr;
    }
    FieldRow .field-error {
        display: none;
        margin-left: 18;
        color: $error;
        height: auto;
    }
    FieldRow.-error .field-error {
        display: block;
    }
    FieldRow.-error .field-label {
        color: $error;
    }
    """

    def __init__(self, label: str, *widgets: Widget, field: str, required: bool = False,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.field_key = field
        self.label_text = label
        self.required = required
        self._widgets = widgets

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self._label_markup(), classes="field-label", markup=False)
            yield from self._widgets
        yield Static("", classes="field-error", markup=False)

    def _label_markup(self) -> str:
        return f"{self.label_text} *" if self.required else self.label_text

    def set_label(self, label: str, *, required: bool) -> None:
        self.label_text, self.required = label, required
        if self.is_mounted:
            self.query_one(".field-label", Label).update(self._label_markup())

    def set_error(self, message: str | None) -> None:
        self.query_one(".field-error", Static).update(message or "")
        self.set_class(bool(message), "-error")

    @property
    def error(self) -> str:
        return str(self.query_one(".field-error", Static).render()) if self.has_class(
            "-error") else ""


def show_field_errors(container: Widget, errors: Mapping[str, str]) -> list[FieldRow]:
    """Show each row's message from ``errors`` (clearing the others); return rows in error."""
    wrong = []
    for row in container.query(FieldRow):
        message = errors.get(row.field_key)
        row.set_error(message)
        if message:
            wrong.append(row)
    return wrong


def focus_first_error(rows: list[FieldRow]) -> None:
    """Focus the first row's field and scroll so its message shows too."""
    for row in rows:
        for widget in row.query("*"):
            if widget.focusable:
                widget.focus(scroll_visible=False)
                # after the layout has made room for the message
                row.call_after_refresh(row.scroll_visible, animate=False)
                return


@lru_cache(maxsize=None)
def subdivision_options(country: str) -> tuple[tuple[str, str], ...]:
    """("Texas (TX)", "US-TX") pairs for a country's subdivisions, by name."""
    subs = pycountry.subdivisions.get(country_code=country) or ()
    pairs = [(f"{sub.name} ({sub.code.split('-', 1)[1]})", sub.code) for sub in subs]
    return tuple(sorted(pairs, key=lambda pair: pair[0].casefold()))


def state_label(code: str | None) -> str:
    """"Texas (TX)" for "US-TX"; free-text regions are returned as they are."""
    if code and "-" in code:
        for label, value in subdivision_options(code.split("-", 1)[0]):
            if value == code:
                return label
    return code or ""


@lru_cache(maxsize=4)
def _country_names(language: str) -> tuple[str, ...]:
    """What the country field suggests: the names as the operator reads them."""
    return tuple(sorted({country_name(c.alpha_2, language) for c in pycountry.countries}))


def resolve_country(text: str) -> str | None:
    """The alpha-2 code typed (code or name), or None while it is empty or unknown."""
    try:
        return normalize_country(text)
    except FieldError:
        return None


class AddressFields(Vertical):
    """Street, postal code, city, country and state/region of one address.

    ``prefix`` ("billing_" or "shipping_") names the CustomerDraft fields; widget ids
    are ``prefix + part`` (the state selector is ``prefix + "state_select"``, the free
    region ``prefix + "region"``), and each FieldRow's ``field_key`` is the draft field,
    so ``show_field_errors`` puts the service's messages under the right field.
    ``fallback_country`` is the country used while none is typed (the configured
    default for billing, the billing country for shipping): it decides whether the
    State/Province selector is shown, as the service decides whether it is required.
    """

    DEFAULT_CSS = """
    AddressFields {
        height: auto;
    }
    AddressFields .country-name {
        width: 1fr;
        padding-left: 1;
        color: $text-muted;
    }
    AddressFields Input.country {
        width: 24;
    }
    """

    def __init__(self, prefix: str, *, fallback_country: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.prefix = prefix
        self.fallback_country = fallback_country
        self._state_country: str | None = None  # whose subdivisions the selector holds

    def compose(self) -> ComposeResult:
        p = self.prefix
        yield FieldRow(_("Street"), Input(id=p + "street", compact=True), field=p + "street")
        yield FieldRow(_("Postal code"), Input(id=p + "postal_code", compact=True),
                       field=p + "postal_code")
        yield FieldRow(_("City"), Input(id=p + "city", compact=True), field=p + "city")
        yield FieldRow(
            _("Country"),
            Input(id=p + "country", compact=True, classes="country",
                  placeholder=_("code or name"),
                  suggester=SuggestFromList(_country_names(current_language()),
                                            case_sensitive=False)),
            Static("", id=p + "country_name", classes="country-name", markup=False),
            field=p + "country")
        yield FieldRow(
            _("Region"),
            Select([], prompt=_("Choose…"), id=p + "state_select", compact=True),
            Input(id=p + "region", compact=True),
            field=p + "state", id=p + "state_row")

    def on_mount(self) -> None:
        self._sync_country()

    # -- reading and writing ---------------------------------------------------------------
    def country_code(self) -> str | None:
        """The country this address is in: the typed one, else the fallback."""
        text = self.query_one(f"#{self.prefix}country", Input).value
        return resolve_country(text) if text.strip() else self.fallback_country

    def values(self) -> dict[str, str]:
        """The draft fields as typed (``prefix + part``); the service normalises them."""
        p = self.prefix
        out = {p + part: self.query_one(f"#{p}{part}", Input).value
               for part in ("street", "postal_code", "city", "country")}
        if requires_state(self.country_code()):
            chosen = self.query_one(f"#{p}state_select", Select).value
            out[p + "state"] = "" if chosen is Select.NULL else str(chosen)
        else:
            out[p + "state"] = self.query_one(f"#{p}region", Input).value
        return out

    def load(self, values: Mapping[str, str | None]) -> None:
        """Fill the fields from draft-like values (e.g. a stored customer's)."""
        p = self.prefix
        for part in ("street", "postal_code", "city", "country"):
            self.query_one(f"#{p}{part}", Input).value = values.get(p + part) or ""
        self._sync_country()
        state = values.get(p + "state") or ""
        if requires_state(self.country_code()):
            select = self.query_one(f"#{p}state_select", Select)
            if state in {value for _label, value in subdivision_options(self._state_country)}:
                select.value = state
        else:
            self.query_one(f"#{p}region", Input).value = state

    def set_fallback_country(self, code: str | None) -> None:
        self.fallback_country = code
        if self.is_mounted:
            self._sync_country()

    # -- country drives the state field ----------------------------------------------------
    @on(Input.Changed)
    def _country_typed(self, event: Input.Changed) -> None:
        if event.input.id == f"{self.prefix}country":
            self._sync_country()

    def _sync_country(self) -> None:
        p = self.prefix
        text = self.query_one(f"#{p}country", Input).value
        code = self.country_code()
        hint = self.query_one(f"#{p}country_name", Static)
        if not text.strip():
            hint.update(_("(default: {country})").format(country=country_name(code))
                        if code else "")
        else:
            name = country_name(code) if code else ""  # if unknown, Next says so
            hint.update("" if name.casefold() == text.strip().casefold() else name)
        row = self.query_one(f"#{p}state_row", FieldRow)
        select = self.query_one(f"#{p}state_select", Select)
        region = self.query_one(f"#{p}region", Input)
        if requires_state(code):
            if code != self._state_country:
                self._state_country = code
                select.set_options(subdivision_options(code))
            row.set_label(_("State") if code == "US" else _("Province"), required=True)
            select.display, region.display = True, False
        else:
            row.set_label(_("Region"), required=False)
            select.display, region.display = False, True
