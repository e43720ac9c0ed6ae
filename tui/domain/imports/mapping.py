"""Which column of a file holds which field: recognised headers, explicit overrides, a preview.

``preview_mapping(kind, headers, explicit)`` returns a ``MappingPreview``, the
object a CLI prints and a TUI shows before anything is imported: for every
column, the field it feeds (or why it is ignored), plus the ``problems`` that
stop an import (a required field without a column, an explicit mapping naming
a header the file lacks or a field that does not exist).

Headers are recognised in English and French (and a few Danish words),
ignoring case, accents, punctuation and spacing: "Société", "SOCIETE" and
"société " are one header. ``explicit`` ({header: field}, from ``parse_mapping``
of ``--map "Société=name"``) wins over recognition; an empty field ignores the
column. A field may be named by its key or by any header it is recognised
from ("Tel=téléphone" works). Columns nobody claims are listed as unknown and
ignored, never guessed.

A bare "name"/"nom" is ambiguous: in a customers file it is the company's
name, unless another column names the company (Société, Company...), in which
case it is the contact's (last) name; in a contacts file it is the contact's
name, or last name when a first-name column exists.

Kinds and their fields are in ``FIELDS``; the keys are what ``--map`` takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tui.domain.errors import ClientbookError
from tui.domain.imports.values import fold
from tui.domain.validation import quoted
from tui.i18n import N_, _

KINDS = ("customers", "contacts", "equipment")

_COMPANY = ("company", "company name", "société", "raison sociale", "entreprise",
            "nom de l'entreprise", "nom de la société", "organisation", "organization",
            "organisme", "customer", "customer name", "client", "nom du client", "account",
            "account name", "business name", "firm", "firma", "firmanavn", "virksomhed", "kunde")
_JOB_TITLE = ("job title", "title", "titre", "fonction", "poste", "position", "job", "function",
              "stilling", "intitulé de poste")
_ROLES = ("roles", "role", "rôles", "rôle", "contact roles", "contact role", "roller")
_FIRST = ("first name", "firstname", "given name", "prénom", "fornavn")
_LAST = ("last name", "lastname", "surname", "family name", "nom de famille", "efternavn")
_CUSTOMER_REF = ("customer external id", "company external id", "customer id", "client id",
                 "id client", "code client", "customer number", "customer no", "numéro client",
                 "n° client", "no client", "référence client", "customer ref", "company id",
                 "account id", "account number", "kundenummer", "holder id")

CUSTOMER_FIELDS: dict[str, tuple[str, ...]] = {
    "name": _COMPANY,
    "external_id": ("external id", "externalid", "ext id", "id", "id externe", "identifiant",
                    "identifiant externe", "référence", "reference", "ref", "réf",
                    *_CUSTOMER_REF),
    "phone": ("phone", "phone number", "telephone", "téléphone", "tel", "tél", "telefon",
              "numéro de téléphone", "company phone", "main phone", "office phone", "standard"),
    "email": ("email", "e-mail", "mail", "courriel", "adresse e-mail", "adresse électronique",
              "email address", "company email", "e-post"),
    "website": ("website", "web site", "web", "site", "site web", "site internet", "url",
                "homepage", "www", "hjemmeside"),
    "billing_street": ("address", "adresse", "street", "rue", "street address", "address line 1",
                       "adresse 1", "billing address", "billing street", "adresse de facturation",
                       "adresse postale", "vej"),
    "billing_postal_code": ("postal code", "postcode", "post code", "zip", "zip code",
                            "code postal", "cp", "postnummer", "postnr", "plz",
                            "billing postal code"),
    "billing_city": ("city", "ville", "town", "commune", "localité", "by", "billing city"),
    "billing_country": ("country", "pays", "land", "billing country", "country code",
                        "code pays"),
    "billing_state": ("state", "province", "région", "state/province", "county", "département",
                      "billing state", "billing province", "billing region"),
    "shipping_same_as_billing": ("shipping same as billing", "same shipping address",
                                 "livraison identique", "livraison à l'adresse de facturation"),
    "shipping_street": ("shipping address", "shipping street", "delivery address",
                        "adresse de livraison", "rue de livraison"),
    "shipping_postal_code": ("shipping postal code", "shipping zip", "delivery postal code",
                             "code postal de livraison"),
    "shipping_city": ("shipping city", "delivery city", "ville de livraison"),
    "shipping_country": ("shipping country", "delivery country", "pays de livraison"),
    "shipping_state": ("shipping state", "shipping province", "shipping region",
                       "delivery state", "région de livraison"),
    "segment": ("segment", "type", "customer type", "type de client", "relationship",
                "relationship type", "relation", "catégorie", "category"),
    "currency": ("currency", "devise", "monnaie", "valuta"),
    "language": ("language", "langue", "lang", "sprog"),
    "notify_event_types": ("notify event types", "notices", "event notices", "event types",
                           "types de notification", "notifications"),
    "notes": ("notes", "note", "comments", "comment", "commentaire", "commentaires", "remarks",
              "remarques", "observations", "memo", "bemærkninger"),
    "groups": ("groups", "group", "groupes", "groupe", "tags", "étiquettes", "grupper"),
    "contact_name": ("contact", "contact name", "nom du contact", "contact person", "person",
                     "personne", "interlocuteur", "kontaktperson", "full name", "nom complet"),
    "contact_first_name": (*_FIRST, "contact first name", "prénom du contact"),
    "contact_last_name": (*_LAST, "contact last name", "nom de famille du contact"),
    "contact_email": ("contact email", "contact e-mail", "email du contact", "e-mail du contact",
                      "courriel du contact", "contact mail", "email contact", "e-mail contact"),
    "contact_phone": ("contact phone", "téléphone du contact", "contact tel", "tel contact",
                      "téléphone contact", "contact mobile", "portable du contact",
                      "direct line", "ligne directe"),
    "contact_job_title": (*_JOB_TITLE, "contact job title", "fonction du contact"),
    "contact_roles": _ROLES,
}

CONTACT_FIELDS: dict[str, tuple[str, ...]] = {
    "customer": _COMPANY,
    "customer_external_id": ("external id", "id externe", "référence", *_CUSTOMER_REF),
    "name": ("contact", "contact name", "nom du contact", "contact person", "person",
             "personne", "interlocuteur", "kontaktperson", "full name", "nom complet"),
    "first_name": _FIRST,
    "last_name": _LAST,
    "email": ("email", "e-mail", "mail", "courriel", "contact email", "contact e-mail",
              "email address", "adresse e-mail", "adresse électronique", "e-post"),
    "phone": ("phone", "phone number", "telephone", "téléphone", "tel", "tél", "telefon",
              "mobile", "portable", "gsm", "cell", "cell phone", "mobile phone", "contact phone",
              "direct line", "ligne directe", "numéro de téléphone"),
    "job_title": _JOB_TITLE,
    "roles": _ROLES,
}

EQUIPMENT_FIELDS: dict[str, tuple[str, ...]] = {
    "serial": ("serial", "serial number", "serial no", "sn", "s/n", "numéro de série",
               "n° de série", "no de série", "série", "serienummer", "vin", "chassis",
               "chassis number", "numéro de châssis"),
    "name": ("machine", "equipment", "équipement", "equipment name", "machine name",
             "nom de la machine", "désignation", "asset", "asset name"),
    "make": ("make", "brand", "marque", "manufacturer", "fabricant", "constructeur", "mærke",
             "fabrikat"),
    "model": ("model", "modèle", "model name", "model number"),
    "type": ("type", "category", "catégorie", "kind", "genre", "machine type", "equipment type",
             "type de machine"),
    "year": ("year", "année", "year of manufacture", "model year", "année de fabrication",
             "årgang", "built"),
    "retired_on": ("retired", "retired on", "retired at", "réformé", "réformé le",
                   "date de réforme", "out of service", "hors service"),
    "customer": (*_COMPANY, "holder", "détenteur", "assigned to", "affecté à", "attribué à"),
    "customer_external_id": ("customer external id", "external id", *_CUSTOMER_REF),
}

FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": CUSTOMER_FIELDS, "contacts": CONTACT_FIELDS, "equipment": EQUIPMENT_FIELDS}

WEAK_NAMES = ("name", "nom", "navn")  # see the module docstring
HEADER_SHOWN = 60  # a longer header is cut short where a line names it
# Columns of our own error files: re-importing a corrected error file ignores them quietly.
ERROR_COLUMNS = ("error_line", "error_field", "error_message")
_ERROR_KEYS = {fold(c) for c in ERROR_COLUMNS}

LABELS = {
    "name": N_("name"), "external_id": N_("external id"), "phone": N_("phone"),
    "email": N_("e-mail"), "website": N_("website"), "billing_street": N_("street"),
    "billing_postal_code": N_("postal code"), "billing_city": N_("city"),
    "billing_country": N_("country"), "billing_state": N_("state / region"),
    "shipping_same_as_billing": N_("shipping same as billing"),
    "shipping_street": N_("shipping street"), "shipping_postal_code": N_("shipping postal code"),
    "shipping_city": N_("shipping city"), "shipping_country": N_("shipping country"),
    "shipping_state": N_("shipping state / region"), "segment": N_("segment"),
    "currency": N_("currency"), "language": N_("language"),
    "notify_event_types": N_("event notices"), "notes": N_("notes"), "groups": N_("groups"),
    "contact_name": N_("contact name"), "contact_first_name": N_("contact first name"),
    "contact_last_name": N_("contact last name"), "contact_email": N_("contact e-mail"),
    "contact_phone": N_("contact phone"), "contact_job_title": N_("contact job title"),
    "contact_roles": N_("contact roles"), "customer": N_("customer"),
    "customer_external_id": N_("customer external id"), "first_name": N_("first name"),
    "last_name": N_("last name"), "job_title": N_("job title"), "roles": N_("roles"),
    "serial": N_("serial number"), "make": N_("make"), "model": N_("model"), "type": N_("type"),
    "year": N_("year"), "retired_on": N_("retired on"),
}


class MappingError(ClientbookError):
    """An explicit mapping cannot be understood (``--map`` syntax)."""


@dataclass(frozen=True)
class Column:
    index: int
    header: str
    field: str | None  # None: ignored
    how: str  # recognised / explicit / ignored / unknown / duplicate
    note: str = ""


@dataclass(frozen=True)
class MappingPreview:
    kind: str
    columns: tuple[Column, ...]
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def fields(self) -> dict[str, int]:
        """field -> column index, for the columns that feed a field."""
        return {c.field: c.index for c in self.columns if c.field}

    @property
    def ignored(self) -> list[str]:
        return [c.header for c in self.columns if c.field is None]

    @property
    def unknown(self) -> list[str]:
        return [c.header for c in self.columns if c.how == "unknown"]

    def header_of(self, field: str) -> str | None:
        return next((c.header for c in self.columns if c.field == field), None)

    def as_mapping(self) -> dict[str, str | None]:
        """{header: field or None}: what an import job records."""
        return {c.header: c.field for c in self.columns}

    def describe(self) -> list[str]:
        """One line per column, then the problems: what a CLI prints before importing."""
        lines = []
        for column in self.columns:
            if column.field:
                header = shown_header(column.header) or _("(column {n})").format(
                    n=column.index + 1)
                label = field_label(column.field)
                if label == column.field:
                    lines.append(_("{header} -> {field}").format(header=header,
                                                                 field=column.field))
                else:  # the key too: it is what --map takes
                    lines.append(_("{header} -> {label} ({field})").format(
                        header=header, label=label, field=column.field))
            else:
                lines.append(_("{header}: ignored ({why})").format(
                    header=shown_header(column.header) or _("(column {n})").format(
                        n=column.index + 1),
                    why=column.note or _("not recognised")))
        return lines + list(self.problems)


def shown_header(header: str) -> str:
    """A file's header as a line may show it: as it is when every character of it shows,
    else ``quoted`` (an ESC in a CSV file must not reach the terminal the CLI prints to)."""
    return quoted(header, HEADER_SHOWN, bare=True) if header else ""


def field_label(field: str) -> str:
    return _(LABELS.get(field, field))


def fields_for(kind: str) -> list[tuple[str, str]]:
    """(field key, label) of a kind, in order: the choices a mapping step offers."""
    return [(name, field_label(name)) for name in FIELDS[kind]]


def _index(kind: str) -> dict[str, str]:
    index: dict[str, str] = {}
    for field, aliases in FIELDS[kind].items():
        for alias in (field, field.replace("_", " "), *aliases):
            index.setdefault(fold(alias), field)
    return index


_INDEXES = {kind: _index(kind) for kind in KINDS}


def resolve_field(kind: str, name: str) -> str | None:
    """A field key, or the field a header alias stands for; None when neither."""
    if kind not in FIELDS:
        raise MappingError(_("Unknown kind {kind}; expected one of: {known}.").format(
            kind=quoted(kind), known=", ".join(KINDS)))
    if name in FIELDS[kind]:
        return name
    return _INDEXES[kind].get(fold(name))


def parse_mapping(specs: Iterable[str] | str | None) -> dict[str, str]:
    """``["Société=name", "Notes internes="]`` -> {header: field}; "" ignores a column.

    Each spec is ``Header=field``; the header may itself hold "=" only if quoted
    away by the shell as a whole (the last "=" separates).
    """
    if specs is None:
        return {}
    if isinstance(specs, str):
        specs = [specs]
    mapping: dict[str, str] = {}
    for spec in specs:
        if "=" not in spec:
            raise MappingError(_('Cannot read the mapping {spec}: write Header=field, e.g. '
                                 '"Société=name" (or "Header=" to ignore a column).')
                               .format(spec=quoted(spec)))
        header, field = spec.rsplit("=", 1)
        if not header.strip():
            raise MappingError(_("The mapping {spec} names no column.").format(
                spec=quoted(spec)))
        mapping[header.strip()] = field.strip()
    return mapping


def preview_mapping(kind: str, headers: Sequence[str],
                    explicit: Mapping[str, str] | None = None) -> MappingPreview:
    """How each header of a ``kind`` file would be read; see the module docstring."""
    fields = FIELDS.get(kind)
    if fields is None:
        raise MappingError(_("Unknown kind {kind}; expected one of: {known}.").format(
            kind=quoted(kind), known=", ".join(KINDS)))
    explicit = dict(explicit or {})
    problems: list[str] = []
    by_header = {h: i for i, h in reversed(list(enumerate(headers)))}
    by_folded = {fold(h): i for i, h in reversed(list(enumerate(headers)))}
    chosen: dict[int, tuple[str | None, str]] = {}
    for header, target in explicit.items():
        index = by_header.get(header, by_folded.get(fold(header)))
        if index is None:
            problems.append(_("The mapping names the column {header}, which the file does not "
                              "have (it has: {headers}).").format(
                header=quoted(header), headers=", ".join(shown_header(h) for h in headers)))
            continue
        if not target or target in ("-", "ignore"):
            chosen[index] = (None, "ignored")
            continue
        field = resolve_field(kind, target)
        if field is None:
            problems.append(_("The mapping {mapping} names no field of {kind}; fields "
                              "are: {known}.").format(mapping=quoted(f"{header}={target}"),
                                                      kind=kind, known=", ".join(fields)))
            continue
        chosen[index] = (field, "explicit")
    folded = [fold(h) for h in headers]
    has_company = any(_INDEXES[kind].get(f) in ("name", "customer") and f not in WEAK_NAMES
                      for f in folded)
    has_first = any(_INDEXES[kind].get(f) in ("contact_first_name", "first_name") for f in folded)
    for index, key in enumerate(folded):
        if index in chosen:
            continue
        if key in _ERROR_KEYS:
            chosen[index] = (None, "error")
            continue
        field = _INDEXES[kind].get(key)
        if key in WEAK_NAMES:
            field = _weak_name(kind, has_company, has_first)
        chosen[index] = (field, "recognised") if field else (None, "unknown")
    columns, taken = [], {}
    for index, header in enumerate(headers):
        field, how = chosen[index]
        note = ""
        if how == "error":
            how, note = "ignored", _("column of an error file")
        elif how == "ignored":
            note = _("ignored by the mapping")
        elif field and field in taken and how != "explicit":
            note = _("{field} already comes from {header}").format(
                field=field, header=shown_header(headers[taken[field]]))
            field, how = None, "duplicate"
        elif field and field in taken:
            problems.append(_("Columns {first} and {second} are both mapped to {field}.")
                            .format(first=quoted(headers[taken[field]]), second=quoted(header),
                                    field=field))
        if field:
            taken.setdefault(field, index)
        columns.append(Column(index, header, field, how, note))
    problems.extend(_missing(kind, set(taken)))
    return MappingPreview(kind, tuple(columns), tuple(problems))


def _weak_name(kind: str, has_company: bool, has_first: bool) -> str:
    if kind == "customers":
        if not has_company:
            return "name"
        return "contact_last_name" if has_first else "contact_name"
    if kind == "contacts":
        return "last_name" if has_first else "name"
    return "name"


def _missing(kind: str, mapped: set[str]) -> list[str]:
    problems = []
    need = _("No column holds the {field} ({key}): choose the column that does.")
    if kind == "customers":
        if "name" not in mapped:
            problems.append(need.format(field=field_label("name"), key="name"))
        contact = {f for f in mapped if f.startswith("contact_")}
        if contact and not contact & {"contact_name", "contact_first_name", "contact_last_name"}:
            problems.append(_("Contact columns ({fields}) but no contact name column: map one, "
                              "or ignore them.").format(fields=", ".join(sorted(contact))))
    elif kind == "contacts":
        if not mapped & {"customer", "customer_external_id"}:
            problems.append(_("No column says which customer each contact belongs to: map the "
                              "company name (customer) or its external id "
                              "(customer_external_id)."))
        if not mapped & {"name", "first_name", "last_name"}:
            problems.append(need.format(field=field_label("name"), key="name"))
    elif "serial" not in mapped:
        problems.append(need.format(field=field_label("serial"), key="serial"))
    return problems
