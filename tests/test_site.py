"""Browser test of the built book: open every page of ``_build/html`` in headless Chromium.

Runs after ``jupyter-book build . -W --keep-going`` (marker ``site``; ``scripts/ci_book.sh site``).
It serves the site on 127.0.0.1 with ``python -m http.server`` and drives Debian's
``/usr/bin/chromium`` with Playwright. Every request that leaves 127.0.0.1 is blocked and recorded,
so the checks also prove that the site works offline (MathJax is served from ``_static``).

Checks: MathJax typeset every equation (no raw ``$$`` / ``\\(`` left, no MathJax error, an
``mjx-container`` in every math element); every page made from a notebook has a Colab launch link
to its own notebook, and every chapter page shows at least one figure that loaded; every internal
link and resource answers 200 (and its ``#fragment`` exists); no page fails with a JavaScript error
or asks for an outside URL.

With ``CI=true`` a missing Chromium, Playwright or built site is a failure; elsewhere the test is
skipped when one of them is absent, and the skip reason says which.
"""

from __future__ import annotations

import html
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("FR_COURSE_SITE", ROOT / "_build" / "html")).resolve()
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
PAGE_TIMEOUT_MS = 30_000


def _unavailable(reason: str):
    """Fail in CI (where everything must be installed), skip elsewhere, with the same reason."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser test may not be skipped)")
    pytest.skip(reason)


def _book_root() -> Path:
    """The book the site was built from: <root>/_build/html, else this repository."""
    candidate = SITE.parent.parent
    return candidate if (candidate / "_config.yml").is_file() else ROOT


def _html_pages() -> list[Path]:
    skip = {"_static", "_sources", "_images"}
    return sorted(p for p in SITE.rglob("*.html") if not skip & set(p.relative_to(SITE).parts))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    if not (SITE / "index.html").is_file():
        _unavailable(f"no built site at {SITE}: run `jupyter-book build . -W --keep-going` (make book) first")
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(SITE)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(base, timeout=1):
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        else:
            pytest.fail(f"http.server did not start on {base}")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        _unavailable(f"Chromium is not installed at {CHROMIUM} (scripts/ensure_chromium.sh installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed (it is in requirements.txt)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


_PAGE_PROBE = """() => {
  const mathNodes = Array.from(document.querySelectorAll('.math'));
  const article = document.querySelector('article') || document.body;
  const images = Array.from(article.querySelectorAll('img')).map(img => ({
    src: img.currentSrc || img.src, loaded: img.complete && img.naturalWidth > 0}));
  const prose = document.body.cloneNode(true);
  prose.querySelectorAll('pre, code, script, style, mjx-container, mjx-assistive-mml, textarea')
       .forEach(node => node.remove());
  const links = Array.from(document.querySelectorAll('a[href]')).map(a => a.href);
  const resources = Array.from(document.querySelectorAll('img[src], script[src], link[href]'))
       .map(node => node.src || node.href);
  return {
    mathCount: mathNodes.length,
    mathWithoutContainer: mathNodes.filter(n => !n.querySelector('mjx-container'))
                                   .map(n => n.textContent.slice(0, 80)),
    mathErrors: Array.from(document.querySelectorAll('mjx-merror')).map(n => n.textContent.slice(0, 80)),
    proseText: prose.textContent,
    images: images,
    links: links,
    resources: resources,
  };
}"""


_RAW_INLINE_MATH = re.compile(r"\$[^$\n]{0,200}?[\\_^][^$\n]{0,200}?\$")
_REDIRECT = re.compile(r'<meta\s+http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', re.IGNORECASE)


@pytest.fixture(scope="module")
def reports(server, browser):
    """Visit every page once; return {page path: what the page showed}."""
    pages = _html_pages()
    assert pages, f"no HTML pages under {SITE}"
    context = browser.new_context()
    external: list[str] = []

    def route(route_obj):
        host = urllib.parse.urlsplit(route_obj.request.url).hostname
        if host == "127.0.0.1" or route_obj.request.url.startswith(("data:", "blob:")):
            route_obj.continue_()
        else:
            external.append(route_obj.request.url)
            route_obj.abort()

    context.route("**/*", route)
    collected = {}
    for path in pages:
        rel = path.relative_to(SITE).as_posix()
        redirect = _REDIRECT.search(path.read_text(encoding="utf-8", errors="replace"))
        if redirect:  # e.g. the root index.html that points at the first page
            collected[rel] = {"redirect": urllib.parse.urljoin(server + rel, html.unescape(redirect.group(1)))}
            continue
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        external.clear()
        page.goto(server + rel, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        has_mathjax = page.evaluate("() => !!(window.MathJax && window.MathJax.startup)")
        if has_mathjax:
            page.wait_for_function(
                "() => window.MathJax.startup.promise !== undefined", timeout=PAGE_TIMEOUT_MS
            )
            page.evaluate("() => window.MathJax.startup.promise.then(() => true)")
        report = page.evaluate(_PAGE_PROBE)
        report.update(has_mathjax=has_mathjax, js_errors=list(errors), external=list(external))
        collected[rel] = report
        page.close()
    context.close()
    return collected


def _visited(reports: dict) -> dict:
    return {page: r for page, r in reports.items() if "redirect" not in r}


def test_every_page_loads_without_errors_or_outside_requests(reports):
    reports = _visited(reports)
    problems = [f"{page}: JavaScript error {err}" for page, r in reports.items() for err in r["js_errors"]]
    problems += [f"{page}: requested {url} (blocked: the site must work offline)"
                 for page, r in reports.items() for url in r["external"]]
    assert not problems, "\n".join(problems)


def test_mathjax_rendered_every_equation(reports):
    reports = _visited(reports)
    problems = []
    for page, r in reports.items():
        if r["mathCount"] and not r["has_mathjax"]:
            problems.append(f"{page}: {r['mathCount']} math elements but MathJax is not loaded")
        problems += [f"{page}: equation left untypeset: {text!r}" for text in r["mathWithoutContainer"]]
        problems += [f"{page}: MathJax error: {text!r}" for text in r["mathErrors"]]
        for raw in ("$$", "\\(", "\\)", "\\[", "\\begin{"):
            if raw in r["proseText"]:
                at = r["proseText"].index(raw)
                problems.append(f"{page}: raw {raw!r} in the text: {r['proseText'][max(0, at - 40):at + 40]!r}")
        # Inline math that was never parsed as math: $...$ holding TeX (a backslash, _ or ^).
        problems += [f"{page}: raw inline math in the text: {m!r}"
                     for m in _RAW_INLINE_MATH.findall(r["proseText"])]
    assert not problems, "\n".join(problems)
    assert any(r["mathCount"] for r in reports.values()), "no page has any equation: the math check checked nothing"


def test_notebook_pages_have_a_colab_link_and_chapters_a_figure(reports):
    sys.path.insert(0, str(ROOT))
    from fr_course.notebooks import book

    root = _book_root()
    repo = urllib.parse.urlsplit(book.repository_url(root)).path.strip("/")
    branch = book.repository_branch(root)
    chapters = book.chapter_names(root)
    assert chapters, "the toc lists no chapter notebooks"
    problems = [f"{book.NOTEBOOK_DIR}/{name}.html: chapter page missing from the site"
                for name in chapters if f"{book.NOTEBOOK_DIR}/{name}.html" not in reports]
    for page, r in _visited(reports).items():
        if not page.startswith(book.NOTEBOOK_DIR + "/"):
            continue
        # Every page made from a notebook opens that notebook on Colab.
        colab = f"https://colab.research.google.com/github/{repo}/blob/{branch}/{page[:-len('.html')]}.ipynb"
        if colab not in r["links"]:
            problems.append(f"{page}: no Colab launch link to {colab}")
        problems += [f"{page}: image did not load: {img['src']}" for img in r["images"] if not img["loaded"]]
        if page[len(book.NOTEBOOK_DIR) + 1:-len(".html")] in chapters and not any(
            img["loaded"] for img in r["images"]
        ):
            problems.append(f"{page}: no figure image loaded")
    assert not problems, "\n".join(problems)


def _fetch(url: str, cache: dict) -> tuple[int, str]:
    if url not in cache:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = response.read()
                text = body.decode("utf-8", "replace") if "html" in response.headers.get("Content-Type", "") else ""
                cache[url] = (response.status, text)
        except urllib.error.HTTPError as error:
            cache[url] = (error.code, "")
    return cache[url]


def test_internal_links_and_resources_resolve(server, reports):
    cache: dict = {}
    problems = []
    checked = 0
    for page, r in reports.items():
        urls = [r["redirect"]] if "redirect" in r else sorted(set(r["links"]) | set(r["resources"]))
        for url in urls:
            if not url.startswith(server):
                continue
            target, _, fragment = url.partition("#")
            status, text = _fetch(target, cache)
            checked += 1
            if status != 200:
                problems.append(f"{page}: {url} answered {status}")
            elif fragment and text:
                anchor = urllib.parse.unquote(fragment)
                ids = {html.unescape(m) for m in re.findall(r'\b(?:id|name)="([^"]+)"', text)}
                if anchor not in ids:
                    problems.append(f"{page}: {url}: no element with id {anchor!r}")
    assert checked, "no internal link found: the link check checked nothing"
    assert not problems, "\n".join(problems)
