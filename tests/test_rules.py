"""The rules folder is validated before anything is computed (SPEC §1.3, §2.9's IBAN rule)."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from partner_ledger.rules.payout_details import is_valid_iban
from partner_ledger.rules.validate import (
    RuleProblem,
    RulesError,
    RulesSummary,
    is_valid_bic,
    validate_rules,
)

# the shared example, beside the repository (/work/shared next to /work/main)
EXAMPLE_RULES = Path(__file__).resolve().parents[2] / "shared/examples/three_partners/rules"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """A copy of the example rules folder, to break one file at a time."""
    target = tmp_path / "rules"
    shutil.copytree(EXAMPLE_RULES, target)
    return target


def write(rules: Path, name: str, text: str) -> None:
    (rules / name).write_text(text, encoding="utf-8")


def replace(rules: Path, name: str, old: str, new: str) -> None:
    text = (rules / name).read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    (rules / name).write_text(text.replace(old, new, 1), encoding="utf-8")


def append(rules: Path, name: str, line: str) -> None:
    with (rules / name).open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def refused(rules: Path) -> RulesError:
    with pytest.raises(RulesError) as caught:
        validate_rules(rules)
    return caught.value


def message_lines(rules: Path) -> list[str]:
    return str(refused(rules)).splitlines()


def only_problem(rules: Path) -> str:
    lines = message_lines(rules)
    assert len(lines) == 1, lines
    return lines[0]


# --------------------------------------------------------------------------------------------
# The example folder


def test_example_folder_validates() -> None:
    summary = validate_rules(EXAMPLE_RULES)
    assert summary == RulesSummary(
        program_ids=("prog_lumen",),
        currencies={"prog_lumen": "EUR"},
        default_program_id="prog_lumen",
    )


def test_summary_is_frozen_and_read_only() -> None:
    summary = validate_rules(EXAMPLE_RULES)
    with pytest.raises(AttributeError):
        summary.default_program_id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        summary.currencies["prog_lumen"] = "USD"  # type: ignore[index]


def test_second_program_without_default(rules: Path) -> None:
    replace(rules, "programs.csv", ",true,", ",false,")
    append(rules, "programs.csv", "prog_b,B program,USD,0,1000,0,first_touch,false,,,")
    append(rules, "attribution_sources.csv", "prog_b,click,30,1")
    append(rules, "tiers.csv", "prog_b,base,1,0,0,30")
    append(rules, "phases.csv", "prog_b,all,1,")
    append(rules, "rates.csv", "prog_b,base,all,1000,2025-01-01")
    summary = validate_rules(rules)
    assert summary.program_ids == ("prog_lumen", "prog_b")
    assert dict(summary.currencies) == {"prog_lumen": "EUR", "prog_b": "USD"}
    assert summary.default_program_id is None


def test_header_columns_in_another_order_and_crlf_and_bom_are_accepted(rules: Path) -> None:
    write(
        rules,
        "phases.csv",
        "\ufeffphase,program_id,to_month,from_month\r\nintro,prog_lumen,1,1\r\n",
    )
    replace(rules, "rates.csv", "prog_lumen,standard,ongoing,2000,2025-01-01\n", "")
    replace(rules, "rates.csv", "prog_lumen,pro,ongoing,2500,2025-01-01\n", "")
    validate_rules(rules)


# --------------------------------------------------------------------------------------------
# The error itself


def test_error_lists_every_problem_as_file_row_problem() -> None:
    error = RulesError(
        [
            RuleProblem("programs.csv", 2, "currency 'eur' is not a currency code"),
            RuleProblem("rates.csv", None, "no rate for tier 'pro'"),
            RuleProblem("tiers.csv", 1, "missing column(s) rank"),
        ]
    )
    assert isinstance(error, ValueError)
    assert str(error).splitlines() == [
        "programs.csv line 2: currency 'eur' is not a currency code",
        "rates.csv: no rate for tier 'pro'",
        "tiers.csv line 1: missing column(s) rank",
    ]
    copy = pickle.loads(pickle.dumps(error))
    assert copy.problems == error.problems
    assert str(copy) == str(error)


def test_several_problems_are_reported_together(rules: Path) -> None:
    replace(rules, "programs.csv", ",EUR,", ",eur,")
    replace(rules, "attribution_sources.csv", "click,14,3", "click,14,2")
    write(rules, "phases.csv", "program_id,phase,from_month,to_month\nprog_lumen,intro,1,3\n")
    append(rules, "phases.csv", "prog_lumen,ongoing,2,")
    replace(rules, "fx_rates.csv", "0.92", "-0.92")
    error = refused(rules)
    assert [(p.file, p.line) for p in error.problems] == [
        ("programs.csv", 2),
        ("attribution_sources.csv", 4),
        ("phases.csv", 3),
        ("fx_rates.csv", 2),
    ]
    text = str(error)
    assert "programs.csv line 2: currency 'eur' is not a currency code" in text
    assert "attribution_sources.csv line 4: priority 2 of source 'click'" in text
    assert "phases.csv line 3: phase 'ongoing' (months 2-open) overlaps" in text
    assert "fx_rates.csv line 2: rate '-0.92'" not in text
    assert "fx_rates.csv line 2: rate -0.92 is not greater than 0" in text


def test_not_a_folder(tmp_path: Path) -> None:
    error = refused(tmp_path / "nowhere")
    assert str(error) == f"{tmp_path / 'nowhere'}: is not a folder; expected a rules folder"


# --------------------------------------------------------------------------------------------
# Files, headers and CSV shape


def test_missing_file(rules: Path) -> None:
    (rules / "fx_rates.csv").unlink()
    assert only_problem(rules) == (
        f"fx_rates.csv: file is missing from {rules}; expected the columns "
        "from_currency, to_currency, valid_from, rate"
    )


def test_all_files_missing_are_all_reported(tmp_path: Path) -> None:
    lines = message_lines(tmp_path)
    assert [line.split(":")[0] for line in lines] == [
        "programs.csv",
        "attribution_sources.csv",
        "tiers.csv",
        "phases.csv",
        "rates.csv",
        "fx_rates.csv",
    ]


def test_empty_file(rules: Path) -> None:
    write(rules, "fx_rates.csv", "")
    assert only_problem(rules).startswith("fx_rates.csv: file is empty; expected the columns")


def test_header_with_missing_and_unknown_columns(rules: Path) -> None:
    write(
        rules,
        "attribution_sources.csv",
        "program_id,source,window,priority\nprog_lumen,coupon,0,1\n",
    )
    lines = message_lines(rules)
    assert lines == [
        "attribution_sources.csv line 1: missing column(s) window_days; "
        "expected program_id, source, window_days, priority",
        "attribution_sources.csv line 1: unknown column(s) 'window'; "
        "expected program_id, source, window_days, priority",
    ]


def test_header_with_a_duplicated_column(rules: Path) -> None:
    write(rules, "fx_rates.csv", "from_currency,to_currency,valid_from,rate,rate\n")
    assert only_problem(rules) == "fx_rates.csv line 1: column 'rate' appears twice"


def test_unknown_extra_column_alone_still_checks_rows(rules: Path) -> None:
    write(rules, "fx_rates.csv", "from_currency,to_currency,valid_from,rate,note\nUSD,EUR,x,1,hi\n")
    assert message_lines(rules) == [
        "fx_rates.csv line 1: unknown column(s) 'note'; "
        "expected from_currency, to_currency, valid_from, rate",
        "fx_rates.csv line 2: valid_from 'x' is not a valid date; expected a date YYYY-MM-DD",
    ]


def test_not_utf8(rules: Path) -> None:
    (rules / "programs.csv").write_bytes(
        (rules / "programs.csv")
        .read_text(encoding="utf-8")
        .replace("B.V.", "B.V. Ä")
        .encode("latin-1")
    )
    assert only_problem(rules) == (
        "programs.csv: is not valid UTF-8 (byte 0xc4 on line 2); save it as UTF-8"
    )


def test_wrong_number_of_fields(rules: Path) -> None:
    append(rules, "fx_rates.csv", "GBP,EUR,2025-01-01,1.17,extra")
    assert only_problem(rules) == (
        "fx_rates.csv line 3: has 5 fields, the header has 4; "
        "check for a missing field or an unquoted comma"
    )


def test_malformed_quoting(rules: Path) -> None:
    append(rules, "fx_rates.csv", 'GBP,EUR,2025-01-01,"1.17"x')
    problem = only_problem(rules)
    assert problem.startswith("fx_rates.csv line 3: is not valid CSV (")
    assert problem.endswith("the lines after it were not checked")


def test_problems_name_the_files_own_lines(rules: Path) -> None:
    """Line numbers as an editor shows them: the header is line 1, and a record whose quoted
    field holds a line break moves the records after it down by one line."""
    replace(rules, "programs.csv", "Lumen Notes partner program", '"Lumen Notes\npartner program"')
    replace(rules, "programs.csv", ",EUR,", ",eur,")
    append(rules, "programs.csv", "prog_b,B,USD,7,2500,500,sometimes,false,,,")
    assert message_lines(rules)[:2] == [
        "programs.csv line 2: currency 'eur' is not a currency code; expected a three-letter "
        "upper-case currency code such as EUR",
        "programs.csv line 4: attribution_model 'sometimes' is not allowed; expected one of "
        "last_touch, first_touch",
    ]


def test_blank_line_is_skipped_but_keeps_line_numbers(rules: Path) -> None:
    append(rules, "fx_rates.csv", "")
    append(rules, "fx_rates.csv", "GBP,EUR,2025-01-01,abc")
    assert only_problem(rules).startswith("fx_rates.csv line 4: rate 'abc' is not a plain decimal")


def test_surrounding_spaces(rules: Path) -> None:
    replace(rules, "fx_rates.csv", "USD,EUR", "USD, EUR")
    assert (
        only_problem(rules)
        == "fx_rates.csv line 2: to_currency ' EUR' has leading or trailing spaces"
    )


# --------------------------------------------------------------------------------------------
# programs.csv


PROGRAMS_HEADER = (
    "program_id,name,currency,hold_days,min_payout_cents,referral_rate_bps,"
    "attribution_model,is_default,debtor_name,debtor_iban,debtor_bic\n"
)
LUMEN = (
    "prog_lumen,Lumen Notes partner program,EUR,7,2500,500,last_touch,true,"
    "Lumen Notes B.V.,NL44RABO0123456789,RABONL2U\n"
)


def test_two_defaults_are_refused(rules: Path) -> None:
    append(rules, "programs.csv", "prog_b,B program,USD,0,0,0,last_touch,TRUE,,,")
    append(rules, "tiers.csv", "prog_b,base,1,0,0,30")
    append(rules, "phases.csv", "prog_b,all,1,")
    append(rules, "rates.csv", "prog_b,base,all,1000,2025-01-01")
    assert only_problem(rules) == (
        "programs.csv line 3: is_default is true, but program 'prog_lumen' at line 2 is already "
        "the default; expected at most one default program"
    )


def test_duplicate_program_id(rules: Path) -> None:
    write(rules, "programs.csv", PROGRAMS_HEADER + LUMEN + LUMEN.replace(",true,", ",false,"))
    assert only_problem(rules) == (
        "programs.csv line 3: program_id 'prog_lumen' is already used at line 2; "
        "expected one row a program"
    )


def test_no_programs(rules: Path) -> None:
    write(rules, "programs.csv", PROGRAMS_HEADER)
    lines = message_lines(rules)
    assert lines[0] == "programs.csv: has no programs; expected at least one row"
    # every row of the other files now names an unknown program
    assert "tiers.csv line 2: program_id 'prog_lumen' is not a program of programs.csv" in lines


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            ",EUR,",
            ",eur,",
            "currency 'eur' is not a currency code; "
            "expected a three-letter upper-case currency code such as EUR",
        ),
        (
            ",EUR,",
            ",EURO,",
            "currency 'EURO' is not a currency code; "
            "expected a three-letter upper-case currency code such as EUR",
        ),
        (
            ",EUR,",
            ",,",
            "currency is empty; expected a three-letter upper-case currency code such as EUR",
        ),
        (
            ",EUR,",
            ",XYZ,",
            "currency 'XYZ' is not an ISO 4217 currency code; expected a code of the ISO 4217 "
            "list such as EUR, USD or GBP",
        ),
        (
            ",EUR,",
            ",XTS,",
            "currency 'XTS' is not an ISO 4217 currency code; expected a code of the ISO 4217 "
            "list such as EUR, USD or GBP",
        ),
        (
            "prog_lumen,Lumen",
            "p" * 65 + ",Lumen",
            "program_id of 65 characters is too long; expected at most 64 (it names the payout "
            "folder)",
        ),
        (
            "prog_lumen,Lumen",
            "lumen\x01,Lumen",
            "program_id 'lumen\\x01' is not allowed; expected letters, digits, _ . - starting "
            "with a letter or digit (it names the payout folder)",
        ),
        (",7,2500,", ",-1,2500,", "hold_days -1 is negative; expected a whole number >= 0"),
        (",7,2500,", ",,2500,", "hold_days is empty; expected a whole number >= 0"),
        (
            ",2500,500,",
            ",25.00,500,",
            "min_payout_cents '25.00' is not a whole number; expected a whole number >= 0",
        ),
        (
            ",500,last",
            ",10001,last",
            "referral_rate_bps 10001 is above 10000; expected a whole number 0..10000",
        ),
        (
            "last_touch",
            "linear",
            "attribution_model 'linear' is not allowed; expected one of last_touch, first_touch",
        ),
        (",true,", ",1,", "is_default '1' is not allowed; expected true or false"),
        (",true,", ",,", "is_default is empty; expected true or false"),
        ("Lumen Notes partner program", "", "name is empty; expected a name"),
        (
            "prog_lumen,Lumen",
            "../lumen,Lumen",
            "program_id '../lumen' is not allowed; expected letters, digits, _ . - starting "
            "with a letter or digit (it names the payout folder)",
        ),
    ],
)
def test_program_field_problems(rules: Path, old: str, new: str, expected: str) -> None:
    replace(rules, "programs.csv", old, new)
    lines = message_lines(rules)
    assert lines[0] == f"programs.csv line 2: {expected}"
    if "program_id" not in expected:
        assert len(lines) == 1, lines


def test_a_64_character_program_id_is_accepted(rules: Path) -> None:
    program_id = "p" * 64
    for name in ("programs.csv", "attribution_sources.csv", "tiers.csv", "phases.csv", "rates.csv"):
        text = (rules / name).read_text(encoding="utf-8")
        (rules / name).write_text(text.replace("prog_lumen", program_id), encoding="utf-8")
    assert validate_rules(rules).program_ids == (program_id,)


def test_fx_rate_currencies_must_be_iso_4217(rules: Path) -> None:
    append(rules, "fx_rates.csv", "ABC,EUR,2025-01-01,1.1")
    assert only_problem(rules) == (
        "fx_rates.csv line 3: from_currency 'ABC' is not an ISO 4217 currency code; expected a "
        "code of the ISO 4217 list such as EUR, USD or GBP"
    )


def test_debtor_name_with_a_control_character_is_refused(rules: Path) -> None:
    text = (rules / "programs.csv").read_text(encoding="utf-8").splitlines()
    header, row = text[0].split(","), text[1].split(",")
    row[header.index("debtor_name")] = "Lumen\x00Notes"
    write(rules, "programs.csv", ",".join(header) + "\n" + ",".join(row) + "\n")
    assert only_problem(rules) == (
        "programs.csv line 2: debtor_name 'Lumen\\x00Notes' holds a control character; "
        "expected printable text (it is written into the SEPA file)"
    )


def test_is_default_accepts_any_case(rules: Path) -> None:
    replace(rules, "programs.csv", ",true,", ",True,")
    assert validate_rules(rules).default_program_id == "prog_lumen"


def test_invalid_debtor_iban_on_eur_program(rules: Path) -> None:
    replace(rules, "programs.csv", "NL44RABO0123456789", "NL45RABO0123456789")
    assert only_problem(rules) == (
        "programs.csv line 2: debtor_iban 'NL45RABO0123456789' is not a valid IBAN: it fails "
        "the ISO 13616 mod-97 check (a mistyped or swapped character?)"
    )


def test_debtor_iban_with_spaces_and_lower_case_is_accepted(rules: Path) -> None:
    replace(rules, "programs.csv", "NL44RABO0123456789", "nl44 rabo 0123 4567 89")
    validate_rules(rules)


def test_eur_program_needs_its_debtor_account(rules: Path) -> None:
    replace(rules, "programs.csv", "Lumen Notes B.V.,NL44RABO0123456789,RABONL2U", ",,")
    assert message_lines(rules) == [
        "programs.csv line 2: debtor_name is empty; expected the account holder's name "
        "(a EUR program pays by SEPA transfer from this account)",
        "programs.csv line 2: debtor_iban is empty; expected a valid IBAN "
        "(a EUR program pays by SEPA transfer from this account)",
        "programs.csv line 2: debtor_bic is empty; expected a BIC (ISO 9362): 4-letter bank code, "
        "2-letter country, 2-character location, optional 3-character branch "
        "(a EUR program pays by SEPA transfer from this account)",
    ]


def test_invalid_debtor_bic(rules: Path) -> None:
    replace(rules, "programs.csv", "RABONL2U", "RABO2LNU")
    assert only_problem(rules).startswith(
        "programs.csv line 2: debtor_bic 'RABO2LNU' is not a valid BIC; expected a BIC (ISO 9362)"
    )


def test_non_eur_program_may_leave_debtor_empty_but_not_fill_it_wrong(rules: Path) -> None:
    replace(rules, "programs.csv", ",EUR,", ",USD,")
    replace(rules, "programs.csv", "Lumen Notes B.V.,NL44RABO0123456789,RABONL2U", ",,")
    validate_rules(rules)
    replace(rules, "programs.csv", ",,\n", ",US12,\n")
    assert only_problem(rules) == (
        "programs.csv line 2: debtor_iban 'US12' is not a valid IBAN: it has 0 letters or digits "
        "after the check digits; expected 11 to 30"
    )


# --------------------------------------------------------------------------------------------
# attribution_sources.csv


def test_two_sources_with_the_same_priority(rules: Path) -> None:
    replace(rules, "attribution_sources.csv", "click,14,3", "click,14,2")
    assert only_problem(rules) == (
        "attribution_sources.csv line 4: priority 2 of source 'click' is already the priority of "
        "'lead_form' at line 3 in program 'prog_lumen'; expected distinct priorities within a "
        "program"
    )


def test_source_listed_twice(rules: Path) -> None:
    append(rules, "attribution_sources.csv", "prog_lumen,click,30,4")
    assert only_problem(rules) == (
        "attribution_sources.csv line 5: source 'click' of program 'prog_lumen' is already set at "
        "line 4; expected one row per program and source"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "prog_lumen,coupon",
            "prog_x,coupon",
            "program_id 'prog_x' is not a program of programs.csv",
        ),
        (
            "coupon,0,1",
            "voucher,0,1",
            "source 'voucher' is not allowed; expected one of coupon, lead_form, click",
        ),
        ("coupon,0,1", "coupon,-3,1", "window_days -3 is negative; expected a whole number >= 0"),
        ("coupon,0,1", "coupon,0,0", "priority 0 is below 1; expected a whole number >= 1"),
        ("coupon,0,1", "coupon,0,", "priority is empty; expected a whole number >= 1"),
    ],
)
def test_source_field_problems(rules: Path, old: str, new: str, expected: str) -> None:
    replace(rules, "attribution_sources.csv", old, new)
    assert only_problem(rules) == f"attribution_sources.csv line 2: {expected}"


def test_program_without_sources_is_accepted(rules: Path) -> None:
    write(rules, "attribution_sources.csv", "program_id,source,window_days,priority\n")
    validate_rules(rules)


# --------------------------------------------------------------------------------------------
# tiers.csv


TIERS_HEADER = "program_id,tier,rank,min_customers,min_revenue_cents,lookback_days\n"


def test_ranks_not_starting_at_1(rules: Path) -> None:
    write(
        rules,
        "tiers.csv",
        TIERS_HEADER + "prog_lumen,standard,2,0,0,45\nprog_lumen,pro,3,3,40000,45\n",
    )
    assert only_problem(rules) == (
        "tiers.csv: ranks of program 'prog_lumen' are 2, 3; expected 1, 2 "
        "(rank 1 is the base tier, then no gaps)"
    )


def test_ranks_with_a_gap(rules: Path) -> None:
    replace(rules, "tiers.csv", "pro,2,", "pro,3,")
    assert only_problem(rules) == (
        "tiers.csv: ranks of program 'prog_lumen' are 1, 3; expected 1, 2 "
        "(rank 1 is the base tier, then no gaps)"
    )


def test_duplicate_rank(rules: Path) -> None:
    replace(rules, "tiers.csv", "pro,2,3,40000", "pro,1,0,0")
    assert only_problem(rules) == (
        "tiers.csv line 3: rank 1 is already the rank of tier 'standard' at line 2 in program "
        "'prog_lumen'; expected one tier per rank"
    )


def test_base_tier_with_requirements(rules: Path) -> None:
    replace(rules, "tiers.csv", "standard,1,0,0,", "standard,1,1,100,")
    assert message_lines(rules) == [
        "tiers.csv line 2: min_customers is 1 on rank 1, the base tier, which has no "
        "requirements; expected 0",
        "tiers.csv line 2: min_revenue_cents is 100 on rank 1, the base tier, which has no "
        "requirements; expected 0",
    ]


def test_duplicate_tier_name(rules: Path) -> None:
    replace(rules, "tiers.csv", "prog_lumen,pro,2", "prog_lumen,standard,2")
    assert message_lines(rules)[0] == (
        "tiers.csv line 3: tier 'standard' of program 'prog_lumen' is already defined at line 2; "
        "expected unique tier names within a program"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (",0,0,45", ",0,-1,45", "min_revenue_cents -1 is negative; expected a whole number >= 0"),
        (",0,0,45", ",,0,45", "min_customers is empty; expected a whole number >= 0"),
        (
            ",0,0,45",
            ",0,0," + "9" * 5000,
            f"lookback_days '{'9' * 5000}' is not a whole number; expected a whole number >= 0",
        ),
    ],
)
def test_tier_field_problems(rules: Path, old: str, new: str, expected: str) -> None:
    replace(rules, "tiers.csv", old, new)
    assert only_problem(rules) == f"tiers.csv line 2: {expected}"


def test_base_tier_lookback_0_is_accepted(rules: Path) -> None:
    """Rank 1 has no requirements: its window counts nothing, and 0 is what finance writes."""
    replace(rules, "tiers.csv", "standard,1,0,0,45", "standard,1,0,0,0")
    validate_rules(rules)


def test_lookback_0_above_the_base_tier_is_refused(rules: Path) -> None:
    replace(rules, "tiers.csv", "pro,2,3,40000,45", "pro,2,3,40000,0")
    assert only_problem(rules) == (
        "tiers.csv line 3: lookback_days 0 is below 1; expected a whole number >= 1 on a tier "
        "above rank 1 (a lookback window of 0 days would count nothing; write the window the "
        "requirements are measured over)"
    )


def test_program_without_tiers(rules: Path) -> None:
    write(rules, "tiers.csv", TIERS_HEADER)
    lines = message_lines(rules)
    assert lines[0] == (
        "tiers.csv: program 'prog_lumen' has no tiers; expected at least its base tier "
        "(rank 1, no requirements)"
    )
    # the rates of its tiers are then reported as well
    assert lines[1] == (
        "rates.csv line 2: tier 'standard' is not a tier of program 'prog_lumen' in tiers.csv; "
        "expected one of (none)"
    )


# --------------------------------------------------------------------------------------------
# phases.csv


PHASES_HEADER = "program_id,phase,from_month,to_month\n"


def test_overlapping_phases(rules: Path) -> None:
    replace(rules, "phases.csv", "intro,1,1", "intro,1,2")
    assert only_problem(rules) == (
        "phases.csv line 3: phase 'ongoing' (months 2-open) overlaps phase 'intro' (months 1-2) "
        "at line 2 in program 'prog_lumen'; expected phases that share no month"
    )


def test_open_ended_phase_overlaps_anything_after_its_start(rules: Path) -> None:
    append(rules, "phases.csv", "prog_lumen,loyalty,24,36")
    append(rules, "rates.csv", "prog_lumen,standard,loyalty,1000,2025-01-01")
    append(rules, "rates.csv", "prog_lumen,pro,loyalty,1500,2025-01-01")
    assert only_problem(rules) == (
        "phases.csv line 4: phase 'loyalty' (months 24-36) overlaps phase 'ongoing' "
        "(months 2-open) at line 3 in program 'prog_lumen'; expected phases that share no month"
    )


def test_gap_between_phases_is_accepted(rules: Path) -> None:
    replace(rules, "phases.csv", "ongoing,2,", "ongoing,4,")
    validate_rules(rules)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("intro,1,1", "intro,0,1", "from_month 0 is below 1; expected a whole number >= 1"),
        ("intro,1,1", "intro,,1", "from_month is empty; expected a whole number >= 1"),
        (
            "intro,1,1",
            "intro,1,x",
            "to_month 'x' is not a whole number; expected a whole number >= 1",
        ),
        (
            "ongoing,2,",
            "ongoing,2,1",
            "to_month 1 is before from_month 2; expected to_month >= from_month (inclusive), "
            "or empty for an open-ended phase",
        ),
    ],
)
def test_phase_field_problems(rules: Path, old: str, new: str, expected: str) -> None:
    replace(rules, "phases.csv", old, new)
    line = 2 if "intro" in old else 3
    assert only_problem(rules) == f"phases.csv line {line}: {expected}"


def test_duplicate_phase_name(rules: Path) -> None:
    append(rules, "phases.csv", "prog_lumen,intro,30,40")
    assert only_problem(rules) == (
        "phases.csv line 4: phase 'intro' of program 'prog_lumen' is already defined at line 2; "
        "expected unique phase names within a program"
    )


def test_program_without_phases(rules: Path) -> None:
    write(rules, "phases.csv", PHASES_HEADER)
    assert message_lines(rules)[0] == (
        "phases.csv: program 'prog_lumen' has no phases; expected at least one "
        "(no phase, no commission)"
    )


# --------------------------------------------------------------------------------------------
# rates.csv


def test_tier_and_phase_without_a_rate(rules: Path) -> None:
    replace(rules, "rates.csv", "prog_lumen,pro,ongoing,2500,2025-01-01\n", "")
    assert only_problem(rules) == (
        "rates.csv: no rate for tier 'pro' in phase 'ongoing' of program 'prog_lumen'; "
        "expected at least one row for every tier and phase"
    )


def test_negative_rate(rules: Path) -> None:
    replace(rules, "rates.csv", "intro,3500,", "intro,-3500,")
    assert only_problem(rules) == (
        "rates.csv line 2: rate_bps -3500 is negative; expected a whole number 0..10000"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "intro,3500,",
            "intro,10001,",
            "rate_bps 10001 is above 10000; expected a whole number 0..10000",
        ),
        (
            "intro,3500,",
            "intro,35%,",
            "rate_bps '35%' is not a whole number; expected a whole number 0..10000",
        ),
        (
            "3500,2025-01-01",
            "3500,2025-02-30",
            "valid_from '2025-02-30' is not a valid date; expected a date YYYY-MM-DD",
        ),
        (
            "3500,2025-01-01",
            "3500,01/01/2025",
            "valid_from '01/01/2025' is not a valid date; expected a date YYYY-MM-DD",
        ),
        (
            "3500,2025-01-01",
            "3500,20250101",
            "valid_from '20250101' is not a valid date; expected a date YYYY-MM-DD",
        ),
    ],
)
def test_rate_field_problems(rules: Path, old: str, new: str, expected: str) -> None:
    replace(rules, "rates.csv", old, new)
    assert only_problem(rules) == f"rates.csv line 2: {expected}"


def test_rate_for_unknown_tier_or_phase(rules: Path) -> None:
    append(rules, "rates.csv", "prog_lumen,gold,intro,5000,2025-01-01")
    append(rules, "rates.csv", "prog_lumen,pro,trial,5000,2025-01-01")
    append(rules, "rates.csv", "prog_other,pro,intro,5000,2025-01-01")
    assert message_lines(rules) == [
        "rates.csv line 6: tier 'gold' is not a tier of program 'prog_lumen' in tiers.csv; "
        "expected one of standard, pro",
        "rates.csv line 7: phase 'trial' is not a phase of program 'prog_lumen' in phases.csv; "
        "expected one of intro, ongoing",
        "rates.csv line 8: program_id 'prog_other' is not a program of programs.csv",
    ]


def test_duplicate_rate_version(rules: Path) -> None:
    append(rules, "rates.csv", "prog_lumen,pro,intro,4000,2025-01-01")
    assert only_problem(rules) == (
        "rates.csv line 6: a rate for program 'prog_lumen', tier 'pro', phase 'intro' valid from "
        "2025-01-01 is already set at line 4; expected one rate per program, tier, phase and "
        "valid_from"
    )


def test_later_rate_version_is_accepted(rules: Path) -> None:
    append(rules, "rates.csv", "prog_lumen,pro,intro,4000,2025-06-01")
    validate_rules(rules)


# --------------------------------------------------------------------------------------------
# fx_rates.csv


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "USD,EUR",
            "usd,EUR",
            "from_currency 'usd' is not a currency code; "
            "expected a three-letter upper-case currency code such as EUR",
        ),
        (
            "USD,EUR",
            "EUR,EUR",
            "from_currency and to_currency are both EUR; expected two currencies",
        ),
        (
            "0.92",
            "nan",
            "rate 'nan' is not a plain decimal number; "
            "expected a plain decimal number greater than 0, such as 0.92",
        ),
        (
            "0.92",
            "9.2e-1",
            "rate '9.2e-1' is not a plain decimal number; "
            "expected a plain decimal number greater than 0, such as 0.92",
        ),
        (
            "0.92",
            ".92",
            "rate '.92' is not a plain decimal number; "
            "expected a plain decimal number greater than 0, such as 0.92",
        ),
        (
            "0.92",
            "0.000",
            "rate 0.000 is not greater than 0; "
            "expected a plain decimal number greater than 0, such as 0.92",
        ),
        (
            "0.92",
            "",
            "rate is empty; expected a plain decimal number greater than 0, such as 0.92",
        ),
        (
            "2025-01-01",
            "2025-13-01",
            "valid_from '2025-13-01' is not a valid date; expected a date YYYY-MM-DD",
        ),
    ],
)
def test_fx_rate_field_problems(rules: Path, old: str, new: str, expected: str) -> None:
    replace(rules, "fx_rates.csv", old, new)
    assert only_problem(rules) == f"fx_rates.csv line 2: {expected}"


def test_duplicate_fx_rate(rules: Path) -> None:
    append(rules, "fx_rates.csv", "USD,EUR,2025-01-01,0.93")
    append(rules, "fx_rates.csv", "USD,EUR,2025-02-01,0.93")
    assert only_problem(rules) == (
        "fx_rates.csv line 3: a rate USD->EUR valid from 2025-01-01 is already set at line 2; "
        "expected one rate per pair and valid_from"
    )


# --------------------------------------------------------------------------------------------
# IBAN and BIC


@pytest.mark.parametrize(
    "value",
    [
        "FR7630006000011234567890189",
        "fr76 3000 6000 0112 3456 7890 189",
        "NL44RABO0123456789",
        "DE89 3704 0044 0532 0130 00",
        "GB82WEST12345698765432",
        "NO9386011117947",  # the shortest: 11 characters after the check digits
        "LC55HEMM000100010012001200023015",
    ],
)
def test_valid_ibans(value: str) -> None:
    assert is_valid_iban(value)


@pytest.mark.parametrize(
    "value",
    [
        "fr76 3000 6000 0112 3456 7890 188",  # one digit changed
        "FR7630006000011234567890198",  # two digits swapped
        "NO938601111794",  # too short: 10 after the check digits
        "FR76" + "1" * 31,  # too long: 31 after the check digits
        "",
        "7630006000011234567890189FR",
        "FRXX30006000011234567890189",
        "FR76-3000-6000-0112-3456-7890-189",
        "FR76\t30006000011234567890189",
        "FR7630006000011234567890189ß",
    ],
)
def test_invalid_ibans(value: str) -> None:
    assert not is_valid_iban(value)


@pytest.mark.parametrize(
    "value", ["RABONL2U", "rabonl2u", "DEUTDEFF500", "deutdeff500", "NEDSZAJJ"]
)
def test_valid_bics(value: str) -> None:
    assert is_valid_bic(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "RABONL2",  # 7 characters
        "RABONL2UX",  # 9 characters
        "RABONL2U1234",  # 12 characters
        "RAB1NL2U",  # a digit in the bank code
        "RABON12U",  # a digit in the country
        "RABO NL2U",
        "DEUTDEFF50_",
    ],
)
def test_invalid_bics(value: str) -> None:
    assert not is_valid_bic(value)
