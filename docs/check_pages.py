"""Open built documentation pages in headless Chromium and fail on console errors.

Run after the HTML build, from the repository root::

    python docs/check_pages.py                      # index.html and tutorials/quickstart.html
    python docs/check_pages.py model.html ...       # other pages, relative to the build

For every page it checks that the HTML references no external script, style sheet, font or
image (the pages must work offline), loads the page from disk in Chromium and fails if the
browser console reports an error (a script exception, a resource that failed to load).
It also saves a screenshot of the quickstart's comparison table to
``docs/_build/quickstart.png``.

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
DEFAULT_PAGES = ("index.html", "tutorials/quickstart.html")
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
        try:
            for page in pages:
                driver.get((build / page).resolve().as_uri())
                _wait_loaded(driver)
                title = driver.title
                entries = driver.get_log("browser")
                errors = [e for e in entries if e.get("level") == "SEVERE"]
                for e in entries:
                    print(f"{page}: console {e.get('level')}: {e.get('message')}")
                if not title:
                    print(f"{page}: the page has no title; did it load?")
                    problems += 1
                problems += len(errors)
                status = "ok" if not errors else f"{len(errors)} console error(s)"
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
    parser.add_argument("pages", nargs="*", default=list(DEFAULT_PAGES))
    parser.add_argument("--build", type=Path, default=DOCS / "_build" / "html")
    parser.add_argument("--screenshot", type=Path, default=DOCS / "_build" / "quickstart.png")
    args = parser.parse_args(argv)
    problems = check(args.build, args.pages, args.screenshot)
    if problems:
        print(f"{problems} problem(s) found")
        return 1
    print(f"all {len(args.pages)} page(s) load without console errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
