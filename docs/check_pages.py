"""Open built documentation pages in headless Chromium and fail on console errors or math
left unrendered.

Run after the HTML build, from the repository root::

    python docs/check_pages.py                      # every page of docs/_build/html
    python docs/check_pages.py model.html ...       # some pages, relative to the build
    python docs/check_pages.py --build /tmp/html    # another build

For every page it checks that the HTML references no external script, style sheet, font or
image (the pages must work offline), loads the page from disk in Chromium and fails if the
browser console reports an error (a script exception, a resource that failed to load), or
if a math element is left as TeX source after MathJax has finished typesetting, or MathJax
reports a TeX error in it. It also saves a screenshot of the quickstart's comparison table
to ``docs/_build/quickstart.png``.

Needs Debian's ``chromium`` and ``chromium-driver`` packages (or ``CHROMIUM`` and
``CHROMEDRIVER`` pointing at the binaries) and ``selenium`` from PyPI.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

DOCS = Path(__file__).resolve().parent
SCREENSHOT_PAGE = "tutorials/quickstart.html"
#: The cell tagged ``comparison-table`` in quickstart.md; myst-nb adds tags as classes.
TABLE_SELECTOR = "div.cell.tag_comparison-table div.cell_output"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--window-size=1400,1000",
)


class _ExternalResources(HTMLParser):
    """Collects URLs of resources a page would fetch from another host."""

    _ATTRS = {"script": "src", "img": "src", "iframe": "src", "source": "src", "link": "href"}

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = self._ATTRS.get(tag)
        values = dict(attrs)
        if wanted is None or not values.get(wanted):
            return
        if tag == "link" and not {"stylesheet", "preload", "icon", "modulepreload"} & set(
            (values.get("rel") or "").split()
        ):
            return  # plain hyperlinks (rel="next", canonical, ...) are not fetched
        url = values[wanted] or ""
        if re.match(r"^(https?:)?//", url):
            self.found.append(f"<{tag} {wanted}={url!r}>")


def external_resources(html: str) -> list[str]:
    """External resources referenced by ``html``, including ``url(...)`` in inline styles."""
    parser = _ExternalResources()
    parser.feed(html)
    inline = re.findall(r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", html)
    return parser.found + [f"url({u})" for u in inline]


def built_pages(build: Path) -> list[str]:
    """Every HTML page of a build, relative to it (Sphinx's own ``_static``, ``_sources``,
    ``_modules`` and notebook output folders excluded)."""
    return sorted(
        p.relative_to(build).as_posix()
        for p in build.rglob("*.html")
        if not any(part.startswith(("_", ".")) for part in p.relative_to(build).parts[:-1])
    )


#: Waits until MathJax has typeset the page (MathJax 3+: ``startup.promise``), then lists
#: math elements without rendered output and rendered TeX errors.
_MATH_SCRIPT = """
const done = arguments[arguments.length - 1];
const math = Array.from(document.querySelectorAll('.math'));
const report = (error) => done({
    count: math.length,
    error: error,
    unrendered: math.filter(e => !e.querySelector('mjx-container, .MathJax, .MathJax_Display'))
        .map(e => e.textContent.trim().slice(0, 80)),
    texErrors: Array.from(document.querySelectorAll('mjx-merror'))
        .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80)),
});
if (!math.length) { report(null); return; }
const mj = window.MathJax;
if (!mj || !mj.startup || !mj.startup.promise) { report('MathJax is not loaded'); return; }
mj.startup.promise.then(() => report(null), e => report(String(e)));
"""


def check_math(driver, page: str) -> int:
    """Problems with the page's math: MathJax missing or failing, elements left as TeX."""
    result = driver.execute_async_script(_MATH_SCRIPT)
    problems = 0
    if result["error"]:
        print(f"{page}: {result['count']} math element(s) but {result['error']}")
        problems += 1
    for tex in result["unrendered"]:
        print(f"{page}: math left unrendered: {tex!r}")
    for tex in result["texErrors"]:
        print(f"{page}: MathJax error: {tex!r}")
    problems += len(result["unrendered"]) + len(result["texErrors"])
    if result["count"]:
        rendered = result["count"] - len(result["unrendered"])
        print(f"{page}: {rendered} of {result['count']} math element(s) rendered")
    return problems


def _driver(user_data_dir: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    chromedriver = (
        os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
    )
    for name, path in (("chromium", chromium), ("chromedriver", chromedriver)):
        if not Path(path).is_file():
            sys.exit(
                f"{name} not found at {path}: apt-get install chromium chromium-driver, or set "
                f"{name.upper()} to the binary"
            )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: selenium must not try to download one (the network is closed).
    return webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)


def _wait_loaded(driver, timeout: float = 30.0) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    # Let scripts run that the theme defers until after the load event.
    driver.execute_script("return new Promise(resolve => setTimeout(resolve, 500));")


def check(build: Path, pages: list[str], screenshot: Path) -> int:
    """Check ``pages`` of the HTML build; return the number of problems found."""
    from selenium.webdriver.common.by import By

    problems = 0
    missing = [p for p in pages if not (build / p).is_file()]
    if missing:
        print(f"not built: {', '.join(missing)} (in {build}); run the Sphinx build first")
        return len(missing)
    for page in pages:
        external = external_resources((build / page).read_text(encoding="utf-8"))
        for ref in external:
            print(f"{page}: references an external resource {ref}")
        problems += len(external)

    with tempfile.TemporaryDirectory(prefix="labor_econ_chromium_") as profile:
        driver = _driver(profile)
        driver.set_script_timeout(60)
        try:
            for page in pages:
                driver.get((build / page).resolve().as_uri())
                _wait_loaded(driver)
                title = driver.title
                math_problems = check_math(driver, page)  # first: waits for MathJax
                entries = driver.get_log("browser")
                errors = [e for e in entries if e.get("level") == "SEVERE"]
                for e in entries:
                    print(f"{page}: console {e.get('level')}: {e.get('message')}")
                if not title:
                    print(f"{page}: the page has no title; did it load?")
                    problems += 1
                problems += len(errors) + math_problems
                status = (
                    ", ".join(
                        [f"{len(errors)} console error(s)"] * bool(errors)
                        + [f"{math_problems} math problem(s)"] * bool(math_problems)
                    )
                    or "ok"
                )
                print(f"{page}: {status} ({title!r}, {len(entries)} console message(s))")
                if page == SCREENSHOT_PAGE:
                    tables = driver.find_elements(By.CSS_SELECTOR, TABLE_SELECTOR)
                    if not tables:
                        print(f"{page}: no element matches {TABLE_SELECTOR!r}")
                        problems += 1
                        continue
                    driver.execute_script(
                        "arguments[0].scrollIntoView({block: 'center'});", tables[0]
                    )
                    screenshot.parent.mkdir(parents=True, exist_ok=True)
                    tables[0].screenshot(str(screenshot))
                    print(f"{page}: saved the comparison table to {screenshot}")
        finally:
            driver.quit()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", help="default: every page of the build")
    parser.add_argument("--build", type=Path, default=DOCS / "_build" / "html")
    parser.add_argument("--screenshot", type=Path, default=DOCS / "_build" / "quickstart.png")
    args = parser.parse_args(argv)
    pages = args.pages or built_pages(args.build)
    if not pages:
        print(f"no HTML pages in {args.build}; run the Sphinx build first")
        return 1
    if not args.pages and SCREENSHOT_PAGE not in pages:
        print(f"{SCREENSHOT_PAGE} is not in the build {args.build}")
        return 1
    problems = check(args.build, pages, args.screenshot)
    if problems:
        print(f"{problems} problem(s) found")
        return 1
    print(f"all {len(pages)} page(s) load without console errors or unrendered math")
    return 0


if __name__ == "__main__":
    sys.exit(main())
