"""SPEC §2.8 as a property: whatever happens to the money, in whatever order, the ledger keeps its
identity and only grows.

A hypothesis state machine starts from the worked example and, between nightly runs, delivers
Stripe objects for the example's customers: a paid invoice and its charge, a refund of part or all
of a charge, a refund that then fails, a lost dispute, a payment delivered late (dated weeks
before the night, possibly in a closed period). A night moves the as-of forward by one to three
weeks (crossing month ends, so periods close) and runs the real nightly flow. After every night:

- per partner and currency, commissions + referral commissions + clawbacks + adjustments =
  paid + balance, with paid read from the payout lines (what the files pay) and the balance the
  sum of every ledger entry, payouts included;
- every entry the ledger held before the night is still there, unchanged (append-only);
- the payout entries of each closed batch equal its payout lines.

CI runs PARTNER_LEDGER_STATE_MACHINE_EXAMPLES (default 6) random sequences of up to
PARTNER_LEDGER_STATE_MACHINE_STEPS (default 8) steps, each ending with a night that settles what
it delivered; hypothesis prints the steps of any sequence that breaks a property.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from partner_ledger.io.warehouse import connect

EXAMPLES = int(os.environ.get("PARTNER_LEDGER_STATE_MACHINE_EXAMPLES", "6"))
STEPS = int(os.environ.get("PARTNER_LEDGER_STATE_MACHINE_STEPS", "8"))
FIRST_NIGHT = date(2025, 3, 10)  # the worked example's first night


def _unix(day: date, hour: int = 12) -> int:
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp())


def _append(path: Path, obj: dict) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(obj) + "\n")


def _customers(landing: Path) -> list[str]:
    """The Stripe customers of the example's invoices (attributed or not: both are cases)."""
    customers = set()
    for line in (landing / "stripe" / "invoices.jsonl").read_text().splitlines():
        if line.strip():
            customers.add(json.loads(line)["customer"])
    return sorted(customers)


def ledger_identity_problems(warehouse: Path) -> list[str]:
    """What breaks SPEC §2.8's identity or the batches' payouts, read from the marts."""
    con = connect(warehouse, read_only=True)
    try:
        rows = con.execute(
            """
            with entries as (
                select
                    program_id, partner_id, currency,
                    sum(case when entry_type != 'payout' then amount_cents else 0 end) as earned,
                    sum(amount_cents) as balance
                from fct_ledger_entries
                group by all
            ),
            lines as (
                select program_id, partner_id, currency, sum(amount_cents) as paid
                from fct_payout_lines
                group by all
            )
            select entries.program_id, entries.partner_id, entries.currency, entries.earned,
                   coalesce(lines.paid, 0), entries.balance
            from entries
            left join lines using (program_id, partner_id, currency)
            where entries.earned != coalesce(lines.paid, 0) + entries.balance
            """
        ).fetchall()
        problems = [f"identity broken: {row}" for row in rows]
        rows = con.execute(
            """
            select lines.batch_id, lines.partner_id, lines.amount_cents, entries.amount_cents
            from fct_payout_lines as lines
            full outer join (
                select batch_id, partner_id, -amount_cents as amount_cents
                from fct_ledger_entries where entry_type = 'payout'
            ) as entries using (batch_id, partner_id)
            where lines.amount_cents is distinct from entries.amount_cents
            """
        ).fetchall()
        problems += [f"payout entry differs from its line: {row}" for row in rows]
    finally:
        con.close()
    return problems


def ledger_entries(warehouse: Path) -> dict[str, tuple]:
    if not warehouse.exists():
        return {}
    con = connect(warehouse, read_only=True)
    try:
        return {
            row[0]: row[1:]
            for row in con.execute(
                "select entry_id, entry_type, amount_cents, recorded_at, partner_id "
                "from fct_ledger_entries where entry_type != 'payout'"
            ).fetchall()
        }
    finally:
        con.close()


def test_the_ledger_identity_holds_at_every_step(
    prefect_harness, example: Path, tmp_path_factory
) -> None:
    from flows.nightly import nightly_settlement

    customers = _customers(example / "landing")
    counter = iter(range(1, 10**9))
    steps: dict[str, int] = {}  # how often each rule ran, over every sequence

    class Ledger(RuleBasedStateMachine):
        charges = Bundle("charges")
        refunds = Bundle("refunds")

        @initialize()
        def start(self) -> None:
            self.root = tmp_path_factory.mktemp("ledger_machine")
            self.landing = self.root / "landing"
            shutil.copytree(example / "landing", self.landing)
            self.stripe = self.landing / "stripe"
            self.warehouse = self.root / "warehouse" / "ledger.duckdb"
            self.night = FIRST_NIGHT
            self.nights_run = 0
            self.seen: dict[str, tuple] = {}
            self.delivered = 0  # objects delivered since the last night

        def _count(self, name: str) -> None:
            steps[name] = steps.get(name, 0) + 1
            self.delivered += name != "run_night"

        def teardown(self) -> None:
            if self.delivered:  # what the last steps delivered is settled too
                self.run_night(7)
                assert ledger_identity_problems(self.warehouse) == []

        def _day(self, days_before: int) -> date:
            return self.night - timedelta(days=days_before)

        def _pay(self, customer: str, amount: int, day: date) -> str:
            n = next(counter)
            invoice, charge = f"in_prop_{n}", f"ch_prop_{n}"
            _append(
                self.stripe / "invoices.jsonl",
                {
                    "id": invoice,
                    "object": "invoice",
                    "customer": customer,
                    "subscription": f"sub_{customer}",
                    "status": "paid",
                    "currency": "eur",
                    "amount_paid": amount,
                    "tax": 0,
                    "status_transitions": {"paid_at": _unix(day)},
                    "charge": charge,
                    "discount": None,
                    "metadata": {},
                    "subscription_details": {"metadata": {}},
                },
            )
            _append(
                self.stripe / "charges.jsonl",
                {
                    "id": charge,
                    "object": "charge",
                    "invoice": invoice,
                    "customer": customer,
                    "amount": amount,
                    "currency": "eur",
                    "status": "succeeded",
                    "paid": True,
                    "created": _unix(day),
                    "metadata": {},
                },
            )
            return charge

        @rule(
            target=charges,
            customer=st.sampled_from(customers),
            amount=st.integers(min_value=100, max_value=50_000),
        )
        def paid(self, customer: str, amount: int):
            self._count("paid")
            return (self._pay(customer, amount, self._day(1)), amount)

        @rule(
            target=charges,
            customer=st.sampled_from(customers),
            amount=st.integers(min_value=100, max_value=50_000),
            weeks=st.integers(min_value=2, max_value=8),
        )
        def late_row(self, customer: str, amount: int, weeks: int):
            """A payment delivered weeks after it happened (possibly in a closed period)."""
            self._count("late_row")
            day = max(self._day(7 * weeks), date(2025, 3, 1))
            return (self._pay(customer, amount, day), amount)

        @rule(target=refunds, charge=charges, share=st.sampled_from([1, 2, 4]))
        def refund(self, charge: tuple[str, int], share: int):
            self._count("refund")
            charge_id, amount = charge
            refund_id = f"re_prop_{next(counter)}"
            body = {
                "id": refund_id,
                "object": "refund",
                "charge": charge_id,
                "amount": max(amount // share, 1),
                "currency": "eur",
                "status": "succeeded",
                "created": _unix(self._day(1), 15),
            }
            _append(self.stripe / "refunds.jsonl", body)
            return body

        @rule(refund=refunds)
        def failed_refund(self, refund: dict) -> None:
            """The refund fails later: its newer line supersedes (SPEC §1.2)."""
            self._count("failed_refund")
            _append(self.stripe / "refunds.jsonl", refund | {"status": "failed"})

        @rule(charge=charges)
        def lost_dispute(self, charge: tuple[str, int]) -> None:
            self._count("lost_dispute")
            charge_id, amount = charge
            _append(
                self.stripe / "disputes.jsonl",
                {
                    "id": f"dp_prop_{next(counter)}",
                    "object": "dispute",
                    "charge": charge_id,
                    "amount": amount,
                    "currency": "eur",
                    "status": "lost",
                    "created": _unix(self._day(1), 18),
                },
            )

        @precondition(lambda self: self.delivered > 0)  # every night has something new
        @rule(days=st.integers(min_value=7, max_value=24))
        def run_night(self, days: int) -> None:
            self._count("run_night")
            self.night += timedelta(days=days)
            nightly_settlement(
                as_of=self.night,
                landing=self.landing,
                rules=example / "rules",
                warehouse=self.warehouse,
                out=self.root / "out",
            )
            self.nights_run += 1
            self.delivered = 0
            after = ledger_entries(self.warehouse)
            changed = {key: value for key, value in self.seen.items() if after.get(key) != value}
            assert changed == {}, f"entries changed or lost on {self.night}: {changed}"
            self.seen = after

        @invariant()
        def identity(self) -> None:
            if self.nights_run:
                assert ledger_identity_problems(self.warehouse) == []

    run_state_machine_as_test(
        Ledger,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=False,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print(f"ledger state machine: {steps}")
    assert steps.get("run_night", 0) >= 2  # the invariants were checked after real nights


@pytest.mark.parametrize("broken", ["line", "entry"])
def test_the_identity_check_sees_a_broken_ledger(
    example_three_nights: Path, tmp_path: Path, broken: str
) -> None:
    """The check above can fail: one cent more on a payout line, or one entry changed."""
    warehouse = tmp_path / "example.duckdb"
    shutil.copyfile(example_three_nights / "warehouse" / "example.duckdb", warehouse)
    assert ledger_identity_problems(warehouse) == []
    con = connect(warehouse)
    try:
        if broken == "line":
            con.execute(
                "update fct_payout_lines set amount_cents = amount_cents + 1 "
                "where partner_id = 'pt_mira'"
            )
        else:
            con.execute(
                "update fct_ledger_entries set amount_cents = amount_cents + 1 "
                "where entry_type = 'payout' and partner_id = 'pt_noah'"
            )
    finally:
        con.close()
    assert ledger_identity_problems(warehouse) != []
