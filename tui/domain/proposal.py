"""An estimate as a PDF proposal, in the customer's language (fpdf2).

The document is written for the customer, not for the operator: its labels come from
``LABELS`` in the language copied on the estimate (English, French and Danish; any
other language falls back to the site's default language, then English), whatever
language the operator's screen is in. Dates, quantities and amounts are written in
that language's default locale (``tui.i18n.DEFAULT_LOCALES``: 14/03/2026 and
1 250,50 € in French, 14.03.2026 and 1.250,50 kr. in Danish, 3/14/2026 and €1,250.50
in English), not the operator's. It shows the business's name from the
configuration (``business_name``), the number and date, the customer block (billing
and shipping address, contact, phone, e-mail) as copied on the estimate, the lines
and the total in the estimate's currency.

Fonts: fpdf2 bundles no TrueType font and its core fonts (Helvetica) hold only the
Windows-1252 characters. So the first DejaVu Sans found in ``FONT_DIRS`` (Debian's
fonts-dejavu-core, present on most Linux systems) is embedded, which writes any
European text as it is. Without one, Helvetica is used and each character outside
Windows-1252 is transliterated: accents dropped where that gives a character it has
("ő" -> "o", "ł" -> "l"), else "?". French, Danish and German text is entirely within
Windows-1252, so it prints unchanged either way.
"""

from __future__ import annotations

import os
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tui.domain import locale_format
from tui.domain.context import Context
from tui.domain.errors import ClientbookError, NotFound
from tui.domain.models import Estimate, EstimateLine
from tui.domain.permissions import require
from tui.domain.validation import country_name, format_phone
from tui.i18n import DEFAULT_LOCALES, _

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/share/fonts/dejavu-sans-fonts"),
    Path("/usr/local/share/fonts"),
    Path("/usr/local/share/fonts/dejavu"),
    Path("/opt/homebrew/share/fonts"),
    Path("/Library/Fonts"),
)
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
CORE_ENCODING = "cp1252"
# Letters that have no accent to drop (NFKD leaves them whole) but a plain look-alike.
_PLAIN_LETTERS = str.maketrans("ŁłĐđĦħıŀĿŧŦ", "LlDdHhilLtT")
FALLBACK_LANGUAGE = "en"

LABELS: dict[str, dict[str, str]] = {
    "en": {"proposal": "Proposal", "number": "No.", "date": "Date", "customer": "Customer",
           "billing": "Billing address", "shipping": "Shipping address", "contact": "Contact",
           "phone": "Phone", "email": "E-mail", "description": "Description",
           "quantity": "Qty", "unit_price": "Unit price", "amount": "Amount",
           "total": "Total", "currency": "Amounts in {currency}.",
           "page": "Page {page} of {pages}"},
    "fr": {"proposal": "Devis", "number": "N°", "date": "Date", "customer": "Client",
           "billing": "Adresse de facturation", "shipping": "Adresse de livraison",
           "contact": "Contact", "phone": "Téléphone", "email": "Courriel",
           "description": "Désignation", "quantity": "Qté", "unit_price": "Prix unitaire",
           "amount": "Montant", "total": "Total", "currency": "Montants en {currency}.",
           "page": "Page {page} sur {pages}"},
    "da": {"proposal": "Tilbud", "number": "Nr.", "date": "Dato", "customer": "Kunde",
           "billing": "Faktureringsadresse", "shipping": "Leveringsadresse",
           "contact": "Kontaktperson", "phone": "Telefon", "email": "E-mail",
           "description": "Beskrivelse", "quantity": "Antal", "unit_price": "Enhedspris",
           "amount": "Beløb", "total": "I alt", "currency": "Beløb i {currency}.",
           "page": "Side {page} af {pages}"},
}


@dataclass(frozen=True)
class Fonts:
    family: str
    regular: Path | None  # None: fpdf2's core font, text limited to CORE_ENCODING
    bold: Path | None

    @property
    def unicode(self) -> bool:
        return self.regular is not None


def find_fonts(dirs=None) -> Fonts:
    """DejaVu Sans from the first folder of ``dirs`` (default FONT_DIRS) that has it."""
    for folder in FONT_DIRS if dirs is None else dirs:
        regular, bold = (Path(folder) / name for name in FONT_FILES)
        if regular.is_file():
            return Fonts("dejavu", regular, bold if bold.is_file() else None)
    return Fonts("helvetica", None, None)


def proposal_language(ctx: Context, estimate: Estimate, language: str | None = None) -> str:
    """The language the proposal is written in: asked, else the customer's, else the site's
    default, else English, the first of them that LABELS has."""
    for candidate in (language, estimate.language, ctx.config.defaults.language):
        code = (candidate or "").replace("-", "_").split("_")[0].lower()
        if code in LABELS:
            return code
    return FALLBACK_LANGUAGE


def proposal_locale(language: str) -> str:
    """The locale a proposal in ``language`` is formatted in: the language's default one."""
    return DEFAULT_LOCALES.get(language, DEFAULT_LOCALES[FALLBACK_LANGUAGE])


def format_date(day: date, language: str) -> str:
    """14/03/2026 (fr), 14.03.2026 (da), 3/14/2026 (en)."""
    return locale_format.format_date(day, proposal_locale(language))


def address_lines(estimate: Estimate, side: str, language: str) -> list[str]:
    """Street; postal code and city; state or province; country (in ``language``)."""
    get = lambda part: getattr(estimate, f"{side}_{part}") or ""  # noqa: E731
    state = get("state")
    region = state.split("-", 1)[1] if len(state) > 3 and state[2:3] == "-" else state
    lines = [get("street"), " ".join(p for p in (get("postal_code"), get("city")) if p), region,
             country_name(get("country"), language) if get("country") else ""]
    return [line for line in lines if line]


def core_safe(text: str) -> str:
    """``text`` in the characters Helvetica has: others lose their accent, else become "?"."""
    out = []
    for char in text:
        try:
            char.encode(CORE_ENCODING)
            out.append(char)
            continue
        except UnicodeEncodeError:
            pass
        plain = "".join(c for c in unicodedata.normalize("NFKD",
                                                         char.translate(_PLAIN_LETTERS))
                        if not unicodedata.combining(c))
        try:
            plain.encode(CORE_ENCODING)
            out.append(plain or "?")
        except UnicodeEncodeError:
            out.append("?")
    return "".join(out)


def render_proposal(ctx: Context, estimate_id: int, *, language: str | None = None,
                    fonts: Fonts | None = None) -> bytes:
    """The proposal of one estimate as PDF bytes."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos
    from fpdf.fonts import FontFace

    require(ctx.actor, "estimate.view")
    estimate = Estimate.get_or_none(Estimate.id == estimate_id)
    if estimate is None:
        raise NotFound(_("estimate"), estimate_id)
    lines = list(EstimateLine.select().where(EstimateLine.estimate == estimate.id)
                 .order_by(EstimateLine.position))
    lang = proposal_language(ctx, estimate, language)
    words = LABELS[lang]
    fonts = fonts or find_fonts()
    text = (lambda value: value) if fonts.unicode else core_safe
    where = proposal_locale(lang)

    def money(minor: int) -> str:
        return text(locale_format.format_amount(minor, estimate.currency, where))

    class Proposal(FPDF):
        def footer(self) -> None:
            self.set_y(-15)
            self.set_font(fonts.family, "", 8)
            self.cell(0, 10, text(words["page"].format(page=self.page_no(), pages="{nb}")),
                      align="C")

    pdf = Proposal(format="A4", unit="mm")
    pdf.core_fonts_encoding = CORE_ENCODING
    if fonts.unicode:
        pdf.add_font(fonts.family, "", str(fonts.regular))
        pdf.add_font(fonts.family, "B", str(fonts.bold or fonts.regular))
    business = ctx.config.business_name
    pdf.set_title(text(f"{words['proposal']} {estimate.number}"))
    pdf.set_author(text(business))
    pdf.set_creator("Clientbook")
    pdf.set_lang(lang)
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(True, margin=22)
    pdf.add_page()
    width = pdf.epw

    # Who sends it, what it is.
    pdf.set_font(fonts.family, "B", 16)
    pdf.cell(width * 0.6, 9, text(business), new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.set_font(fonts.family, "B", 14)
    pdf.cell(width * 0.4, 9, text(words["proposal"]), align="R",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(fonts.family, "", 10)
    for label, value in ((words["number"], estimate.number),
                         (words["date"], format_date(estimate.issued_on, lang))):
        pdf.cell(width, 5, text(f"{label} {value}"), align="R",
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)

    # To whom: the customer's details as the estimate copied them.
    pdf.set_font(fonts.family, "B", 11)
    pdf.cell(width, 6, text(estimate.customer_name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    top, half = pdf.get_y(), width / 2
    for column, side in enumerate(("billing", "shipping")):
        pdf.set_xy(pdf.l_margin + column * half, top)
        pdf.set_font(fonts.family, "B", 9)
        pdf.cell(half, 5, text(words[side]), new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(fonts.family, "", 10)
        for line in address_lines(estimate, side, lang):
            pdf.cell(half - 4, 5, text(line), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_x(pdf.l_margin)
    pdf.ln(3)
    phone = format_phone(estimate.phone, estimate.billing_country)
    for label, value in ((words["contact"], estimate.contact_name), (words["phone"], phone),
                         (words["email"], estimate.email)):
        if value:
            pdf.cell(width, 5, text(f"{label}: {value}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)

    # What is offered.
    pdf.set_font(fonts.family, "B", 12)
    pdf.multi_cell(width, 6, text(estimate.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font(fonts.family, "", 10)
    with pdf.table(col_widths=(52, 12, 18, 18), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
                   headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
                   borders_layout="HORIZONTAL_LINES", line_height=5.5, width=width,
                   padding=1.2) as table:
        table.row([text(words[key]) for key in ("description", "quantity", "unit_price",
                                                 "amount")])
        for line in lines:
            quantity = locale_format.format_decimal(line.quantity, where)
            table.row([text(line.description), text(quantity),
                       money(line.unit_price_minor), money(line.amount_minor)])
    pdf.ln(2)
    pdf.set_font(fonts.family, "B", 11)
    pdf.cell(width * 0.7, 7, text(words["total"]), align="R")
    pdf.cell(width * 0.3, 7, money(estimate.total_minor), align="R",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(fonts.family, "", 8)
    pdf.cell(width, 5, text(words["currency"].format(currency=estimate.currency)), align="R",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def write_proposal(ctx: Context, estimate_id: int, target: str | os.PathLike, *,
                   language: str | None = None) -> Path:
    """Write the proposal to ``target`` (whole or not at all: via a file beside it)."""
    path = Path(target).expanduser()
    data = render_proposal(ctx, estimate_id, language=language)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ClientbookError(_("{path} is a folder; give a file name for the PDF.").format(
            path=path))
    if not folder.is_dir():
        raise ClientbookError(_("Cannot write {path}: the folder {folder} does not exist.")
                              .format(path=path, folder=folder))
    try:
        handle, scratch = tempfile.mkstemp(prefix=".proposal-", suffix=".pdf", dir=folder)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.chmod(scratch, 0o644)
            os.replace(scratch, path)
        except BaseException:
            Path(scratch).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise ClientbookError(_("Cannot write {path}: {reason}").format(
            path=path, reason=error.strerror or error)) from None
    return path
