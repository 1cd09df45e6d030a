"""The built site in a real browser: headless Chromium (Debian's package) driven by Playwright.

Served from 127.0.0.1 by a local HTTP server, the home page, a theorem page with maths and a
results page with plots must load with no failed request, no HTTP error and no request to any
other host; the maths must be typeset by MathJax (its elements present, its TeX fonts loaded,
no MathJax error); every image must have decoded. Screenshots go to the test's temporary folder.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .support import PROBE_CLAIM

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@functools.cache
def _serve(root: str) -> str:
    """Serve `root` on 127.0.0.1 (a free port) for the rest of the session; return its URL."""
    handler = functools.partial(_QuietHandler, directory=root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(
            "/usr/bin/chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def visit(browser, base: str, path: str, screenshot: Path) -> tuple[object, list[str]]:
    """Load `base + path`; return the page and every problem seen while loading it."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []

    def on_request(request) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith(("data:", "blob:")):
            return
        if host != "127.0.0.1":
            problems.append(f"request to another host: {request.url}")

    page.on("request", on_request)
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
    page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
    response = page.goto(base + path, wait_until="networkidle")
    assert response is not None and response.ok, f"{path}: {response and response.status}"
    page.evaluate("document.fonts.ready")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(screenshot), full_page=False)
    return page, problems


def assert_maths_rendered(page, path: str) -> None:
    assert page.locator("mjx-container").count() > 0, f"{path}: no MathJax output"
    assert page.locator("mjx-merror").count() == 0, f"{path}: MathJax reported an error"
    loaded = page.evaluate(
        "Array.from(document.fonts).filter(f => f.family.startsWith('MJXTEX') && f.status === 'loaded')"
        ".map(f => f.family)"
    )
    assert loaded, f"{path}: MathJax's TeX fonts never loaded (the maths would show blank)"
    raw = page.locator("span.arithmatex").evaluate_all(
        "spans => spans.filter(s => !s.querySelector('mjx-container')).length"
    )
    assert raw == 0, f"{path}: {raw} maths span(s) left untypeset"


def assert_images_decoded(page, path: str) -> int:
    sizes = page.locator("article img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert all(width > 0 for width in sizes), f"{path}: an image did not decode: {sizes}"
    return len(sizes)


def _theorem_with_maths(site: Path) -> str:
    records = json.loads((site / "theorems" / "verify.json").read_text())
    name = next(r["name"] for r in records if "$" in r["statement"])
    return f"theorems/{name}/"


def _results_with_plots(site: Path) -> str | None:
    for page in sorted((site / "results").glob("*/index.html")):
        if "<img" in page.read_text():
            return f"results/{page.parent.name}/"
    return None


def test_home_page(browser, real_site: Path, tmp_path: Path) -> None:
    page, problems = visit(browser, _serve(str(real_site)), "", tmp_path / "home.png")
    assert not problems, problems
    assert "specproof" in page.title()
    assert_maths_rendered(page, "home")
    # The light/dark toggle switches the colour scheme.
    scheme = page.evaluate("document.body.getAttribute('data-md-color-scheme')")
    page.locator("form[data-md-component=palette] label:visible").first.click()
    page.wait_for_function(
        f"document.body.getAttribute('data-md-color-scheme') !== {scheme!r}", timeout=5000
    )
    page.screenshot(path=str(tmp_path / "home-other-scheme.png"))
    # Search runs locally (a web worker over search/search_index.json) and finds the theorems.
    # Focus first (Material opens its search overlay on focus), then type key by key.
    search = page.locator("input[data-md-component=search-query]")
    search.click()
    search.press_sequentially("lossless", delay=20)
    page.wait_for_selector(".md-search-result__item", timeout=15000)
    assert page.locator(".md-search-result__item").count() > 0
    assert not problems, problems


def test_theorem_page_with_maths(browser, real_site: Path, tmp_path: Path) -> None:
    path = _theorem_with_maths(real_site)
    page, problems = visit(browser, _serve(str(real_site)), path, tmp_path / "theorem.png")
    assert not problems, problems
    assert_maths_rendered(page, path)
    assert page.locator(".sp-status").count() >= 1


def test_results_page_with_plots(
    browser, real_site: Path, probe_site: Path, tmp_path: Path
) -> None:
    # A real results page with plots if bench/results has one; the probe's page always has three.
    targets = [(probe_site, "results/docsprobe_results/")]
    real = _results_with_plots(real_site)
    if real:
        targets.append((real_site, real))
    for site, path in targets:
        page, problems = visit(
            browser, _serve(str(site)), path, tmp_path / f"{site.parent.name}-results.png"
        )
        assert not problems, problems
        assert assert_images_decoded(page, path) >= (3 if site == probe_site else 1)
        if site == probe_site:
            assert_maths_rendered(page, path)  # the probe's description holds maths


def test_the_checks_catch_a_missing_resource(browser, probe_site: Path, tmp_path: Path) -> None:
    """Negative control: a page whose plot file is gone is reported."""
    broken = tmp_path / "site"
    import shutil

    shutil.copytree(probe_site, broken)
    for png in (broken / "results").glob("docsprobe_results-*.png"):
        png.unlink()
    page, problems = visit(
        browser, _serve(str(broken)), "results/docsprobe_results/", tmp_path / "broken.png"
    )
    assert any("HTTP 404" in p for p in problems), problems
    with pytest.raises(AssertionError, match="did not decode"):
        assert_images_decoded(page, "broken")


def test_probe_claim_page_renders(browser, probe_site: Path, tmp_path: Path) -> None:
    path = f"theorems/{PROBE_CLAIM}/"
    page, problems = visit(browser, _serve(str(probe_site)), path, tmp_path / "probe-claim.png")
    assert not problems, problems
    assert_maths_rendered(page, path)


def test_copy_buttons_copy_commands_that_run(browser, real_site: Path, tmp_path: Path) -> None:
    """A console block's copy button copies its commands without the `$ ` prompts, and a Python
    block's copies it whole (the negative control: only console blocks change)."""
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(_serve(str(real_site)) + "getting-started/", wait_until="networkidle")

    def copied(block) -> str:
        block.hover()
        block.locator(".md-code__button[data-md-type=copy]").click()
        return str(page.evaluate("navigator.clipboard.readText()"))

    blocks = page.locator("div.highlight")
    console = blocks.filter(has=page.locator(".gp"))
    assert copied(console.filter(has_text="specproof verify --list").first) == (
        "specproof verify --list"
    )
    assert copied(console.filter(has_text="make verify").first) == "make verify\nmake test"
    python = blocks.filter(has_not=page.locator(".gp")).filter(has_text="import").first
    assert copied(python).rstrip("\n") == python.locator("code").inner_text().rstrip("\n")
    context.close()
