"""Both HTML reports as a reader sees them (issue 13): rendered by headless Chromium at 1400 and 900 px, no table
makes the page scroll sideways; at 1400 px every table fits its column, and at 900 px a table wider than the
column scrolls inside its own box. Charts show a legend.

Chromium is a Debian package (`chromium`); `.ci/run` installs it and sets AVP_MIGRATE_REQUIRE_CHROMIUM=1, so CI
fails rather than skips without it. The page is measured by a small script added to a copy of the report (the
reports themselves carry no script, and their Content-Security-Policy forbids one)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_plan_report import DEMO, build, load
from tests.test_shadow_report import run_cli
from tests.test_shadow_report import traffic as traffic  # the fixture

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM and os.environ.get("AVP_MIGRATE_REQUIRE_CHROMIUM") != "1":
    pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)", allow_module_level=True)

MEASURE = """<script>
window.addEventListener('load', () => {
  const res = {page: document.documentElement.scrollWidth, width: document.documentElement.clientWidth, tables: [],
               legends: document.querySelectorAll('figure.chart .legend').length,
               charts: document.querySelectorAll('figure.chart').length};
  document.querySelectorAll('table').forEach((t) => {
    const box = t.parentElement;
    res.tables.push({width: Math.ceil(t.getBoundingClientRect().width), room: box.clientWidth,
                     scrolls: getComputedStyle(box).overflowX === 'auto',
                     section: (t.closest('section') || {}).id || ''});
  });
  document.body.setAttribute('data-measure', JSON.stringify(res));
});
</script>"""


def measure(page: Path, width: int, tmp_path: Path) -> dict:
    text = re.sub(r"<meta[^>]*Content-Security-Policy[^>]*>", "", page.read_text(encoding="utf-8"))
    copy = tmp_path / f"measure-{width}-{page.name}"
    copy.write_text(text.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    # As the machine notes say Chromium must start here: no sandbox as root, no background networking.
    run = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                          "--no-first-run", "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", f"--user-data-dir={tmp_path / f'profile-{width}'}",
                          f"--window-size={width},1000", "--virtual-time-budget=3000", "--dump-dom",
                          copy.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'data-measure="([^"]*)"', run.stdout)
    assert found, run.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


def check_layout(page: Path, tmp_path: Path) -> dict:
    wide = measure(page, 1400, tmp_path)
    assert wide["page"] <= wide["width"], f"{page.name} scrolls sideways at 1400 px"
    too_wide = [t for t in wide["tables"] if t["width"] > t["room"] + 1]
    assert not too_wide, f"{page.name} at 1400 px: tables wider than the page's column: {too_wide}"
    narrow = measure(page, 900, tmp_path)
    assert narrow["page"] <= narrow["width"], f"{page.name} scrolls sideways at 900 px"
    loose = [t for t in narrow["tables"] if t["width"] > t["room"] + 1 and not t["scrolls"]]
    assert not loose, f"{page.name} at 900 px: wide tables outside a scrolling box: {loose}"
    return wide


def test_the_plan_report_fits_the_page(tmp_path):
    built = build(load(DEMO), tmp_path)
    check_layout(tmp_path / "plan" / "report.html", tmp_path)
    assert built.html


def test_the_shadow_report_fits_the_page_and_its_charts_have_a_legend(traffic, tmp_path, capsys):
    source = traffic.write(tmp_path / "authorizer.jsonl")
    code, _, err = run_cli(capsys, "--files", str(source), "--out", str(tmp_path / "out"))
    assert code == 0, err
    wide = check_layout(tmp_path / "out" / "shadow-report.html", tmp_path)
    assert wide["charts"] > 0 and wide["legends"] == wide["charts"]
