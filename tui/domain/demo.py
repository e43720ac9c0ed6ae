"""A realistic, deterministic demo dataset, created through the services like real work.

The same seed gives the same customers, contacts and machines every time, so
a demo, a screenshot and a bug report all talk about the same data.
"""

from __future__ import annotations

import random
import tempfile
import unicodedata
from datetime import date, timedelta
from pathlib import Path

from tui.domain.models import Assignment, Contact, Customer, utcnow

from tui.domain.context import Context
from tui.domain.services.contacts import ContactDraft
from tui.domain.services.customers import CustomerDraft, create_customer
from tui.domain.services.documents import add_document
from tui.domain.services.equipment import (
    EquipmentDraft,
    add_equipment,
    assign_equipment,
    unassign_equipment,
)
from tui.domain.services.estimates import EstimateDraft, LineDraft, create_estimate, set_status
from tui.domain.services.events import record_event
from tui.domain.services.projects import ProjectDraft, close_project, create_project

SEED = 20261123
EVENT_MESSAGES = {
    "service_due": ["500-hour service due", "Annual inspection due in 14 days", "Oil change due"],
    "breakdown": ["Hydraulic leak reported by the operator", "Engine will not start",
                  "Track tension warning"],
    "alarm": ["Low battery voltage", "Engine overheating", "Tilt alarm triggered"],
    "geofence_exit": ["Left the site boundary at night", "Moved outside the rental area"],
    "custom": ["Fuel theft suspected", "Operator reported a loose guard rail"],
}

# country: (legal suffixes, [(city, postal code, state)], phone maker, first names, last names)
COUNTRIES = {
    "DK": (["A/S", "ApS", "I/S"],
           [("København", "2100", ""), ("Aarhus", "8000", ""), ("Odense", "5000", ""),
            ("Aalborg", "9000", ""), ("Esbjerg", "6700", ""), ("Vejle", "7100", "")],
           lambda r: f"+45 {r.randint(20, 99)} {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)}",
           ["Mette", "Lars", "Søren", "Anne", "Jens", "Sofie", "Mads", "Ida", "Henrik", "Line"],
           ["Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen"]),
    "FR": (["SARL", "SAS", "SA", "EURL"],
           [("Lyon", "69003", ""), ("Nantes", "44000", ""), ("Lille", "59000", ""),
            ("Bordeaux", "33000", ""), ("Grenoble", "38000", ""), ("Rennes", "35000", "")],
           lambda r: f"0{r.randint(1, 5)} {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)}",
           ["Camille", "Julien", "Chloé", "Nicolas", "Élodie", "Mathieu", "Zoë", "François", "Inès"],
           ["Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Girard", "Rousseau", "Fontaine"]),
    "GB": (["Ltd", "plc", "LLP"],
           [("London", "EC1A 1BB", ""), ("Manchester", "M1 1AE", ""), ("Leeds", "LS1 4DY", ""),
            ("Bristol", "BS1 4DJ", ""), ("Glasgow", "G1 1XQ", "")],
           lambda r: f"020 7946 0{r.randint(100, 999)}",
           ["Oliver", "Amelia", "Harry", "Isla", "George", "Emily", "Jack", "Grace"],
           ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Walker"]),
    "US": (["Inc.", "LLC", "Corp."],
           [("Houston", "77002", "TX"), ("Denver", "80202", "CO"), ("Chicago", "60601", "IL"),
            ("Sacramento", "95814", "CA"), ("Atlanta", "30303", "GA")],
           lambda r: f"({r.choice(['713', '303', '312', '916', '404'])}) 555-01{r.randint(10, 99)}",
           ["James", "Mary", "Robert", "Linda", "Michael", "Patricia", "David", "Jennifer"],
           ["Johnson", "Miller", "Davis", "Garcia", "Rodriguez", "Martinez", "Anderson"]),
    "CA": (["Inc.", "Ltd", "Ltée"],
           [("Montréal", "H2Y 1C6", "QC"), ("Toronto", "M5H 2N2", "ON"),
            ("Calgary", "T2P 1J9", "AB"), ("Vancouver", "V6B 1A1", "BC")],
           lambda r: f"({r.choice(['514', '416', '403', '604'])}) 555-01{r.randint(10, 99)}",
           ["Émilie", "Olivier", "Noah", "Léa", "William", "Charlotte", "Gabriel"],
           ["Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Smith", "Wilson"]),
    "DE": (["GmbH", "AG", "KG"],
           [("Hamburg", "20095", ""), ("München", "80331", ""), ("Köln", "50667", ""),
            ("Berlin", "10115", "")],
           lambda r: f"030 {r.randint(1000000, 9999999)}",
           ["Lukas", "Anna", "Jonas", "Lena", "Felix", "Marie", "Paul"],
           ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker"]),
}
CURRENCY = {"DK": "DKK", "FR": "EUR", "GB": "GBP", "US": "USD", "CA": "CAD", "DE": "EUR"}
LANGUAGE = {"DK": "da", "FR": "fr", "GB": "en", "US": "en", "CA": "fr", "DE": "en"}
FIRST_WORDS = ["Nordic", "Atlas", "Granit", "Fjord", "Alpine", "Vestas", "Øresund", "Bâtir",
               "Horizon", "Keystone", "Boréal", "Ironside", "Summit", "Delta", "Kraftwerk",
               "Littoral", "Meridian", "Pioneer", "Rivage", "Sterling", "Tundra", "Valmont"]
TRADES = ["Construction", "Rental", "Maskinudlejning", "Location", "Équipements", "Byg & Anlæg",
          "Earthworks", "Demolition", "Lifting", "Bau", "Travaux Publics", "Civil Works",
          "Plant Hire", "Entreprise", "Infrastructure", "Scaffolding"]
STREETS = ["Industrivej", "Rue de la Gare", "High Street", "Main Street", "Havnegade",
           "Avenue Jean Jaurès", "Station Road", "Hauptstraße", "Boulevard Saint-Laurent"]
JOBS = ["Site manager", "Chef de chantier", "Purchasing manager", "Fleet manager", "Indkøber",
        "Accountant", "Comptable", "Project engineer", "Owner", "Driftsleder"]
MACHINES = [("Caterpillar", "320", "Excavator"), ("JCB", "3CX", "Backhoe loader"),
            ("Volvo", "EC220E", "Excavator"), ("Komatsu", "PC210", "Excavator"),
            ("Bobcat", "S70", "Skid steer"), ("Liebherr", "LTM 1050", "Mobile crane"),
            ("Genie", "GS-1930", "Scissor lift"), ("JLG", "450AJ", "Boom lift"),
            ("Atlas Copco", "XAS 88", "Compressor"), ("Wacker Neuson", "DW60", "Dumper"),
            ("Manitou", "MT 1440", "Telehandler"), ("Hilti", "TE 70", "Breaker")]
# Estimate lines in the customer's language: (description, quantities, unit price in EUR)
LINES = {
    "en": [("Excavator hire, per day", (1, 3, 5, 10), (280, 450, 620)),
           ("Operator, per hour", (8, 16, 40), (48, 62)),
           ("Transport to and from site", (1,), (180, 340, 560)),
           ("Scaffolding, per week", (1, 2, 4), (390, 720)),
           ("Service and safety inspection", (1,), (240, 410))],
    "fr": [("Location pelle hydraulique, par jour", (1, 3, 5, 10), (280, 450, 620)),
           ("Conducteur d'engin, à l'heure", (8, 16, 40), (48, 62)),
           ("Transport aller-retour sur chantier", (1,), (180, 340, 560)),
           ("Échafaudage, par semaine", (1, 2, 4), (390, 720)),
           ("Entretien et contrôle de sécurité", (1,), (240, 410))],
    "da": [("Leje af gravemaskine, pr. dag", (1, 3, 5, 10), (280, 450, 620)),
           ("Maskinfører, pr. time", (8, 16, 40), (48, 62)),
           ("Transport til og fra pladsen", (1,), (180, 340, 560)),
           ("Stillads, pr. uge", (1, 2, 4), (390, 720)),
           ("Service og sikkerhedseftersyn", (1,), (240, 410))],
}
ESTIMATE_TITLES = {"en": ["Equipment hire", "Site works", "Lifting operations", "Spring season"],
                   "fr": ["Location de matériel", "Travaux de chantier", "Opérations de levage",
                          "Saison de printemps"],
                   "da": ["Maskinleje", "Anlægsarbejde", "Løfteopgaver", "Forårssæson"]}
PROJECTS = ["Harbour extension", "School renovation", "Ring road, section 3", "Bridge repair",
            "Logistics warehouse", "Wind farm access roads", "Hospital wing", "Tram depot"]
EUR_RATE = {"EUR": 1, "DKK": 7.45, "GBP": 0.85, "USD": 1.1, "CAD": 1.5}


def _slug(text: str) -> str:
    """``Müller`` -> ``muller``: e-mail addresses a real firm would have."""
    plain = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain if ch.isalnum())[:16] or "firm"


def _customer(rng: random.Random, index: int, config_segments: list[str]) -> CustomerDraft:
    country = rng.choice(list(COUNTRIES))
    suffixes, cities, phone, firsts, lasts = COUNTRIES[country]
    city, postal, state = rng.choice(cities)
    name = f"{rng.choice(FIRST_WORDS)} {rng.choice(TRADES)} {rng.choice(suffixes)}"
    if index >= len(FIRST_WORDS) * 4:  # keep names distinct in larger demos
        name = f"{name.rsplit(' ', 1)[0]} {city} {rng.choice(suffixes)}"
    domain = f"{_slug(name.split()[0])}{index}.example"
    contacts = []
    for _n in range(rng.choice([1, 1, 2, 2, 3, 4])):
        first, last = rng.choice(firsts), rng.choice(lasts)
        roles = tuple(r for r in ("submission", "billing", "execution", "notify")
                      if rng.random() < 0.4)
        contacts.append(ContactDraft(
            name=f"{first} {last}", email=f"{_slug(first)}.{_slug(last)}@{domain}",
            phone=phone(rng), job_title=rng.choice(JOBS), roles=roles))
    return CustomerDraft(
        name=name, phone=phone(rng), email=f"contact@{domain}", website=f"www.{domain}",
        billing_street=f"{rng.randint(1, 180)} {rng.choice(STREETS)}",
        billing_postal_code=postal, billing_city=city, billing_country=country,
        billing_state=state, segment=rng.choice(config_segments), currency=CURRENCY[country],
        language=LANGUAGE[country], groups=tuple(rng.sample(["Key accounts", "North", "South",
                                                             "Tenders 2026"], rng.randint(0, 2))),
        contacts=tuple(contacts),
    )


def populate(ctx: Context, customers: int = 300, seed: int = SEED) -> dict[str, int]:
    """Fill an empty database; returns how many of each thing it made."""
    rng = random.Random(seed)
    segments = list(ctx.config.segments)
    counts = {"customers": 0, "contacts": 0, "machines": 0, "documents": 0, "events": 0,
              "notifications": 0, "estimates": 0, "projects": 0}
    with ctx.db.atomic(), tempfile.TemporaryDirectory() as scratch:
        customer_ids = []
        for index in range(customers):
            draft = _customer(rng, index, segments)
            customer_ids.append(create_customer(ctx, draft, allow_duplicate=True).id)
            counts["customers"] += 1
            counts["contacts"] += len(draft.contacts)
        machine_ids = []
        for index in range(customers * 3 // 2):
            make, model, kind = rng.choice(MACHINES)
            machine = add_equipment(ctx, EquipmentDraft(
                serial=f"{make[:3].upper()}-{100000 + index * 37}", name=f"{kind} {index + 1}",
                make=make, model=model, type=kind, year=rng.randint(2008, 2026)))
            machine_ids.append(machine.id)
        counts["machines"] = len(machine_ids)
        now = utcnow()
        for machine_id in machine_ids:
            if rng.random() < 0.15:  # some history: held before by someone else
                [earlier] = assign_equipment(ctx, rng.choice(customer_ids), [machine_id])
                unassign_equipment(ctx, [machine_id])
                start = now - timedelta(days=rng.randint(200, 400))
                _backdate(earlier.id, start, start + timedelta(days=rng.randint(30, 120)))
            if rng.random() < 0.6:
                [held] = assign_equipment(ctx, rng.choice(customer_ids), [machine_id])
                since = now - timedelta(days=rng.randint(5, 90), minutes=rng.randint(0, 1440))
                _backdate(held.id, since, None)
                if rng.random() < 0.3:  # what a telematics feed would have reported since
                    kind = rng.choice([t for t in EVENT_MESSAGES if t in ctx.config.event_types]
                                      or list(ctx.config.event_types))
                    recorded = record_event(
                        ctx, equipment_id=machine_id, type=kind, source="demo",
                        message=rng.choice(EVENT_MESSAGES.get(kind, [""])),
                        occurred_at=since + (now - since) * rng.random())
                    counts["events"] += 1
                    counts["notifications"] += recorded.notifications
        kinds = list(ctx.config.document_kinds)
        today = date.today()
        for customer_id in customer_ids:
            for number in range(rng.choice([0, 0, 1, 2])):
                kind = rng.choice(kinds)
                source = Path(scratch) / f"{kind}-{customer_id}-{number}.txt"
                source.write_text(f"{kind} {customer_id}/{number}\n", encoding="utf-8")
                reminder = today + timedelta(days=rng.randint(-30, 365)) if rng.random() < 0.5 else None
                add_document(ctx, customer_id, f"{kind.capitalize()} {today.year}-{number + 1}",
                             kind, source, reminder)
                counts["documents"] += 1
        # Its own random stream: what came before is the same with or without these.
        _estimates_and_projects(ctx, random.Random(seed + 1), customer_ids, today, counts)
    return counts


def _estimates_and_projects(ctx: Context, rng: random.Random, customer_ids: list[int],
                            today: date, counts: dict[str, int]) -> None:
    """Estimates for about half the customers, projects for about one in five."""
    customers = {c.id: c for c in Customer.select().where(Customer.id.in_(customer_ids))}
    drafts = []
    for customer_id in customer_ids:
        if rng.random() >= 0.5:
            continue
        customer = customers[customer_id]
        language = customer.language if customer.language in LINES else "en"
        rate = EUR_RATE.get(customer.currency, 1)
        for _n in range(rng.choice([1, 1, 2, 3])):
            lines = tuple(
                LineDraft(description, str(rng.choice(quantities)),
                          str(round(rng.choice(prices) * rate)))
                for description, quantities, prices in rng.sample(LINES[language],
                                                                  rng.randint(1, 4)))
            drafts.append((EstimateDraft(
                customer_id=customer_id, title=rng.choice(ESTIMATE_TITLES[language]),
                issued_on=today - timedelta(days=rng.randint(0, 240)), lines=lines),
                rng.choice(["draft", "draft", "sent", "sent", "accepted", "declined"])))
    # Numbered in date order, as they would have been made.
    for draft, status in sorted(drafts, key=lambda pair: pair[0].issued_on):
        estimate = create_estimate(ctx, draft)
        if status != "draft":
            set_status(ctx, estimate.id, estimate.version, status)
        counts["estimates"] += 1
    for customer_id in customer_ids:
        if rng.random() >= 0.2:
            continue
        contacts = list(Contact.select().where(Contact.customer == customer_id)
                        .order_by(Contact.id))

        def pick(role: str) -> int | None:
            holders = [c.id for c in contacts if role in (c.roles or ())]
            return rng.choice(holders) if holders else None

        starts = today + timedelta(days=rng.randint(-120, 120))
        project = create_project(ctx, customer_id, ProjectDraft(
            name=rng.choice(PROJECTS), submission_deadline=starts - timedelta(days=30),
            starts_on=starts, ends_on=starts + timedelta(days=rng.randint(30, 400)),
            budget=str(rng.randint(5, 400) * 10_000), submission_contact_id=pick("submission"),
            billing_contact_id=pick("billing"), execution_contact_id=pick("execution")))
        if rng.random() < 0.25:
            close_project(ctx, project.id, project.version)
        counts["projects"] += 1


def _backdate(assignment_id: int, assigned_at, unassigned_at) -> None:
    """Spread the demo's history over past months, as a real register would have it."""
    values = {"assigned_at": assigned_at}
    if unassigned_at is not None:
        values["unassigned_at"] = unassigned_at
    Assignment.update(**values).where(Assignment.id == assignment_id).execute()
