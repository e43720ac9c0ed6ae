"""Imports and estimates (issue 6): an import edits customers as the app does, copies included."""

from __future__ import annotations

import pytest

from tests.test_import import HEADERS, company_rows, write_csv
from tui.domain.imports import ImportOptions, UndoRefused, import_file, undo_import
from tui.domain.models import Customer, Estimate
from tui.domain.services.estimates import EstimateDraft, LineDraft, create_estimate
from tui.domain.services.projects import ProjectDraft, create_project

pytestmark = pytest.mark.both_backends


def quote(ctx, customer: Customer) -> Estimate:
    return create_estimate(ctx, EstimateDraft(customer_id=customer.id, title="Crane hire",
                                              lines=(LineDraft("Crane, one week", "1", "900"),)))


def firm(number: int) -> Customer:
    return Customer.get(Customer.external_id == f"EXT-{number}")


def test_an_update_by_import_rewrites_the_copy_on_linked_estimates(admin, tmp_path):
    import_file(admin, "customers", write_csv(tmp_path / "a.csv", company_rows(2)))
    estimate = quote(admin, firm(0))
    untouched = quote(admin, firm(1))
    rows = company_rows(2)
    rows[1][2] = rows[2][2] = "+45 99 88 77 66"
    report = import_file(admin, "customers", write_csv(tmp_path / "b.csv", rows),
                         options=ImportOptions(on_match="update"))
    assert report.counts["customer"].updated == 1
    assert Estimate.get_by_id(estimate.id).phone == "+4599887766"
    assert Estimate.get_by_id(untouched.id).phone == firm(1).phone


def test_an_import_may_not_change_the_currency_of_a_customer_with_estimates(admin, tmp_path):
    headers = HEADERS + ["Currency"]
    first = [headers] + [row + ["DKK"] for row in company_rows(2, contacts=0)[1:]]
    import_file(admin, "customers", write_csv(tmp_path / "a.csv", first))
    quote(admin, firm(0))
    second = [headers] + [row + ["EUR"] for row in company_rows(2, contacts=0)[1:]]
    report = import_file(admin, "customers", write_csv(tmp_path / "b.csv", second),
                         options=ImportOptions(on_match="update"))
    assert report.rejected == 1 and report.counts["customer"].updated == 1
    assert report.errors[0].line == 2
    assert "The currency stays DKK" in report.errors[0].message
    assert (firm(0).currency, firm(1).currency) == ("DKK", "EUR")


def test_undo_refuses_to_delete_a_customer_that_has_estimates_or_projects_since(admin, tmp_path):
    report = import_file(admin, "customers", write_csv(tmp_path / "a.csv", company_rows(2)))
    estimate = quote(admin, firm(0))
    create_project(admin, firm(1).id, ProjectDraft(name="Harbour bridge"))
    with pytest.raises(UndoRefused) as refused:
        undo_import(admin, report.job_id)
    text = str(refused.value)
    assert f"estimate #{estimate.id} was made since for customer #{firm(0).id}" in text
    assert f"was made since for customer #{firm(1).id}" in text
    assert Customer.select().count() == 2 and Estimate.get_by_id(estimate.id).customer_id


def test_undo_of_an_update_puts_the_copy_back_and_keeps_estimates_currency(admin, tmp_path):
    import_file(admin, "customers", write_csv(tmp_path / "a.csv", company_rows(1)))
    old_phone = firm(0).phone
    rows = company_rows(1)
    rows[1][2] = rows[2][2] = "+45 99 88 77 66"
    report = import_file(admin, "customers", write_csv(tmp_path / "b.csv", rows),
                         options=ImportOptions(on_match="update"))
    estimate = quote(admin, firm(0))
    assert estimate.phone == "+4599887766"
    undo_import(admin, report.job_id)
    assert Estimate.get_by_id(estimate.id).phone == old_phone == firm(0).phone


def test_undo_refuses_to_put_back_a_currency_once_estimates_use_the_new_one(admin, tmp_path):
    headers = HEADERS + ["Currency"]
    import_file(admin, "customers", write_csv(
        tmp_path / "a.csv", [headers] + [r + ["DKK"] for r in company_rows(1, contacts=0)[1:]]))
    report = import_file(admin, "customers", write_csv(
        tmp_path / "b.csv", [headers] + [r + ["EUR"] for r in company_rows(1, contacts=0)[1:]]),
        options=ImportOptions(on_match="update"))
    quote(admin, firm(0))
    with pytest.raises(UndoRefused, match="has estimates priced in the currency"):
        undo_import(admin, report.job_id)
    assert firm(0).currency == "EUR"
