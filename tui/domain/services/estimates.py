"""Estimates (STACK): priced lines for a customer, with a copy of the customer's details.

Rules kept here, and only here:

- Numbers are ``E-<year>-<nnnn>``: the year of the estimate's date and a per-year
  sequence taken, in the creating transaction, from ``EstimateSequence``, so a number
  is never given twice, not even after the estimate holding it is deleted.
- Choosing the customer fills the estimate's copy of its details (``customer_copy``):
  name, billing and shipping address, phone, e-mail, language and the main contact's
  name. The main contact is the earliest-added contact with the "billing" role, else
  the earliest-added contact, else nobody. The copy is never typed in: it is refreshed
  from the customer whenever the customer or its contacts change, in that change's
  transaction (``refresh_customer_copies``), and kept as it was when the customer is
  deleted, which only clears the link (``unlink_customer``).
- Amounts are whole minor units of the estimate's currency (``total_minor``, cents for
  EUR), never floats. Quantities are exact decimals (at most 3 places, above zero).
  A unit price has at most the currency's minor digits and may be negative (a
  discount line). A line's amount is quantity x unit price rounded half up to a
  minor unit; the total is the sum of the lines' amounts.
- The currency is the customer's when the estimate is made (or relinked to another
  customer); a customer's currency cannot change once it has estimates (C6, checked
  in ``customers.update_customer`` and by a trigger of schema 5).
- Status: draft -> sent -> accepted | declined, freely changed by whoever may edit
  estimates. "Open" estimates, as the reports count them, are the draft and sent ones.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from tui.domain import locale_format
from tui.domain.context import Context
from tui.domain.dialect import same_text
from tui.domain.errors import Conflict, NotFound, ValidationError
from tui.domain.models import Contact, Customer, Estimate, EstimateLine, EstimateSequence, utcnow
from tui.domain.permissions import require, require_any
from tui.domain.services._base import audit, changed_fields, snapshot, versioned_update, write
from tui.domain.services.search import CONTROL
from tui.domain.validation import LIMITS, Errors, FieldError, clean_text, quoted
from tui.i18n import N_, _

STATUSES: dict[str, str] = {
    "draft": N_("Draft"),
    "sent": N_("Sent"),
    "accepted": N_("Accepted"),
    "declined": N_("Declined"),
}
OPEN_STATUSES = ("draft", "sent")  # what "open estimates" means in lists and reports
STATUS_FILTERS = (*STATUSES, "open")
MAIN_CONTACT_ROLE = "billing"
COPIED_FIELDS = ("customer_name", "billing_street", "billing_postal_code", "billing_city",
                 "billing_country", "billing_state", "shipping_street", "shipping_postal_code",
                 "shipping_city", "shipping_country", "shipping_state", "phone", "email",
                 "contact_name", "language")
DESCRIPTION_LIMIT = 1000
MAX_LINES = 500
QUANTITY_PLACES = 3
MAX_QUANTITY = Decimal(1_000_000)
MAX_AMOUNT_MINOR = 10 ** 15  # per line, per unit price and per total: far beyond any estimate
MAX_AMOUNT_DIGITS = 18  # 10 ** 19 or more (adjusted() > 18) is past MAX_AMOUNT_MINOR in any currency
# Exact arithmetic for amounts: no rounding to 28 digits (1.000…001 is not 1) and no
# overflow or underflow for the exponents a Decimal may carry.
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN,
                         traps=[decimal.InvalidOperation])
# ISO 4217 minor units, the same table the locale formats use.
MINOR_UNITS = locale_format.MINOR_UNITS


# ------------------------------------------------------------------ money and numbers
# People's forms (grouped digits, the locale's decimal mark and currency symbol) come from
# tui.domain.locale_format (Babel); ``locale`` None there means the operator's locale, and
# a bare language ("fr") its default locale (fr_FR). ``minor_to_text`` is the plain form
# for machines (JSON, CSV, the audit trail) and stays the same in every locale.

minor_units = locale_format.minor_units


def parse_decimal(value: object, locale: str | None = None) -> Decimal:
    """An exact number from what a person typed, in ``locale``'s form ("1 250,50" in
    French, "1.250,50" in Danish, "1,250.50" in US English) or plain ("1250.50"); a
    Decimal or an int is taken as it is. See locale_format.parse_decimal."""
    if isinstance(value, bool):
        raise FieldError(_("Not a number: {value}").format(value=quoted(value)))
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    else:
        number = locale_format.parse_decimal("" if value is None else str(value), locale)
    if not number.is_finite():
        raise FieldError(_("Not a number: {value}").format(value=quoted(value)))
    return number


def to_minor(value: object, currency: str, locale: str | None = None) -> int:
    """An amount in ``currency`` as typed ("1 250,50 €" in French, "1250.50") -> whole
    minor units (125050)."""
    if isinstance(value, str):
        number = locale_format.amount_number(value, currency, locale)
    else:
        number = parse_decimal(value, locale)
    places = minor_units(currency)
    # Checked before scaling: a Decimal given with a huge exponent ("1E+999999999") would
    # overflow scaleb() in the default context instead of being refused.
    if not number.is_zero() and number.adjusted() > MAX_AMOUNT_DIGITS:
        raise FieldError(_("The amount is too large."))
    minor = number.scaleb(places, context=_EXACT)
    if minor != minor.to_integral_value(context=_EXACT):
        raise FieldError(locale_format.places_message(currency, places))
    if abs(minor) > MAX_AMOUNT_MINOR:
        raise FieldError(_("The amount is too large."))
    return int(minor)


def minor_to_text(minor: int, currency: str) -> str:
    """Minor units in the plain form machines read (JSON, CSV): 125050 -> "1250.50"."""
    places = minor_units(currency)
    return f"{Decimal(minor).scaleb(-places):.{places}f}"


def minor_to_field(minor: int, currency: str, locale: str | None = None) -> str:
    """Minor units as a form field shows them for editing: 125050 -> "1 250,50" (fr)."""
    places = minor_units(currency)
    return locale_format.format_decimal(Decimal(minor).scaleb(-places), locale, places=places)


def format_amount(minor: int, currency: str, locale: str | None = None) -> str:
    """125050, "EUR", "fr" -> "1 250,50 €"; 125050, "USD" in US English -> "$1,250.50"."""
    return locale_format.format_amount(minor, currency, locale)


def format_quantity(quantity: Decimal, locale: str | None = None) -> str:
    """Decimal("2.500"), "fr" -> "2,5": no trailing zeros, the locale's decimal mark."""
    return locale_format.format_decimal(quantity, locale)


def _quantity(value: object) -> Decimal:
    number = parse_decimal(value)  # in the operator's locale, as the form shows it
    if number <= 0:
        raise FieldError(_("The quantity must be more than zero."))
    if number > MAX_QUANTITY:
        raise FieldError(_("The quantity is too large."))
    if number != number.quantize(Decimal(1).scaleb(-QUANTITY_PLACES)):
        raise FieldError(_("At most {places} decimals.").format(places=QUANTITY_PLACES))
    return number.normalize() if number == number.to_integral_value() else number


def line_amount(quantity: Decimal, unit_price_minor: int) -> int:
    """Quantity x unit price, rounded half up (away from zero) to a whole minor unit."""
    return int((quantity * unit_price_minor).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# ------------------------------------------------------------------ drafts

@dataclass(frozen=True)
class LineDraft:
    """One line as a form holds it: quantity and unit price (major units) as typed, in the
    operator's locale ("1 250,50" in French) or plain ("1250.50"), or as Decimals."""

    description: str = ""
    quantity: str | int | Decimal = "1"
    unit_price: str | int | Decimal = ""

    @classmethod
    def from_line(cls, line: EstimateLine, currency: str,
                  locale: str | None = None) -> "LineDraft":
        """A stored line as the form shows it in ``locale`` (None: the operator's)."""
        return cls(line.description, format_quantity(Decimal(line.quantity), locale),
                   minor_to_field(line.unit_price_minor, currency, locale))


@dataclass(frozen=True)
class EstimateDraft:
    """What the estimate form holds. ``customer_id`` None keeps an unlinked estimate's copy
    (its customer was deleted); a new estimate needs one. ``issued_on`` None: today (UTC)."""

    customer_id: int | None = None
    title: str = ""
    issued_on: date | str | None = None
    lines: tuple[LineDraft, ...] = ()

    @classmethod
    def from_estimate(cls, estimate: Estimate) -> "EstimateDraft":
        return cls(estimate.customer_id, estimate.title, estimate.issued_on,
                   tuple(LineDraft.from_line(line, estimate.currency)
                         for line in _lines(estimate.id)))


@dataclass(frozen=True)
class EstimateRow:
    """One estimate as a list shows it."""

    id: int
    number: str
    title: str
    issued_on: date
    status: str
    customer_id: int | None  # None: its customer was deleted (the copy stays)
    customer_name: str
    currency: str
    total_minor: int
    version: int

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class EstimatePage:
    rows: list[EstimateRow]
    total: int
    offset: int


def status_label(status: str) -> str:
    return _(STATUSES[status]) if status in STATUSES else status


# ------------------------------------------------------------------ the customer's copy

def main_contact(customer_id: int) -> Contact | None:
    """The earliest-added contact with the billing role, else the earliest-added one."""
    contacts = list(Contact.select().where(Contact.customer == customer_id).order_by(Contact.id))
    for contact in contacts:
        if MAIN_CONTACT_ROLE in (contact.roles or ()):
            return contact
    return contacts[0] if contacts else None


def customer_copy(customer: Customer) -> dict:
    """The details an estimate keeps of its customer, by Estimate column."""
    contact = main_contact(customer.id)
    copy = {"customer_name": customer.name, "phone": customer.phone, "email": customer.email,
            "contact_name": contact.name if contact is not None else "",
            "language": customer.language}
    for side in ("billing", "shipping"):
        for part in ("street", "postal_code", "city", "country", "state"):
            name = f"{side}_{part}"
            copy[name] = getattr(customer, name)
    return copy


# What changes the details an estimate copies: editing the customer or its contacts, or
# bringing a customer back (restore_customer); each service that refreshes holds one.
COPY_PERMISSIONS = ("customer.edit", "contact.edit", "customer.create")


def refresh_customer_copies(ctx: Context, customer_ids: Iterable[int]) -> int:
    """Rewrite the copy on every estimate linked to these customers; returns how many changed.

    Runs inside the caller's write transaction (a customer or contact edit), so the copy
    and the edit are saved together or not at all. Each changed estimate is audited. The
    estimate's ``version`` is left alone: the copy is not something its form writes, so
    an estimate open in a form while its customer is edited saves without a conflict.
    Whoever may make one of those edits may refresh (COPY_PERMISSIONS).
    """
    require_any(ctx.actor, *COPY_PERMISSIONS)
    changed = 0
    for customer in Customer.select().where(Customer.id.in_(list(set(customer_ids)))):
        fresh = customer_copy(customer)
        for estimate in Estimate.select().where(Estimate.customer == customer.id):
            before = {name: getattr(estimate, name) for name in COPIED_FIELDS}
            if before == fresh:
                continue
            Estimate.update(**fresh).where(Estimate.id == estimate.id).execute()
            audit(ctx, "update", "estimate", estimate.id, before=before,
                  after=changed_fields(before, fresh), customer_id=customer.id)
            changed += 1
    return changed


def unlink_customer(ctx: Context, customer_id: int) -> list[int]:
    """Clear the link of a customer's estimates, keeping their copy (before the customer goes).

    Runs inside the caller's transaction (delete_customer's, whose permission it takes);
    returns the ids of the estimates unlinked.
    """
    require(ctx.actor, "customer.delete")
    ids = [e.id for e in Estimate.select(Estimate.id).where(Estimate.customer == customer_id)]
    if ids:
        Estimate.update(customer=None).where(Estimate.id.in_(ids)).execute()
        for estimate_id in ids:
            audit(ctx, "unlink", "estimate", estimate_id, before={"customer": customer_id},
                  after={"customer": None}, customer_id=customer_id)
    return ids


def count_for_customer(customer_id: int) -> int:
    """How many estimates are linked to a customer (what locks its currency)."""
    return Estimate.select().where(Estimate.customer == customer_id).count()


# ------------------------------------------------------------------ validation

def _issued_on(value: date | str | None) -> date:
    """A date object, else the date as typed in the operator's locale (23/11/2026 in
    French) or ISO (2026-11-23); None or "": today (UTC)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return utcnow().date()
    return locale_format.parse_date(value)


def _validate(draft: EstimateDraft, currency: str) -> tuple[dict, list[dict]]:
    """Clean the draft's own fields and lines (in ``currency``); raise every error at once."""
    errors = Errors()
    values = {
        "title": errors.check("title", clean_text, draft.title, limit=LIMITS["title"],
                              required=True),
        "issued_on": errors.check("issued_on", _issued_on, draft.issued_on),
    }
    if len(draft.lines) > MAX_LINES:
        errors.add("lines", _("At most {limit} lines.").format(limit=MAX_LINES))
    lines = []
    for index, line in enumerate(draft.lines):
        prefix = f"lines[{index}]."
        description = errors.check(prefix + "description", clean_text, line.description,
                                   limit=DESCRIPTION_LIMIT, required=True, multiline=True)
        quantity = errors.check(prefix + "quantity", _quantity, line.quantity)
        price = errors.check(prefix + "unit_price", to_minor, line.unit_price, currency)
        if quantity is None or price is None:
            continue
        amount = line_amount(quantity, price)
        if abs(amount) > MAX_AMOUNT_MINOR:
            errors.add(prefix + "unit_price", _("The line's amount is too large."))
        lines.append({"position": index + 1, "description": description, "quantity": quantity,
                      "unit_price_minor": price, "amount_minor": amount})
    total = sum(line["amount_minor"] for line in lines)
    if abs(total) > MAX_AMOUNT_MINOR:
        errors.add("lines", _("The total is too large."))
    errors.raise_if_any()
    values["total_minor"] = total
    return values, lines


def _customer_for(customer_id: int | None) -> Customer:
    customer = Customer.get_or_none(Customer.id == customer_id) if customer_id else None
    if customer is None:
        message = (_("Choose a customer.") if not customer_id else
                   _("There is no customer #{id} (deleted since?).").format(id=customer_id))
        raise ValidationError({"customer_id": message})
    return customer


def _next_number(year: int) -> str:
    """The next number of ``year``, taken under the write lock the transaction holds."""
    EstimateSequence.insert(year=year, last=0).on_conflict_ignore().execute()
    (EstimateSequence.update(last=EstimateSequence.last + 1)
     .where(EstimateSequence.year == year).execute())
    last = EstimateSequence.get_by_id(year).last
    return f"E-{year}-{last:04d}"


def _lines(estimate_id: int) -> list[EstimateLine]:
    return list(EstimateLine.select().where(EstimateLine.estimate == estimate_id)
                .order_by(EstimateLine.position))


def _line_snapshot(line: dict | EstimateLine) -> dict:
    get = line.get if isinstance(line, dict) else lambda name: getattr(line, name)
    return {"description": get("description"), "quantity": str(get("quantity")),
            "unit_price_minor": get("unit_price_minor"), "amount_minor": get("amount_minor")}


def _full_snapshot(estimate: Estimate) -> dict:
    data = snapshot(estimate)
    data["lines"] = [_line_snapshot(line) for line in _lines(estimate.id)]
    return data


def _get(estimate_id: int) -> Estimate:
    estimate = Estimate.get_or_none(Estimate.id == estimate_id)
    if estimate is None:
        raise NotFound(_("estimate"), estimate_id)
    return estimate


# ------------------------------------------------------------------ reading

def get_estimate(ctx: Context, estimate_id: int) -> Estimate:
    require(ctx.actor, "estimate.view")
    return _get(estimate_id)


def get_estimate_by_number(ctx: Context, number: str) -> Estimate:
    """The estimate numbered ``number`` (case and surrounding spaces ignored)."""
    require(ctx.actor, "estimate.view")
    text = (number or "").strip().upper()
    estimate = Estimate.get_or_none(same_text(Estimate.number, text))
    if estimate is None:
        raise NotFound(_("estimate"), quoted(text, bare=True))
    return estimate


def estimate_lines(ctx: Context, estimate_id: int) -> list[EstimateLine]:
    require(ctx.actor, "estimate.view")
    _get(estimate_id)
    return _lines(estimate_id)


def _row(estimate: Estimate) -> EstimateRow:
    return EstimateRow(estimate.id, estimate.number, estimate.title, estimate.issued_on,
                       estimate.status, estimate.customer_id, estimate.customer_name,
                       estimate.currency, estimate.total_minor, estimate.version)


def search_words(text: str | None) -> list[str]:
    """The words of a search; a control character separates words (no stored text holds one,
    validation refuses them, and PostgreSQL refuses a NUL in any parameter)."""
    return CONTROL.sub(" ", text or "").split()


def search_estimates(ctx: Context, text: str = "", *, customer_id: int | None = None,
                     status: str | None = None, limit: int = 50,
                     offset: int = 0) -> EstimatePage:
    """A page of estimates, newest number first.

    ``text``: every word must appear (literally; case-insensitively for ASCII letters, as
    SQLite's LIKE does) in the number, the title or the customer's name as copied on the
    estimate. ``status``: one of STATUSES,
    or "open" for draft and sent ones; None for all.
    """
    require(ctx.actor, "estimate.view")
    if status is not None and status not in STATUS_FILTERS:
        raise ValidationError({"status": _("Unknown status {value}; expected one of: "
                                           "{known}.").format(value=quoted(status),
                                                              known=", ".join(STATUS_FILTERS))})
    query = Estimate.select()
    for word in search_words(text):
        query = query.where(Estimate.number.contains(word) | Estimate.title.contains(word)
                            | Estimate.customer_name.contains(word))
    if customer_id is not None:
        query = query.where(Estimate.customer == customer_id)
    if status == "open":
        query = query.where(Estimate.status.in_(OPEN_STATUSES))
    elif status is not None:
        query = query.where(Estimate.status == status)
    total = query.count()
    page = (query.order_by(Estimate.issued_on.desc(), Estimate.number.desc())
            .limit(max(0, limit)).offset(max(0, offset)))
    return EstimatePage([_row(e) for e in page], total, offset)


def estimates_for_customer(ctx: Context, customer_id: int, *, status: str | None = None,
                           limit: int = 100, offset: int = 0) -> EstimatePage:
    """The estimates linked to one customer (its Estimates tab), newest first."""
    return search_estimates(ctx, customer_id=customer_id, status=status, limit=limit,
                            offset=offset)


# ------------------------------------------------------------------ writing

def create_estimate(ctx: Context, draft: EstimateDraft) -> Estimate:
    """Number and store a new estimate (status draft) with the customer's details copied in."""
    with write(ctx, "estimate.edit"):
        customer = _customer_for(draft.customer_id)
        values, lines = _validate(draft, customer.currency)
        login = ctx.actor.login
        estimate = Estimate.create(number=_next_number(values["issued_on"].year),
                                   currency=customer.currency, customer=customer,
                                   created_by=login, updated_by=login,
                                   **customer_copy(customer), **values)
        for line in lines:
            EstimateLine.create(estimate=estimate, **line)
        audit(ctx, "create", "estimate", estimate.id, after=_full_snapshot(estimate),
              customer_id=customer.id)
        return estimate


def update_estimate(ctx: Context, estimate_id: int, expected_version: int,
                    draft: EstimateDraft) -> Estimate:
    """Save an edit (title, date, customer, lines) made on ``expected_version``.

    Choosing another customer copies that customer's details and currency in. An
    estimate whose customer was deleted keeps its copy while ``customer_id`` is None.
    """
    with write(ctx, "estimate.edit"):
        current = _get(estimate_id)
        if current.version != expected_version:
            raise Conflict(_("estimate"), current.number, snapshot(current))
        values: dict = {}
        if draft.customer_id is None and current.customer_id is not None:
            raise ValidationError({"customer_id": _("Choose a customer.")})
        if draft.customer_id is not None:
            customer = _customer_for(draft.customer_id)
            values.update(customer_copy(customer), customer=customer.id,
                          currency=customer.currency)
        own, lines = _validate(draft, values.get("currency", current.currency))
        values.update(own)
        before = _full_snapshot(current)
        versioned_update(ctx, Estimate, estimate_id, expected_version, values, _("estimate"),
                         before)
        EstimateLine.delete().where(EstimateLine.estimate == estimate_id).execute()
        for line in lines:
            EstimateLine.create(estimate=estimate_id, **line)
        estimate = _get(estimate_id)
        after = _full_snapshot(estimate)
        audit(ctx, "update", "estimate", estimate_id, before=before,
              after=changed_fields(before, after),
              customer_id=estimate.customer_id or current.customer_id)
        return estimate


def set_status(ctx: Context, estimate_id: int, expected_version: int, status: str) -> Estimate:
    """Mark an estimate draft, sent, accepted or declined."""
    with write(ctx, "estimate.edit"):
        if status not in STATUSES:
            raise ValidationError({"status": _("Unknown status {value}; expected one of: "
                                               "{known}.").format(value=quoted(status),
                                                                  known=", ".join(STATUSES))})
        current = _get(estimate_id)
        before = snapshot(current)
        versioned_update(ctx, Estimate, estimate_id, expected_version, {"status": status},
                         _("estimate"), before)
        audit(ctx, "update", "estimate", estimate_id, before={"status": current.status},
              after={"status": status}, customer_id=current.customer_id)
        return _get(estimate_id)


def delete_estimate(ctx: Context, estimate_id: int, expected_version: int | None = None) -> None:
    """Delete an estimate and its lines; its number is not given again."""
    with write(ctx, "estimate.edit"):
        estimate = _get(estimate_id)
        if expected_version is not None and estimate.version != expected_version:
            raise Conflict(_("estimate"), estimate.number, snapshot(estimate))
        audit(ctx, "delete", "estimate", estimate_id, before=_full_snapshot(estimate),
              customer_id=estimate.customer_id)
        estimate.delete_instance()  # lines go with it (ON DELETE CASCADE)
