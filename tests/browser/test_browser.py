"""Real-browser tests: headless Debian Chromium + axe-core against a live Satu server.

One run of `audit.js` per session collects everything (see README.md in this folder);
each test below asserts one property of that report.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("SATU_CHROMIUM", "/usr/bin/chromium")
CORE_PAGES = ["/", "/tentang", "/aksesibilitas", "/halaman-yang-tidak-ada"]
OPTIONAL_PAGES = ["/wilayah", "/nik"]
ALL_PAGES = CORE_PAGES + OPTIONAL_PAGES
PAGE_BUDGET_BYTES = 50 * 1024
EXPECTED_STATUS = {"/halaman-yang-tidak-ada": 404}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


def _ensure_node_modules() -> None:
    if (HERE / "node_modules" / "playwright-core").is_dir() and (
        HERE / "node_modules" / "axe-core"
    ).is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not installed")
        return
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"},
        check=False,
    )
    if result.returncode != 0:
        _unavailable(f"npm ci failed: {result.stderr[-2000:]}")


@pytest.fixture(scope="session")
def served_pages(live_server: Any) -> list[str]:
    """The pages to audit: the portal's, plus /wilayah and /nik when the app serves them."""
    pages = list(CORE_PAGES)
    for path in OPTIONAL_PAGES:
        response = httpx.get(live_server.url + path, headers={"accept": "text/html"})
        if response.status_code != 404:
            pages.append(path)
    return pages


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $SATU_SCREENSHOT_DIR, else a temporary folder (never git)."""
    chosen = os.environ.get("SATU_SCREENSHOT_DIR")
    return Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def report(live_server: Any, served_pages: list[str], screenshot_dir: Path) -> dict[str, Any]:
    """Everything the headless browser saw, as reported by audit.js."""
    if not Path(CHROMIUM).exists():
        _unavailable(f"Chromium not found at {CHROMIUM}")
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed")
    _ensure_node_modules()
    config = {
        "baseUrl": live_server.url,
        "pages": served_pages,
        "screenshotDir": str(screenshot_dir),
        "searchPath": "/wilayah" if "/wilayah" in served_pages else None,
    }
    result = subprocess.run(
        [str(node), str(HERE / "audit.js"), json.dumps(config)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SATU_CHROMIUM": CHROMIUM},
        check=False,
    )
    assert result.returncode == 0, f"audit.js failed:\n{result.stderr[-4000:]}"
    return json.loads(result.stdout)


def _page(report: dict[str, Any], path: str) -> dict[str, Any]:
    if path not in report["pages"]:
        pytest.skip(f"{path} is not served by this build")
    return report["pages"][path]


def _describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"- {v['id']} ({v['impact']}, {', '.join(v['tags'])}): {v['help']} at {v['nodes']}"
        for v in violations
    )


@pytest.mark.parametrize("path", ALL_PAGES)
def test_no_wcag_22_aa_violations(report: dict[str, Any], path: str) -> None:
    page = _page(report, path)
    assert page["axeVersion"].startswith("4.")
    assert page["violations"] == [], "axe-core found:\n" + _describe(page["violations"])


@pytest.mark.parametrize("path", ALL_PAGES)
def test_page_renders_in_indonesian_by_default(report: dict[str, Any], path: str) -> None:
    page = _page(report, path)
    assert page["status"] == EXPECTED_STATUS.get(path, 200)
    assert page["lang"] == "id"
    assert len(page["h1"]) == 1 and page["h1"][0]
    assert page["title"].endswith("· Satu")


@pytest.mark.parametrize("path", ALL_PAGES)
def test_page_has_no_script_inline_style_or_csp_violation(
    report: dict[str, Any], path: str
) -> None:
    page = _page(report, path)
    assert page["scripts"] == 0
    assert page["inlineStyles"] == 0
    assert page["cspViolations"] == []
    assert page["pageErrors"] == []
    broken = [r for r in page["responses"] if r["status"] >= 400 and r["type"] != "text/html"]
    assert broken == [], f"sub-resources failed to load: {broken}"


@pytest.mark.parametrize("path", ALL_PAGES)
def test_page_weight_within_budget(report: dict[str, Any], path: str) -> None:
    page = _page(report, path)
    types = {r["type"] for r in page["responses"]}
    assert {"text/html", "text/css"} <= types
    assert 0 < page["htmlCssBytes"] < PAGE_BUDGET_BYTES
    assert page["totalBytes"] < PAGE_BUDGET_BYTES


@pytest.mark.parametrize("path", ALL_PAGES)
def test_page_reflows_on_a_phone(report: dict[str, Any], path: str) -> None:
    assert _page(report, path)["horizontalOverflow"] <= 0


@pytest.mark.parametrize("path", ALL_PAGES)
def test_page_works_without_javascript(report: dict[str, Any], path: str) -> None:
    _page(report, path)
    nojs = report["noJavaScript"]
    assert nojs["scriptsRan"] is False, "the no-JavaScript context still ran a script"
    page = nojs["pages"][path]
    assert page["status"] == EXPECTED_STATUS.get(path, 200)
    assert page["lang"] == "id"
    assert page["h1"] == report["pages"][path]["h1"]


def test_language_switch_by_clicking_plain_links(report: dict[str, Any]) -> None:
    steps = {step["label"]: step for step in report["noJavaScript"]["languageSwitch"]}
    assert steps["start"]["lang"] == "id"
    assert steps["start"]["h1"] == ["Layanan pemerintah dalam satu tempat"]
    english = steps["clicked English"]
    assert english["lang"] == "en"
    assert english["h1"] == ["Government services in one place"]
    assert english["url"].endswith("/?lang=en")
    assert "satu_lang=en" in english["cookies"]
    remembered = steps["next page without a parameter"]
    assert remembered["lang"] == "en" and remembered["h1"] == ["About Satu"]
    back = steps["clicked Bahasa Indonesia"]
    assert back["lang"] == "id" and back["h1"] == ["Tentang Satu"]
    assert "satu_lang=id" in back["cookies"]


def test_region_search_form_works_without_javascript(report: dict[str, Any]) -> None:
    search = report["noJavaScript"]["search"]
    if search is None:
        pytest.skip("/wilayah is not served by this build")
    assert search["status"] == 200
    assert search["url"].endswith("/wilayah?q=Sleman")
    assert "Sleman" in search["text"]


def test_skip_link_is_the_first_visible_focus_stop(report: dict[str, Any]) -> None:
    keyboard = report["keyboard"]
    first = keyboard["first"]
    assert first["href"] == "#main"
    assert first["text"] == "Langsung ke konten utama"
    assert first["visible"] is True
    assert first["outlineStyle"] == "solid" and first["outlineWidth"] == "3px"
    assert keyboard["afterEnter"] == "main"
    assert keyboard["next"]["insideMain"] is True


def test_home_page_screenshots_taken(report: dict[str, Any], screenshot_dir: Path) -> None:
    names = sorted(Path(file).name for file in report["screenshots"])
    assert names == [
        "home-desktop-en.png",
        "home-desktop.png",
        "home-phone-en.png",
        "home-phone.png",
    ]
    for file in report["screenshots"]:
        data = Path(file).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert Path(file).parent == screenshot_dir
