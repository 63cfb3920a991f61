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

What a reader sees (issue 14): no paragraph of the page is a raw Markdown table (a line starting
with ``| `` and holding `` | ``); every Markdown table a notebook output holds is an HTML
``<table>`` on its page; no table shows a literal ``nan``; at 1280 px no code block and no display
equation is wider than its box (nothing clipped or hidden behind a scroll bar); each notebook page
opens with its title followed by prose (no code cell above the title, the first element after it a
paragraph, the setup cells collapsed until the first section); and at phone width (390 px) no page scrolls sideways. Full-page screenshots of every
notebook page, desktop and phone, are written to ``_build/screenshots/`` for a person to look at
(CI keeps that folder as an artefact; it is never committed).

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
SCREENSHOTS = SITE.parent / "screenshots"
CHROMIUM = "/usr/bin/chromium"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
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


_PAGE_PROBE = r"""() => {
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
  // Shown to the reader: laid out, not hidden by CSS, not inside a collapsed <details> (a
  // hide-cell toggle or a dropdown solution that the reader has not opened).
  const visible = node => node.getClientRects().length > 0 && !node.closest('details:not([open])')
       && (!node.checkVisibility || node.checkVisibility({visibilityProperty: true}));
  // Paragraphs (and other text blocks) whose text is a raw Markdown table.
  const rawTables = Array.from(article.querySelectorAll('p, li, dd, td, blockquote'))
       .filter(node => !node.closest('pre'))
       .filter(node => node.textContent.split('\n')
                           .some(line => line.trimStart().startsWith('| ') && line.includes(' | ')))
       .map(node => node.textContent.slice(0, 120));
  const tables = Array.from(article.querySelectorAll('table'));
  const nanCells = tables.flatMap(table => Array.from(table.querySelectorAll('td, th')))
       .filter(cell => /(^|[^A-Za-z])nan([^A-Za-z]|$)/i.test(cell.textContent))
       .map(cell => (cell.closest('tr') || cell).textContent.replace(/\s+/g, ' ').trim().slice(0, 120));
  const overflowing = (nodes, kind) => nodes.filter(visible)
       .filter(node => node.scrollWidth > node.clientWidth + 1)
       .map(node => ({kind: kind, content: node.scrollWidth, box: node.clientWidth,
                      text: node.textContent.replace(/\s+/g, ' ').trim().slice(0, 80)}));
  const wide = overflowing(Array.from(article.querySelectorAll('pre')), 'code block')
       .concat(overflowing(Array.from(article.querySelectorAll('div.math mjx-container, mjx-container[display="true"]')),
                           'display equation'));
  const title = article.querySelector('h1');
  let opening = null;
  if (title) {
    const follows = (a, b) => !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
    const before = Array.from(article.querySelectorAll('div.cell'))
         .filter(node => visible(node) && follows(node, title));
    // Code shown open between the title and the first section: the setup cells must be
    // collapsed (a toggle is fine, its code is not visible until the reader opens it).
    const section = article.querySelector('h2');
    const openCode = Array.from(article.querySelectorAll('pre'))
         .filter(node => visible(node) && follows(title, node) && (!section || follows(node, section)));
    let next = title.nextElementSibling;
    while (next && !visible(next)) next = next.nextElementSibling;  // e.g. a removed cell's anchor
    opening = {codeBeforeTitle: before.length,
               openCodeInIntroduction: openCode.map(node => node.textContent.trim().split('\n')[0].slice(0, 60)),
               nextTag: next ? next.tagName.toLowerCase() : null,
               nextClass: next ? next.className : null,
               nextText: next ? next.textContent.replace(/\s+/g, ' ').trim().slice(0, 80) : ''};
  }
  return {
    rawTables: rawTables,
    outputTables: article.querySelectorAll('div.cell_output table').length,
    nanCells: nanCells,
    wide: wide,
    opening: opening,
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
    context = browser.new_context(viewport=DESKTOP)
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
        has_mathjax = _wait_for_mathjax(page)
        report = page.evaluate(_PAGE_PROBE)
        report.update(has_mathjax=has_mathjax, js_errors=list(errors), external=list(external))
        collected[rel] = report
        if _is_notebook_page(rel):
            _screenshot(page, "desktop", rel)
        page.close()
    context.close()
    return collected


def _is_notebook_page(rel: str) -> bool:
    return rel.startswith("notebooks/")


def _screenshot(page, kind: str, rel: str) -> None:
    """A full-page PNG of ``rel`` under _build/screenshots/<kind>/ (a CI artefact, not committed)."""
    path = SCREENSHOTS / kind / (rel[: -len(".html")].replace("/", "__") + ".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)


def _wait_for_mathjax(page) -> bool:
    has_mathjax = page.evaluate("() => !!(window.MathJax && window.MathJax.startup)")
    if has_mathjax:
        page.wait_for_function("() => window.MathJax.startup.promise !== undefined", timeout=PAGE_TIMEOUT_MS)
        page.evaluate("() => window.MathJax.startup.promise.then(() => true)")
    return has_mathjax


_PHONE_PROBE = """() => ({
  viewport: window.innerWidth,
  page: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
  widest: Array.from(document.querySelectorAll('body *'))
     .filter(node => node.getClientRects().length > 0)
     .map(node => ({right: node.getBoundingClientRect().right, tag: node.tagName.toLowerCase(),
                    cls: String(node.className).slice(0, 60)}))
     .filter(item => item.right > window.innerWidth + 1)
     .sort((a, b) => b.right - a.right).slice(0, 3),
})"""


@pytest.fixture(scope="module")
def phone_reports(server, browser):
    """Every page again at phone width (390 px): how wide the page is; screenshots of notebook pages."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)
    context.route("**/*", lambda route_obj: route_obj.continue_()
                  if urllib.parse.urlsplit(route_obj.request.url).hostname == "127.0.0.1"
                  or route_obj.request.url.startswith(("data:", "blob:")) else route_obj.abort())
    collected = {}
    for path in _html_pages():
        rel = path.relative_to(SITE).as_posix()
        if _REDIRECT.search(path.read_text(encoding="utf-8", errors="replace")):
            continue
        page = context.new_page()
        page.goto(server + rel, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        _wait_for_mathjax(page)
        collected[rel] = page.evaluate(_PHONE_PROBE)
        if _is_notebook_page(rel):
            _screenshot(page, "phone", rel)
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


# ------------------------------------------------------------------ what a reader sees (issue 14)

_MD_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)+\|?\s*$", re.MULTILINE)


def _markdown_tables_in_outputs(notebook_path: Path) -> int:
    """How many Markdown tables the notebook's text/markdown outputs hold (separator rows)."""
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    count = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            text = (output.get("data") or {}).get("text/markdown")
            if text:
                count += len(_MD_TABLE_SEPARATOR.findall(text if isinstance(text, str) else "".join(text)))
    return count


def test_no_paragraph_is_a_raw_markdown_table(reports):
    problems = [f"{page}: raw Markdown table in the text: {text!r}"
                for page, r in _visited(reports).items() for text in r["rawTables"]]
    assert not problems, "\n".join(problems)


def test_every_markdown_table_of_a_notebook_output_is_an_html_table(reports):
    root = _book_root()
    problems, expected_any = [], False
    for page, r in _visited(reports).items():
        if not _is_notebook_page(page):
            continue
        notebook = root / (page[: -len(".html")] + ".ipynb")
        if not notebook.is_file():
            continue
        expected = _markdown_tables_in_outputs(notebook)
        expected_any = expected_any or expected > 0
        if r["outputTables"] < expected:
            problems.append(f"{page}: the notebook's outputs hold {expected} Markdown table(s), "
                            f"the page shows {r['outputTables']} HTML <table>(s) in its outputs")
    assert not problems, "\n".join(problems)
    assert expected_any, "no notebook output holds a Markdown table: the check checked nothing"


def test_no_table_shows_nan(reports):
    problems = [f"{page}: table row shows nan: {row!r}"
                for page, r in _visited(reports).items() for row in r["nanCells"]]
    assert not problems, "\n".join(problems)


def test_nothing_is_wider_than_its_box_at_desktop_width(reports):
    problems = [f"{page}: {w['kind']} {w['content']} px wide in a {w['box']} px box at "
                f"{DESKTOP['width']} px: {w['text']!r}"
                for page, r in _visited(reports).items() for w in r["wide"]]
    assert not problems, "\n".join(problems)


def test_every_notebook_page_opens_with_its_title_and_prose(reports):
    problems = []
    for page, r in _visited(reports).items():
        if not _is_notebook_page(page):
            continue
        opening = r["opening"]
        if opening is None:
            problems.append(f"{page}: no <h1> title")
            continue
        if opening["codeBeforeTitle"]:
            problems.append(f"{page}: {opening['codeBeforeTitle']} code cell(s) shown above the title")
        if opening["openCodeInIntroduction"]:
            problems.append(f"{page}: code shown open between the title and the first section "
                            f"(setup cells must be collapsed): {opening['openCodeInIntroduction']}")
        if opening["nextTag"] != "p" or not opening["nextText"]:
            problems.append(f"{page}: the first element after the title is <{opening['nextTag']} "
                            f"class={opening['nextClass']!r}> {opening['nextText']!r}, not a paragraph")
    assert not problems, "\n".join(problems)


def test_no_page_scrolls_sideways_at_phone_width(phone_reports):
    assert phone_reports, "no page visited at phone width"
    problems = [f"{page}: {r['page']} px wide at a {r['viewport']} px viewport; widest: {r['widest']}"
                for page, r in phone_reports.items() if r["page"] > r["viewport"] + 1]
    assert not problems, "\n".join(problems)
    shots = sorted(SCREENSHOTS.glob("*/*.png"))
    assert shots, f"no screenshot written under {SCREENSHOTS}"
