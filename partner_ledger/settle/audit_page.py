"""The audit's data-docs page that opens anywhere (issue 14): one self-contained HTML file.

Great Expectations' own site (``gx/uncommitted/data_docs``) loads Bootstrap, jQuery and its table
plugin from CDNs: offline its index is empty and unstyled. This page is written beside it from
the same validation results: every suite, each expectation with its outcome and what was
observed, and the review comparisons (partner_ledger.publish.review) row by row, with the batches held. No
script, no external style sheet, font or image; every value is escaped (Jinja autoescape).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, StrictUndefined


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    rows: int
    expectations: list[dict]  # type, arguments, success, observed


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Payout audit as of {{ as_of }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d1d1f; max-width: 72rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #116329; font-weight: 600; } .bad { color: #a40e26; font-weight: 600; }
code { font-size: .85rem; }
</style></head><body>
<h1>Payout audit as of {{ as_of }}</h1>
<p>Batches closed by this run: {{ batches | join(", ") }}.
{% if held %}<span class="bad">Held for review: {{ held | join(", ") }}</span> — their files wait
in <code>payouts/&lt;program&gt;/review/&lt;period&gt;/</code> until
<code>partner-ledger approve BATCH_ID --by NAME</code>.{% else %}
<span class="ok">No batch is held for review.</span>{% endif %}</p>
{% for outcome in suites %}
<h2 id="{{ outcome.suite }}">Suite {{ outcome.suite }} ({{ outcome.rows }} row(s))</h2>
<table><tr><th>expectation</th><th>arguments</th><th>outcome</th><th>observed</th></tr>
{% for item in outcome.expectations %}<tr><td><code>{{ item.type }}</code></td>
<td><code>{{ item.arguments }}</code></td>
<td class="{{ 'ok' if item.success else 'bad' }}">{{ 'passed' if item.success else 'failed' }}</td>
<td><code>{{ item.observed }}</code></td></tr>
{% endfor %}</table>
{% endfor %}
{% if review %}
<h2>Review comparisons (observed must not exceed limit)</h2>
<table><tr><th>batch</th><th>check</th><th>partner</th><th>observed</th><th>limit</th>
<th>compared with</th><th>outcome</th></tr>
{% for row in review %}<tr><td>{{ row.batch_id }}</td><td>{{ row.check }}</td>
<td>{{ row.partner_id or "" }}</td><td class="num">{{ row.observed }}</td>
<td class="num">{{ row.limit }}</td><td>{{ row.compared_with }}</td>
<td class="{{ 'bad' if row.observed > row.limit else 'ok' }}">
{{ 'held' if row.observed > row.limit else 'within' }}</td></tr>
{% endfor %}</table>
{% endif %}
<p>Great Expectations' own site (needs the internet for its styles):
<code>{{ gx_site }}</code></p>
</body></html>
"""


def outcome_of(suite: str, rows: int, validation) -> SuiteOutcome:
    """What the page shows of one GX validation result."""
    expectations = []
    for result in validation.results:
        config = result.expectation_config
        arguments = {key: value for key, value in config.kwargs.items() if key != "batch_id"}
        details = result.result or {}
        observed = details.get("observed_value")
        if observed is None:
            observed = (
                f"{details.get('unexpected_count', 0)} of {details.get('element_count', 0)} "
                "row(s) unexpected"
            )
        expectations.append(
            {
                "type": config.type,
                "arguments": arguments,
                "success": bool(result.success),
                "observed": observed,
            }
        )
    return SuiteOutcome(suite, rows, expectations)


def write_audit_page(
    path: Path,
    as_of: str,
    batches: tuple[str, ...],
    suites: list[SuiteOutcome],
    review: list[dict],
    held: list[str],
    gx_site: Path,
) -> Path:
    environment = Environment(autoescape=True, undefined=StrictUndefined)
    html = environment.from_string(TEMPLATE).render(
        as_of=as_of,
        batches=batches,
        suites=suites,
        review=review,
        held=held,
        gx_site=str(gx_site),
    )
    path.write_text(html, encoding="utf-8")
    return path
