"""``clientbook estimates``, ``projects`` and ``report``.

In-process: the modules' own ``add_commands`` build the parser and ``run`` is called with
the parsed namespace, so these run before the modules are registered in tui/cli. The
last tests run the installed command as a subprocess, once it knows the commands.
"""

from __future__ import annotations

import argparse
import io
import json

import pytest
from pypdf import PdfReader

from tests.conftest import ContactDraft
from tui.cli import estimates as estimates_cli
from tui.cli import reports as reports_cli
from tui.domain.errors import NotFound, PermissionDenied
from tui.domain.services.estimates import EstimateDraft, LineDraft, create_estimate, set_status
from tui.domain.services.projects import ProjectDraft, close_project, create_project


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="clientbook")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    estimates_cli.add_commands(commands)
    reports_cli.add_commands(commands)
    return parser.parse_args(argv)


def run(ctx, *argv: str) -> int:
    args = parse(*argv)
    module = reports_cli if args.command == "report" else estimates_cli
    return module.run(ctx, args)


@pytest.fixture
def book(admin, make_customer):
    """Two customers (French EUR in North, Danish DKK), three estimates, two projects."""
    lyon = make_customer("Bâtir Lyon SARL", billing_country="FR", billing_city="Lyon",
                         billing_street="12 Rue de la Gare", billing_postal_code="69003",
                         language="fr", currency="EUR", segment="dealer", groups=("North",),
                         contacts=(ContactDraft(name="Élodie Lefèvre", roles=("billing",)),))
    fjord = make_customer("Fjord Kran ApS", language="da", currency="DKK", segment="contractor")
    first = create_estimate(admin, EstimateDraft(
        customer_id=lyon.id, title="Location de grue", issued_on="2026-03-14",
        lines=(LineDraft("Grue mobile", "3", "1250,50"),)))
    create_estimate(admin, EstimateDraft(customer_id=fjord.id, title="Kranleje",
                                         issued_on="2026-03-15",
                                         lines=(LineDraft("Kran", "1", "3000"),)))
    won = create_estimate(admin, EstimateDraft(customer_id=lyon.id, title="Échafaudage",
                                               issued_on="2026-03-16",
                                               lines=(LineDraft("Échafaudage", "1", "99"),)))
    set_status(admin, won.id, won.version, "accepted")
    create_project(admin, lyon.id, ProjectDraft(name="Pont Lafayette", budget="250000",
                                                submission_deadline="2026-05-01"))
    old = create_project(admin, fjord.id, ProjectDraft(name="Havnebad"))
    close_project(admin, old.id, old.version)
    return lyon, fjord, first


def test_estimates_list_as_a_table_and_as_json(admin, book, capsys):
    assert run(admin, "estimates", "list") == 0
    out = capsys.readouterr().out
    assert "E-2026-0001" in out and "Bâtir Lyon SARL" in out and "€3,751.50" in out
    assert "3/14/2026" in out  # the table is in the operator's locale (en_US)
    assert "3 of 3 estimates" in out
    assert run(admin, "estimates", "list", "--search", "fjord", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == 1
    assert data["estimates"][0] | {"id": 0} == {
        "id": 0, "number": "E-2026-0002", "title": "Kranleje", "date": "2026-03-15",
        "status": "draft", "customer_id": book[1].id, "customer_name": "Fjord Kran ApS",
        "currency": "DKK", "total": "3000.00"}
    run(admin, "estimates", "list", "--status", "open", "--json")
    assert json.loads(capsys.readouterr().out)["total"] == 2
    run(admin, "estimates", "list", "--customer", str(book[0].id), "--json")
    assert json.loads(capsys.readouterr().out)["total"] == 2


def test_estimates_pdf_writes_the_proposal_in_the_customers_language(admin, book, tmp_path,
                                                                     capsys):
    target = tmp_path / "devis.pdf"
    assert run(admin, "estimates", "pdf", "e-2026-0001", "-o", str(target)) == 0
    assert "Wrote the proposal E-2026-0001 (fr)" in capsys.readouterr().out
    text = " ".join(PdfReader(io.BytesIO(target.read_bytes())).pages[0].extract_text().split())
    assert "Devis" in text and "Bâtir Lyon SARL" in text and "Total 3 751,50 €" in text
    run(admin, "estimates", "pdf", "E-2026-0001", "-o", str(target), "--language", "en")
    text = " ".join(PdfReader(io.BytesIO(target.read_bytes())).pages[0].extract_text().split())
    assert "Proposal" in text and "Total €3,751.50" in text


def test_estimates_pdf_refuses_an_unknown_number_and_a_missing_output(admin, book, tmp_path):
    with pytest.raises(NotFound, match="No estimate E-2030-0001"):
        run(admin, "estimates", "pdf", "E-2030-0001", "-o", str(tmp_path / "x.pdf"))
    with pytest.raises(SystemExit) as usage:
        parse("estimates", "pdf", "E-2026-0001")
    assert usage.value.code == 2


def test_projects_list_filters_by_state(admin, book, capsys):
    run(admin, "projects", "list")
    out = capsys.readouterr().out
    assert "Pont Lafayette" in out and "Havnebad" not in out and "€250,000.00" in out
    assert "5/1/2026" in out
    run(admin, "projects", "list", "--state", "closed", "--json")
    data = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in data["projects"]] == ["Havnebad"]
    assert data["projects"][0]["state"] == "closed"
    run(admin, "projects", "list", "--state", "all", "--json")
    assert json.loads(capsys.readouterr().out)["total"] == 2


def test_report_by_segment_prints_a_table_and_a_bar_chart(admin, book, capsys):
    assert run(admin, "report", "--by", "segment") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    dealer = next(line for line in lines if line.startswith("Dealer ")).split()
    assert dealer[1:5] == ["1", "1", "0", "1"] and "€3,751.50" in out
    assert "DKK\u00a03,000.00" in out
    chart = lines[lines.index("Customers"):]
    assert any(line.startswith("Dealer") and line.endswith("█" * 40 + " 1") for line in chart) \
        or any(line.startswith("Dealer") and line.endswith("#" * 40 + " 1") for line in chart)
    assert any(line.startswith("Other") and line.rstrip().endswith(" 0") for line in chart)


def test_report_by_group_as_json_keeps_currencies_apart(admin, book, capsys):
    run(admin, "report", "--by", "group", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data == {"by": "group", "rows": [
        {"key": "North", "label": "North", "customers": 1, "contacts": 1,
         "assigned_machines": 0, "open_estimates": 1,
         "open_estimates_total": {"EUR": "3751.50"}},
        {"key": None, "label": "(no group)", "customers": 1, "contacts": 0,
         "assigned_machines": 0, "open_estimates": 1,
         "open_estimates_total": {"DKK": "3000.00"}}]}


def test_report_needs_a_known_dimension(admin):
    with pytest.raises(SystemExit) as usage:
        parse("report", "--by", "country")
    assert usage.value.code == 2


def test_bar_chart_scales_to_the_largest_value():
    lines = reports_cli.bar_chart([("North", 10), ("South", 5), ("Nowhere", 0),
                                   ("Tiny", 1)], width=20)
    assert [line.split()[-1] for line in lines] == ["10", "5", "0", "1"]
    bars = [line[len("Nowhere") + 2:].rsplit(" ", 1)[0] for line in lines]
    assert [len(bar.strip()) for bar in bars] == [20, 10, 0, 2]
    assert reports_cli.bar_chart([]) == []


def test_commands_keep_the_permissions_of_the_services(as_role, book, tmp_path):
    from tui.domain.context import Actor, Context

    base = as_role("limited")
    nobody = Context(base.db, base.config, Actor("pat", "custom", frozenset({"customer.view"})))
    for argv in (("estimates", "list"), ("projects", "list"), ("report", "--by", "group"),
                 ("estimates", "pdf", "E-2026-0001", "-o", str(tmp_path / "x.pdf"))):
        with pytest.raises(PermissionDenied):
            run(nobody, *argv)
    assert run(base, "estimates", "list") == 0  # the limited role may look


def test_estimates_pdf_to_standard_output(admin, book, capsysbinary):
    assert run(admin, "estimates", "pdf", "E-2026-0001", "-o", "-") == 0
    data = capsysbinary.readouterr().out
    assert data.startswith(b"%PDF-")
    assert "Bâtir Lyon SARL" in PdfReader(io.BytesIO(data)).pages[0].extract_text()


# -- the installed command, once tui/cli registers the modules ----------------------------

def _registered() -> bool:
    from tui.cli import build_parser

    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"estimates", "projects", "report"} <= set(action.choices)


@pytest.mark.skipif(not _registered(), reason="estimates/projects/report not yet registered in "
                                               "tui/cli/__init__.py")
def test_the_installed_command(tmp_path):
    from tests.test_cli import CLIENTBOOK, ME, assert_ok, clientbook
    from tests.conftest import actor_for
    from tui.domain.config import load_config
    from tui.domain.context import Context
    from tui.domain.database import open_database
    from tui.domain.services.customers import CustomerDraft, create_customer

    if not CLIENTBOOK.is_file():
        pytest.skip("the clientbook console script is not installed")
    path = tmp_path / "book.db"
    assert_ok(clientbook("init", db=path, home=tmp_path))
    config = load_config()
    db = open_database(path)
    try:
        ctx = Context(db, config, actor_for(config, "administrator", ME))
        customer = create_customer(ctx, CustomerDraft(name="Levage du Nord", language="fr",
                                                      billing_country="FR"))
        create_estimate(ctx, EstimateDraft(customer_id=customer.id, title="Grue",
                                           issued_on="2026-03-14",
                                           lines=(LineDraft("Grue", "2", "100"),)))
    finally:
        db.close()
    listed = assert_ok(clientbook("estimates", "list", "--json", db=path, home=tmp_path))
    assert json.loads(listed.stdout)["estimates"][0]["number"] == "E-2026-0001"
    assert_ok(clientbook("estimates", "pdf", "E-2026-0001", "-o", str(tmp_path / "p.pdf"),
                         db=path, home=tmp_path))
    assert (tmp_path / "p.pdf").read_bytes().startswith(b"%PDF-")
    report = assert_ok(clientbook("report", "--by", "segment", db=path, home=tmp_path))
    assert "€200.00" in report.stdout
    assert_ok(clientbook("projects", "list", db=path, home=tmp_path))
    missing = clientbook("estimates", "pdf", "E-1999-0001", "-o", str(tmp_path / "q.pdf"),
                         db=path, home=tmp_path)
    assert missing.returncode == 1 and "No estimate E-1999-0001" in missing.stderr
