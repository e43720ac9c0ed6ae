"""The PDF proposal, read back with pypdf: customer, lines and total, in the customer's
language, with the embedded Unicode font and with the core-font fallback."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from tests.conftest import ContactDraft
from tui.domain.context import Actor, Context
from tui.domain.errors import ClientbookError, NotFound, PermissionDenied
from tui.domain.proposal import (
    Fonts,
    core_safe,
    find_fonts,
    proposal_language,
    render_proposal,
    write_proposal,
)
from tui.domain.services import customers as customer_service
from tui.domain.services.estimates import EstimateDraft, LineDraft, create_estimate

pytestmark = pytest.mark.both_backends

CORE = Fonts("helvetica", None, None)


def text_of(data: bytes) -> str:
    """Every page's text, with runs of whitespace (and no-break spaces) made one space.

    Dates and amounts are in the proposal language's default locale (fr_FR, da_DK, en_US),
    whatever the operator's."""
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


@pytest.fixture
def french(admin, make_customer):
    customer = make_customer(
        "Bâtir Lyon SARL", billing_country="FR", billing_street="12 Rue de la Gare",
        billing_postal_code="69003", billing_city="Lyon", shipping_same_as_billing=False,
        shipping_street="Chantier Part-Dieu", shipping_postal_code="69002",
        shipping_city="Lyon", shipping_country="FR", phone="04 72 00 00 01",
        email="compta@batir.example", currency="EUR", language="fr",
        contacts=(ContactDraft(name="Élodie Lefèvre", roles=("billing",)),))
    return create_estimate(admin, EstimateDraft(
        customer_id=customer.id, title="Location de grue", issued_on="2026-03-14",
        lines=(LineDraft("Grue mobile Liebherr LTM 1050", "3", "1250,50"),
               LineDraft("Transport aller-retour", "1", "480"))))


def test_a_french_customer_gets_a_french_proposal(admin, french):
    text = text_of(render_proposal(admin, french.id))
    for expected in ("Clientbook demo business", "Devis", "N° E-2026-0001", "14/03/2026",
                     "Bâtir Lyon SARL", "Adresse de facturation", "12 Rue de la Gare",
                     "69003 Lyon", "Adresse de livraison", "Chantier Part-Dieu", "69002 Lyon",
                     "France", "Contact: Élodie Lefèvre", "Téléphone: 04 72 00 00 01",
                     "Courriel: compta@batir.example", "Location de grue",
                     "Désignation", "Qté", "Prix unitaire", "Montant",
                     "Grue mobile Liebherr LTM 1050", "3 1 250,50 € 3 751,50 €",
                     "Transport aller-retour", "1 480,00 € 480,00 €",
                     "Total 4 231,50 €", "Montants en EUR.", "Page 1 sur 1"):
        assert expected in text, expected
    assert "Proposal" not in text and "Billing address" not in text


def test_the_core_font_fallback_keeps_french_and_transliterates_the_rest(admin, french):
    text = text_of(render_proposal(admin, french.id, fonts=CORE))
    for expected in ("Devis", "Bâtir Lyon SARL", "Élodie Lefèvre", "Désignation",
                     "Total 4 231,50 €"):
        assert expected in text, expected
    assert core_safe("Łódź ő → Ærø") == "Lódz o ? Ærø"  # ó is in Windows-1252


def test_an_english_and_a_danish_customer(admin, make_customer):
    for name, country, language, currency, words in (
            ("Summit Lifting Ltd", "GB", "en", "GBP",
             ["Proposal", "Billing address", "Unit price", "Total £2,000.00",
              "United Kingdom", "3/14/2026"]),
            ("Fjord Kran ApS", "DK", "da", "DKK",
             ["Tilbud", "Faktureringsadresse", "Enhedspris", "I alt 2.000,00 kr.",
              "Danmark", "14.03.2026"])):
        customer = make_customer(name, billing_country=country, language=language,
                                 currency=currency)
        estimate = create_estimate(admin, EstimateDraft(
            customer_id=customer.id, title="Hire", issued_on="2026-03-14",
            lines=(LineDraft("Boom lift", "2", "1000"),)))
        text = text_of(render_proposal(admin, estimate.id))
        for expected in [name, "Boom lift", *words]:
            assert expected in text, (language, expected)


def test_language_can_be_chosen_and_unknown_ones_fall_back(admin, make_customer, french):
    assert "Proposal" in text_of(render_proposal(admin, french.id, language="en"))
    oslo = make_customer("Oslo Kran AS", billing_country="NO", language="nb", currency="NOK")
    estimate = create_estimate(admin, EstimateDraft(customer_id=oslo.id, title="Kran"))
    assert proposal_language(admin, estimate) == admin.config.defaults.language == "en"
    assert proposal_language(admin, estimate, "fr_CA") == "fr"


def test_an_unlinked_estimate_still_prints_its_copy(admin, french):
    customer_service.delete_customer(admin, french.customer_id)
    text = text_of(render_proposal(admin, french.id))
    assert "Bâtir Lyon SARL" in text and "12 Rue de la Gare" in text


def test_the_unicode_font_is_embedded_when_the_system_has_it(admin, french):
    fonts = find_fonts()
    if not fonts.unicode:
        pytest.skip("no DejaVu Sans on this machine")
    data = render_proposal(admin, french.id, fonts=fonts)
    assert b"DejaVu" in data
    assert find_fonts([]) == CORE


def test_writing_the_file(admin, french, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    target = write_proposal(admin, french.id, folder / "devis.pdf")
    assert "Bâtir Lyon SARL" in text_of(target.read_bytes())
    assert [p.name for p in folder.iterdir()] == ["devis.pdf"]  # no scratch file left
    with pytest.raises(ClientbookError, match="does not exist"):
        write_proposal(admin, french.id, tmp_path / "missing" / "devis.pdf")
    with pytest.raises(ClientbookError, match="is a folder"):
        write_proposal(admin, french.id, folder)
    with pytest.raises(NotFound):
        render_proposal(admin, 999)


def test_printing_needs_estimate_view(db, config, french):
    nobody = Context(db, config, Actor("pat", "custom", frozenset({"customer.view"})))
    with pytest.raises(PermissionDenied, match="view estimates"):
        render_proposal(nobody, french.id)
