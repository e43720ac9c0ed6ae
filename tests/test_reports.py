"""Reports by group and segment, against a dataset whose figures are known by hand."""

from __future__ import annotations

import pytest

from tests.conftest import ContactDraft, CustomerDraft
from tui.domain.context import Actor, Context
from tui.domain.dialect import sql
from tui.domain.errors import PermissionDenied, ValidationError
from tui.domain.services import customers as customer_service
from tui.domain.services.equipment import assign_equipment, unassign_equipment
from tui.domain.services.estimates import EstimateDraft, LineDraft, create_estimate, set_status
from tui.domain.services.reports import ReportRow, report_by

pytestmark = pytest.mark.both_backends


def estimate(admin, customer, amount: str, status: str = "draft"):
    made = create_estimate(admin, EstimateDraft(customer_id=customer.id, title="Hire",
                                                issued_on="2026-03-01",
                                                lines=(LineDraft("Hire", "1", amount),)))
    if status != "draft":
        set_status(admin, made.id, made.version, status)
    return made


@pytest.fixture
def dataset(admin, make_customer, make_machine):
    """A: dealer in North and South, 2 contacts, 2 machines, open EUR 100 + 50 (and an
    accepted 1000 that is not open). B: dealer in North, 1 contact, 1 machine held and one
    returned, open DKK 300. C: contractor in no group, a declined estimate. D: contractor
    in South, deleted with its open estimate. E: other, left its only group ("Empty")."""
    a = make_customer("Alpha", segment="dealer", groups=("North", "South"), currency="EUR",
                      contacts=(ContactDraft(name="A1"), ContactDraft(name="A2")))
    b = make_customer("Beta", segment="dealer", groups=("North",), currency="DKK",
                      contacts=(ContactDraft(name="B1"),))
    c = make_customer("Gamma", segment="contractor", currency="EUR")
    d = make_customer("Delta", segment="contractor", groups=("South",), currency="EUR",
                      contacts=(ContactDraft(name="D1"), ContactDraft(name="D2")))
    e = make_customer("Epsilon", segment="other", groups=("Empty",))
    customer_service.update_customer(admin, e.id, e.version, CustomerDraft(
        **(CustomerDraft.from_customer(e).__dict__ | {"groups": ()})))
    machines = [make_machine() for _ in range(5)]
    assign_equipment(admin, a.id, [machines[0].id, machines[1].id])
    assign_equipment(admin, b.id, [machines[2].id, machines[3].id])
    unassign_equipment(admin, [machines[3].id])
    assign_equipment(admin, d.id, [machines[4].id])
    estimate(admin, a, "100")
    estimate(admin, a, "50", "sent")
    estimate(admin, a, "1000", "accepted")
    estimate(admin, b, "300")
    estimate(admin, c, "70", "declined")
    estimate(admin, d, "10")
    customer_service.delete_customer(admin, d.id)
    return a, b, c, e


def test_report_by_segment(admin, dataset):
    rows = report_by(admin, "segment")
    assert rows == [
        ReportRow("dealer", "Dealer", 2, 3, 3, {"DKK": 30000, "EUR": 15000}, 3),
        ReportRow("service_provider", "Service provider", 0, 0, 0, {}, 0),
        ReportRow("rental_company", "Rental company", 0, 0, 0, {}, 0),
        ReportRow("contractor", "Contractor", 1, 0, 0, {}, 0),
        ReportRow("other", "Other", 1, 0, 0, {}, 0),
    ]


def test_report_by_group_counts_a_customer_in_each_of_its_groups(admin, dataset):
    rows = report_by(admin, "group")
    assert rows == [
        ReportRow("Empty", "Empty", 0, 0, 0, {}, 0),
        ReportRow("North", "North", 2, 3, 3, {"DKK": 30000, "EUR": 15000}, 3),
        ReportRow("South", "South", 1, 2, 2, {"EUR": 15000}, 2),
        ReportRow(None, "(no group)", 2, 0, 0, {}, 0),
    ]


def test_labels_follow_the_users_language(admin, dataset):
    from tui.i18n import set_language

    set_language("fr")
    try:
        assert report_by(admin, "segment")[0].label == "Revendeur"
    finally:
        set_language("en")


def test_a_segment_the_configuration_no_longer_knows_keeps_its_key(admin, make_customer, db):
    old = make_customer("Legacy")
    db.execute_sql(sql(db, "UPDATE customer SET segment = 'wholesale' WHERE id = ?"), [old.id])
    rows = {row.key: row for row in report_by(admin, "segment")}
    assert rows["wholesale"].label == "wholesale" and rows["wholesale"].customers == 1
    assert rows["other"].customers == 0


def test_an_empty_database_reports_zeros(admin):
    assert all(row.customers == 0 for row in report_by(admin, "segment"))
    assert report_by(admin, "group") == []


def test_unknown_dimension_and_missing_permissions_are_refused(admin, db, config):
    with pytest.raises(ValidationError, match='Unknown report "country"'):
        report_by(admin, "country")
    partial = Context(db, config, Actor("pat", "custom", frozenset({"customer.view",
                                                                   "contact.view",
                                                                   "equipment.view"})))
    with pytest.raises(PermissionDenied, match="view estimates"):
        report_by(partial, "group")


@pytest.mark.parametrize("role", ["limited", "estimator", "fleet_administrator",
                                  "account_owner"])
def test_every_shipped_role_may_see_the_report(as_role, dataset, role):
    assert report_by(as_role(role), "segment")[0].customers == 2
