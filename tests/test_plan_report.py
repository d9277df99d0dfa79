"""The migration plan report, built from real plan.json documents (tests/fixtures/plan/, see its README)."""

from __future__ import annotations

import copy
import html
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from reports.html import SHOWN_LINES
from reports.html import cell as html_cell
from reports.markdown import MAX_LINES_PER_CELL
from reports.markdown import cell as md_cell
from reports.plan_model import PlanFormatError
from reports.plan_report import write_plan_report

FIXTURES = Path(__file__).parent / "fixtures" / "plan"
DEMO, TIGHTENED, DEAD_SCOPE = "plan-demo.json", "plan-demo-tightened.json", "plan-dead-scope.json"
EXPECTED_CSV_COLUMNS = ["route", "authorization_type", "scopes", "token_use", "actions", "status", "reasons", "today",
                        "today_count", "after", "after_count", "gains", "loses", "policies", "backend_claims",
                        "proxy_integration"]
HOSTILE = '<script>alert(1)</script> & "Ops" Ünïcode|pipe'


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class Built:
    """The four outputs of one report, read back."""

    def __init__(self, document: dict[str, Any], folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.paths = write_plan_report(document, folder)
        self.md = (folder / "report.md").read_text(encoding="utf-8")
        self.html = (folder / "report.html").read_text(encoding="utf-8")
        self.csv = pd.read_csv(folder / "routes.csv", keep_default_na=False, dtype=str)
        self.json = json.loads((folder / "report.json").read_text(encoding="utf-8"))

    def md_section(self, heading: str) -> str:
        """The Markdown from a heading to the next heading of the same or a higher level."""
        level = heading.split(" ", 1)[0]
        start = self.md.index(heading + "\n")
        rest = self.md[start + len(heading):]
        ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", rest, flags=re.M)]
        return self.md[start:start + len(heading) + (ends[0] if ends else len(rest))]

    def html_section(self, anchor: str) -> str:
        start = self.html.index(f'<section id="{anchor}">')
        return self.html[start:self.html.index("</section>", start)]


@pytest.fixture(params=[DEMO, TIGHTENED, DEAD_SCOPE])
def fixture_doc(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load(request.param)


def build(document: dict[str, Any], tmp_path: Path, name: str = "plan") -> Built:
    return Built(document, tmp_path / name)


# --- files and summary -------------------------------------------------------------------------------------------

def test_writes_the_four_files_into_the_folder(fixture_doc: dict[str, Any], tmp_path: Path) -> None:
    built = build(fixture_doc, tmp_path)
    assert [p.name for p in built.paths] == ["report.md", "report.html", "routes.csv", "report.json"]
    assert all(p.parent == tmp_path / "plan" and p.stat().st_size > 0 for p in built.paths)
    assert sorted(p.name for p in (tmp_path / "plan").iterdir()) == sorted(p.name for p in built.paths)


def test_title_block_names_the_api_pool_and_inventory(fixture_doc: dict[str, Any], tmp_path: Path) -> None:
    built = build(fixture_doc, tmp_path)
    api, pool, inventory = fixture_doc["api"], fixture_doc["user_pool"], fixture_doc["inventory"]
    title = built.md.splitlines()[0]
    assert title.startswith("# ") and api["name"] in title and api["id"] in title and api["stage"] in title
    head = built.md[:built.md.index("## Summary")]
    for value in (pool["id"], pool["name"], fixture_doc["namespace"], fixture_doc["layout"], inventory["path"],
                  inventory["created_at"]):
        assert value in head
        assert html.escape(value) in built.html
    assert ("Tighten:** yes" in head) is fixture_doc["tighten"]


def test_summary_counts_equal_the_documents(fixture_doc: dict[str, Any], tmp_path: Path) -> None:
    built = build(fixture_doc, tmp_path)
    summary = built.md_section("## Summary")
    for status, count in fixture_doc["summary"].items():
        assert re.search(rf"^\| \*\*{re.escape(status)}\*\* +\| {count} +\|", summary, flags=re.M), status
        assert re.search(rf'<span class="badge \w+">{re.escape(status)}</span></td><td>{count}</td>', built.html)
    assert re.search(rf"^\| total +\| {len(fixture_doc['routes'])} +\|", summary, flags=re.M)
    assert built.json["summary"]["by_status"] == fixture_doc["summary"]
    assert built.json["summary"]["endpoints"] == len(fixture_doc["routes"])
    assert built.json["summary"]["equivalence"]["differences"] == len(fixture_doc["differences"])


def test_verdict_says_equivalent_or_counts_the_differences(tmp_path: Path) -> None:
    demo = build(load(DEMO), tmp_path, "demo").md_section("## Summary")
    tightened_doc = load(TIGHTENED)
    tightened = build(tightened_doc, tmp_path, "tightened").md_section("## Summary")
    assert "Equivalence: **equivalent**" in demo
    n = len(tightened_doc["differences"])
    assert n > 0
    assert f"Equivalence: **{n} differences** ({n} from --tighten, 0 unplanned)" in tightened
    assert f"{tightened_doc['equivalence']['decisions']:,} Cedar decisions" in tightened


# --- a row per endpoint ------------------------------------------------------------------------------------------

def test_every_route_appears_in_markdown_html_and_csv(fixture_doc: dict[str, Any], tmp_path: Path) -> None:
    built = build(fixture_doc, tmp_path)
    endpoints_md, endpoints_html = built.md_section("## Endpoints"), built.html_section("endpoints")
    for route in fixture_doc["routes"]:
        assert re.search(rf"^\| {re.escape(route['route'])} +\|", endpoints_md, flags=re.M), route["route"]
        assert f"<tr><td>{html.escape(route['route'])}</td>" in endpoints_html
    assert built.csv["route"].tolist() == [r["route"] for r in fixture_doc["routes"]]


def test_csv_parses_back_with_the_expected_columns(fixture_doc: dict[str, Any], tmp_path: Path) -> None:
    csv = build(fixture_doc, tmp_path).csv
    assert list(csv.columns) == EXPECTED_CSV_COLUMNS
    assert len(csv) == len(fixture_doc["routes"])
    for row, route in zip(csv.to_dict("records"), fixture_doc["routes"], strict=True):
        assert row["status"] == route["status"]
        assert row["authorization_type"] == route["authorization_type"]
        assert row["scopes"].split("; ") == route["scopes"] or (row["scopes"] == "" and not route["scopes"])
        assert int(row["today_count"]) == len(route["today"])
        assert int(row["after_count"]) == len(route["after"])
        assert all(p["label"] in row["today"] for p in route["today"])
        assert row["policies"] == "; ".join(route["policies"])


def test_endpoint_row_shows_who_today_with_examples_and_the_granting_policies(tmp_path: Path) -> None:
    document = load(DEMO)
    built = build(document, tmp_path)
    avp = next(r for r in document["routes"] if r["route"] == "GET /avp")
    line = next(li for li in built.md_section("## Endpoints").splitlines() if li.startswith("| GET /avp "))
    assert "group avp-group (e.g. alice)" in line and "groups {auditors, avp-group} (e.g. frank)" in line
    assert "same as today" in line
    assert all(policy in line for policy in avp["policies"])
    health = next(li for li in built.md.splitlines() if li.startswith("| GET /health "))
    assert "not migrated" in health and "**unchanged**" in health and "public (NONE)" in health


# --- differences -------------------------------------------------------------------------------------------------

def test_tightened_report_names_who_loses_and_marks_the_exposure_tightened(tmp_path: Path) -> None:
    document = load(TIGHTENED)
    built = build(document, tmp_path)
    losers = {u for d in document["differences"] if d["direction"] == "loses" for u in d["examples"]}
    assert losers == {"alice", "frank", "grace"}
    differences_md, differences_html = built.md_section("## Differences"), built.html_section("differences")
    for label in {d["principal_label"] for d in document["differences"]}:
        row = next(li for li in differences_md.splitlines() if f"| {label} " in li)
        assert "**loses**" in row and "GET /pets<br>GET /pets/{petId}" in row and "**tightened**" in row
        assert html.escape(label) in differences_html
    for user in losers:
        assert re.search(rf"^\| \*\*loses\*\* .*\| {user} +\|", differences_md, flags=re.M), user
        assert user in differences_html
    assert {g["cause"] for g in built.json["differences"]} == {"tightened"}

    exposures = built.md_section("### Latent exposures (2)")
    pets = next(li for li in exposures.splitlines() if "MyApi/pets.read" in li)
    assert "**tightened**" in pets and "web (be7fffe054174a90a753d0e4a7)" in pets
    assert "group avp-group (e.g. alice)" in pets and "users in no group" in pets
    row = next(r for r in built.json["findings"]["latent_exposures"] if r["scope"] == "MyApi/pets.read")
    assert row["outcome"] == "tightened" and row["routes"] == ["GET /pets", "GET /pets/{petId}"]
    pets_route = built.csv[built.csv["route"] == "GET /pets"].iloc[0]
    assert "group avp-group (e.g. alice)" in pets_route["loses"] and "alice" not in pets_route["after"]


def test_untightened_report_preserves_the_exposure_and_has_no_differences(tmp_path: Path) -> None:
    built = build(load(DEMO), tmp_path)
    assert "None: every principal class reaches exactly the endpoints it reaches today." in built.md
    assert built.json["differences"] == []
    pets = next(li for li in built.md_section("### Latent exposures (2)").splitlines() if "MyApi/pets.read" in li)
    assert "**preserved**" in pets
    scope = next(li for li in built.md_section("### Latent exposures (2)").splitlines() if "MyApi/scope.read" in li)
    assert "**no one exposed**" in scope


def test_a_loss_tightening_does_not_explain_and_a_gain_are_unplanned(tmp_path: Path) -> None:
    document = load(TIGHTENED)
    stray = copy.deepcopy(document["differences"][0])  # a loss of another scope: not the dropped exposure
    stray.update(route="POST /orders", verb="POST", action="post /orders", scopes=["MyApi/orders.write"],
                 principal="group:orders-team", principal_label="group orders-team", examples=[], flows=[])
    gain = {"route": "DELETE /pets/{petId}", "verb": "DELETE", "action": "delete /pets/{petId}",
            "principal": "user:e02c6dd7-fbe8-491b-a7bf-bbd788489dee", "principal_label": "user heidi",
            "direction": "gains", "examples": ["heidi"], "policies": ["rule pets-readers: group pets-readers"],
            "scopes": [], "flows": []}
    document["differences"] += [stray, gain]
    built = build(document, tmp_path)
    eq = built.json["summary"]["equivalence"]
    assert (eq["tightened_differences"], eq["unplanned_differences"]) == (len(document["differences"]) - 2, 2)
    assert "(12 from --tighten, 2 unplanned)" in built.md
    unplanned = [g for g in built.json["differences"] if g["cause"] == "unplanned"]
    assert built.json["differences"][:2] == unplanned  # listed first: they block the plan
    assert {(g["direction"], g["label"]) for g in unplanned} == {("loses", "group orders-team"),
                                                                 ("gains", "user heidi")}
    gain_row = next(li for li in built.md_section("## Differences").splitlines() if "| user heidi " in li)
    assert "**gains**" in gain_row and "DELETE /pets/{petId}" in gain_row and "**unplanned**" in gain_row
    assert "rule pets-readers: group pets-readers" in gain_row
    csv_row = built.csv[built.csv["route"] == "DELETE /pets/{petId}"].iloc[0]
    assert csv_row["gains"] == "user heidi"


def test_changes_on_an_any_method_name_their_verbs(tmp_path: Path) -> None:
    document = load(DEMO)
    document["equivalence"]["equivalent"] = False
    document["differences"] = [
        {"route": "ANY /admin/{proxy+}", "verb": verb, "action": f"{verb.lower()} /admin/{{proxy+}}",
         "principal": "group:auditors", "principal_label": "group auditors", "direction": "gains", "examples": [],
         "policies": ["rule auditors: group auditors"], "scopes": [], "flows": []} for verb in ("POST", "DELETE")]
    built = build(document, tmp_path)
    admin = built.csv[built.csv["route"] == "ANY /admin/{proxy+}"].iloc[0]
    assert admin["gains"] == "group auditors [DELETE, POST]"
    row = next(li for li in built.md_section("## Differences").splitlines() if "| group auditors " in li)
    assert "POST on ANY /admin/{proxy+}<br>DELETE on ANY /admin/{proxy+}" in row
    endpoint_row = next(li for li in built.md.splitlines() if li.startswith("| ANY /admin/{proxy+} "))
    assert "gains: group auditors \\[DELETE, POST\\]" in endpoint_row  # md escapes the brackets


def test_token_mismatches_are_listed(tmp_path: Path) -> None:
    document = load(DEMO)
    document["token_mismatches"] = [{"route": "ANY /admin/{proxy+}", "verb": "DELETE", "principal": "group:admins",
                                     "flow": "web (hosted-ui)", "today": True, "after": False}]
    built = build(document, tmp_path)
    section = built.md_section("### Token-level mismatches")
    row = next(li for li in section.splitlines() if "group admins" in li)
    assert "DELETE on ANY /admin/{proxy+}" in row and "web (hosted-ui)" in row
    assert re.search(r"\*\*allow\*\* +\| \*\*deny\*\*", row)
    assert built.json["summary"]["equivalence"]["token_mismatches"] == 1
    assert "_None._" in build(load(DEMO), tmp_path, "plain").md_section("### Token-level mismatches")


# --- findings ----------------------------------------------------------------------------------------------------

def test_dead_scopes_and_unreachable_endpoints(tmp_path: Path) -> None:
    document = load(DEAD_SCOPE)
    built = build(document, tmp_path)
    dead = built.md_section("### Dead scopes (2)")
    unused = next(li for li in dead.splitlines() if "MyApi/legacy.export" in li)
    assert "required by no method" in unused and "**info**" in unused
    ungranted = next(li for li in dead.splitlines() if "MyApi/orders.delete" in li)
    assert "granted by no rule or client" in ungranted and "DELETE /orders/{orderId}" in ungranted

    expected = [r["route"] for r in document["routes"] if r["migrated"] and not r["today"]]
    assert expected == ["DELETE /orders/{orderId}"]
    assert [r["route"] for r in built.json["findings"]["unreachable"]] == expected
    unreachable = built.md_section(f"### Endpoints no one can reach ({len(expected)})")
    assert re.search(r"^\| DELETE /orders/\{orderId\} +\| MyApi/orders.delete +\| access +\| no one ", unreachable,
                     flags=re.M)
    endpoint_row = next(li for li in built.md.splitlines() if li.startswith("| DELETE /orders/{orderId} "))
    assert "| no one " in endpoint_row

    demo = build(load(DEMO), tmp_path, "demo")
    assert "_None: someone can call every migrated endpoint today._" in demo.md
    assert demo.json["findings"]["dead_scopes"] == [] and demo.json["findings"]["unreachable"] == []


def test_claims_backends_id_token_and_machine_to_machine(tmp_path: Path) -> None:
    document = load(DEMO)
    built = build(document, tmp_path)
    proxies = next(f["routes"] for f in document["findings"] if f["code"] == "claims-backend" and not f["detail"])
    claims = built.md_section("### Backends that read authorizer.claims (1; 6 proxy integrations to check)")
    assert re.search(r"^\| GET /reports +\| authorizer\.claims\.email +\|", claims, flags=re.M)
    for route in proxies:
        assert re.search(rf"^\| {re.escape(route)} +\| unknown \(proxy\) +\|", claims, flags=re.M), route
    assert [r["route"] for r in built.json["findings"]["claims_backends"]] == ["GET /reports", *proxies]
    # nobody checked these backends: no route status (a green "exact") beside them, but what is left to do
    assert re.search(r"^\| GET /reports .*\| \*\*change needed\*\* +\|$", claims, flags=re.M)
    assert all(re.search(rf"^\| {re.escape(route)} .*\| \*\*not checked\*\* +\|$", claims, flags=re.M)
               for route in proxies)
    assert "exact" not in claims

    id_token = built.md_section("### ID-token endpoints (1)")
    assert re.search(r"^\| GET /profile +\|", id_token, flags=re.M) and "ID-token routes: any user" in id_token

    m2m = built.md_section("### Machine-to-machine endpoints (1)")
    finding = next(f for f in document["findings"] if f["code"] == "machine-to-machine")
    client_id = finding["detail"]["client_id"]
    row = next(li for li in m2m.splitlines() if client_id in li)
    assert f"reporting-service ({client_id})" in row and f'`MyApi::Client::"{client_id}"`' in row
    assert "<br>".join(finding["routes"]) in row

    other = built.md_section("### Other findings (2)")
    assert "attribute-rule" in other and "not-migrated" in other
    assert other.index("**review**") < other.index("**info**")  # most severe first


def test_quota_usage_and_next_commands(fixture_doc: dict[str, Any], tmp_path: Path) -> None:
    built = build(fixture_doc, tmp_path)
    quotas = built.md_section("## Quota usage")
    for quota in fixture_doc["quotas"]:
        percent = f"{100 * quota['used'] / quota['limit']:.1f} %"
        assert re.search(rf"^\| {re.escape(quota['name'])} +\| {quota['used']:,} +\| {quota['limit']:,} +\| "
                         rf"{re.escape(percent)} +\| \*\*fits\*\*", quotas, flags=re.M), quota["name"]
    steps = built.md_section("## Next commands to run")
    for n, step in enumerate(fixture_doc["next_steps"], start=1):
        assert f"{n}. `{step}`" in steps
        assert f"<li><code>{html.escape(step)}</code></li>" in built.html


def test_sections_come_in_the_documented_order(tmp_path: Path) -> None:
    md = build(load(TIGHTENED), tmp_path).md
    headings = ["## Summary", "## Endpoints", "## Differences", "### Token-level mismatches", "## Findings",
                "### Latent exposures", "### Dead scopes", "### Endpoints no one can reach",
                "### Backends that read authorizer.claims", "### ID-token endpoints", "### Machine-to-machine",
                "### Other findings", "## Quota usage", "## Next commands to run", "## Appendix: Cedar policies"]
    positions = [md.index(h) for h in headings]
    assert positions == sorted(positions)


# --- machine output ----------------------------------------------------------------------------------------------

def test_report_json_has_stable_keys(tmp_path: Path) -> None:
    reports = [build(load(name), tmp_path, name).json for name in (DEMO, TIGHTENED, DEAD_SCOPE)]
    for report in reports:
        assert list(report) == ["report_format_version", "plan", "summary", "routes", "differences",
                                "token_mismatches", "findings", "quotas", "policies", "next_steps"]
        assert list(report["findings"]) == ["latent_exposures", "dead_scopes", "unreachable", "claims_backends",
                                            "id_token_routes", "machine_to_machine", "other"]
        assert all(list(row) == list(reports[0]["routes"][0]) for row in report["routes"])
        assert set(EXPECTED_CSV_COLUMNS) <= set(report["routes"][0])
    assert reports[1]["plan"]["tighten"] is True and reports[0]["plan"]["tighten"] is False


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(tmp_path: Path) -> None:
    document = load(DEMO)
    document["routes"][0]["scopes"] = ["=HYPERLINK(\"x\")"]
    built = build(document, tmp_path)
    assert built.csv.iloc[0]["scopes"] == "'=HYPERLINK(\"x\")"
    assert built.json["routes"][0]["scopes"] == ["=HYPERLINK(\"x\")"]  # the JSON keeps the exact value


def test_unknown_plan_format_is_refused(tmp_path: Path) -> None:
    document = load(DEMO)
    document["format_version"] = 2
    with pytest.raises(PlanFormatError, match="format_version 2"):
        write_plan_report(document, tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- HTML: one file, nothing external, everything escaped ----------------------------------------------------------

def test_html_is_one_self_contained_page(fixture_doc: dict[str, Any], tmp_path: Path) -> None:
    page = build(fixture_doc, tmp_path).html
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert '<meta charset="utf-8">' in page and "<style>" in page
    lowered = page.lower()
    for forbidden in ("<link", "<script", "<img", "<iframe", "@import", "url(", "src="):
        assert forbidden not in lowered, forbidden
    attributes = re.findall(r"""\s([a-z-]+)=("[^"]*"|'[^']*')""", page)
    assert attributes
    assert not [value for _, value in attributes if "http" in value.lower() or "//" in value]
    assert {value for name, value in attributes if name == "href"} <= {f'"#{a}"' for a in re.findall(
        r'<section id="([^"]+)">', page)}


def hostile_copy() -> dict[str, Any]:
    """The demo plan with group avp-group and route GET /avp renamed to names full of markup."""
    text = (FIXTURES / DEMO).read_text(encoding="utf-8")
    as_json = json.dumps(HOSTILE, ensure_ascii=False)[1:-1]
    text = text.replace('"GET /avp"', json.dumps(f"GET /avp/{HOSTILE}", ensure_ascii=False))
    return json.loads(text.replace("avp-group", as_json))


def test_hostile_names_come_out_escaped(tmp_path: Path) -> None:
    document = hostile_copy()
    route = f"GET /avp/{HOSTILE}"
    assert any(r["route"] == route for r in document["routes"])
    built = build(document, tmp_path)

    assert "<script" not in built.html.lower()
    escaped = html.escape(HOSTILE)  # &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Ops&quot; Ünïcode|pipe
    assert "&amp;" in escaped and "&quot;" in escaped
    assert f"<tr><td>{html.escape(route)}</td>" in built.html
    assert f"group {escaped} (e.g. alice)" in built.html

    prose = re.sub(r"(`+).*?\1", "", built.md)  # code spans show their content literally: markup is inert there
    assert not re.search(r"(?<!\\)<script", prose)
    assert "\\<script\\>alert(1)\\</script\\> \\& \"Ops\" Ünïcode\\|pipe" in built.md
    for table in re.findall(r"(?:^\|.*\n)+", built.md, flags=re.M):
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in table.splitlines()}
        assert len(widths) == 1, table  # an escaped | never splits a cell

    assert route in built.csv["route"].tolist()  # CSV and JSON carry the names exactly
    assert any(f"group {HOSTILE} (e.g. alice)" in cell for cell in built.csv["today"])
    assert built.json["routes"][[r["route"] for r in built.json["routes"]].index(route)]["route"] == route


# --- long cells ----------------------------------------------------------------------------------------------------

def test_long_lists_fold_in_html_and_are_capped_in_markdown() -> None:
    items = tuple(f"group g{n}" for n in range(MAX_LINES_PER_CELL + 5))
    md = md_cell(items).split("<br>")
    assert len(md) == MAX_LINES_PER_CELL and md[-1].startswith("… and 6 more")
    assert md[:-1] == list(items[:MAX_LINES_PER_CELL - 1])
    page = html_cell(items)
    assert all(item in page for item in items)
    assert f"<details><summary>{len(items) - SHOWN_LINES + 1} more</summary>" in page
    assert "<details>" not in html_cell(items[:SHOWN_LINES])
    assert md_cell(items[:MAX_LINES_PER_CELL]).count("<br>") == MAX_LINES_PER_CELL - 1

def test_the_table_of_contents_keeps_each_section_with_its_subsections() -> None:
    from reports.html import _CSS

    # Two columns for the top level only, and a section never split from its numbered subsections: a nested list
    # flowing across the columns restarted its numbering in the other column.
    assert "nav.toc > ol { columns: 2; }" in _CSS and "nav.toc > ol > li { break-inside: avoid; }" in _CSS
    assert "nav.toc ol { margin: 0.2rem 0; padding-left: 1.2rem; columns" not in _CSS
