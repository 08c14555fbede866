"""The README's dashboard picture, made again: sample data, the server, headless Chromium.

`python -m qos_infra.dashboard.screenshot --out docs/images/dashboard.png` seeds a temporary data
directory with `sample` (30 minutes of 240 sessions in 60 s windows, and six earlier days for the
lake's trends), serves it, opens the page in Debian's chromium through playwright (infra's `test`
extra; it never downloads a browser), clicks a session and saves a full-page PNG. When `pngquant`
is installed the PNG is quantised (a UI picture keeps its look at a third of the size).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from qos_infra.dashboard import sample
from qos_infra.dashboard.server import serving

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# The page's layout faults, found in the DOM (the browser test and `capture` both check them):
# chart axis labels whose boxes overlap, and a sessions table that hides its outcome column
# behind a horizontal scrollbar.
_LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const overlap = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5
    && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  for (const panel of document.querySelectorAll("#lake .panel, #charts .panel")) {
    for (const axis of ["xtick", "ytick"]) {
      const boxes = [...panel.querySelectorAll(`g.${axis} text`)]
        .map((t) => ({ text: t.textContent, box: t.getBoundingClientRect() }))
        .filter((l) => l.text && l.box.width > 0 && l.box.height > 0);
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          if (overlap(boxes[i].box, boxes[j].box)) {
            problems.push(`${panel.dataset.testid}: ${axis} labels overlap: `
              + `${JSON.stringify(boxes[i].text)} and ${JSON.stringify(boxes[j].text)}`);
          }
        }
      }
      const chart = panel.querySelector(".chart");
      if (chart) {
        const frame = chart.getBoundingClientRect();
        for (const l of boxes) {
          if (l.box.left < frame.left - 1 || l.box.right > frame.right + 1) {
            problems.push(`${panel.dataset.testid}: ${axis} label `
              + `${JSON.stringify(l.text)} leaves the chart`);
          }
        }
      }
    }
  }
  const table = document.querySelector("#sessions-table");
  const wrap = table && table.closest(".list-panel");
  if (wrap) {
    if (wrap.scrollWidth > wrap.clientWidth + 1) {
      problems.push(`the sessions table scrolls sideways `
        + `(${wrap.scrollWidth} px in ${wrap.clientWidth} px)`);
    }
    for (const cell of table.querySelectorAll("th, td")) {
      if (cell.scrollWidth > cell.clientWidth + 1) {
        problems.push(`a sessions table cell overflows into the next: `
          + `${JSON.stringify(cell.textContent)}`);
        break;
      }
    }
    const visible = wrap.getBoundingClientRect().left + wrap.clientWidth;
    const cells = [table.querySelector("thead th:nth-child(6)"),
      ...table.querySelectorAll("tbody tr td:nth-child(6) .badge")];
    for (const cell of cells) {
      if (cell && cell.getBoundingClientRect().right > visible + 1) {
        problems.push(`the sessions table's outcome column (${JSON.stringify(cell.textContent)}) `
          + `ends past its panel's visible width`);
        break;
      }
    }
  }
  return problems;
}"""


def layout_problems(page: Any) -> list[str]:
    """The page's layout faults, one sentence each (none: an empty list)."""
    found: list[str] = page.evaluate(_LAYOUT_PROBLEMS)
    return found


def capture(data_dir: Path, out: Path, *, chromium: str, width: int = 1440) -> None:
    from playwright.sync_api import sync_playwright

    with serving(data_dir) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 1000})
            page.goto(server.url + "/")
            page.wait_for_selector('[data-testid="tiles"][data-state="ready"]')
            page.wait_for_function("Number(document.body.dataset.refreshed) >= 1")
            page.locator('[data-testid="auto-refresh"]').uncheck()
            rows = page.locator('[data-testid="session-row"]')
            events = rows.evaluate_all("rs => rs.map(r => Number(r.children[4].textContent))")
            # A session with a fair number of events, among the first rows.
            pick = max(range(min(12, len(events))), key=lambda i: events[i] * (events[i] < 40))
            rows.nth(pick).click()
            page.wait_for_selector('[data-testid="timeline"][data-state="ready"]')
            page.evaluate("window.scrollTo(0, 0)")
            page.wait_for_timeout(300)
            for problem in layout_problems(page):
                print(f"layout: {problem}", file=sys.stderr)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qos-dashboard-screenshot", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/images/dashboard.png"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)
    if not Path(args.chromium).is_file():
        print("chromium is missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="qos-dashboard-") as tmp:
        data_dir = Path(tmp) / "data"
        sample.main(
            [
                "--data-dir",
                str(data_dir),
                "--sessions",
                "240",
                "--minutes",
                "30",
                "--window-s",
                "60",
                "--history-days",
                "6",
            ]
        )
        capture(data_dir, args.out, chromium=args.chromium)
    pngquant = shutil.which("pngquant")
    if pngquant is not None:
        subprocess.run(  # noqa: S603 - a fixed command on our own file
            [
                pngquant,
                "--quality=70-90",
                "--speed=1",
                "--force",
                "--output",
                str(args.out),
                str(args.out),
            ],
            check=True,
        )
    print(f"saved {args.out} ({args.out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
