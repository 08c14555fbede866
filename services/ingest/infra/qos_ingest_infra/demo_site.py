"""The hosted demo page's files: player/demo at the site's root, the SDK under src/, hls.js under
vendor/hls/, laid out as the local segment server serves them, so the page's relative imports
(`../src/index.js`, `../vendor/hls/hls.min.mjs`) resolve the same way (`..` stops at the root).

The page's `config.json` (the ingest URL it posts to, the channel, the stream it plays) is not
here: the stack writes it beside the page at deploy time, when the edge's URL is known. The IVS
web player (`?ivs=URL`) is bundled by the segment server on the fly and is not hosted; the hosted
page plays HLS with hls.js.

Run alone: `python -m qos_ingest_infra.demo_site --out DIR`.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from pathlib import Path

from qos_ingest_infra.packaging import INGEST_ROOT, REPO_ROOT

PLAYER_DIR = REPO_ROOT / "player"
DEFAULT_SITE_DIR = INGEST_ROOT / ".build" / "demo-site"
# What the page needs from hls.js's npm package (`npm ci` in player/ installs it).
HLS_FILES = ("hls.min.mjs",)
MARKER_FILE = ".qos-demo-site"


class DemoSiteError(RuntimeError):
    """The demo page can't be assembled (hls.js not installed, player/ missing)."""


def build_demo_site(out: Path = DEFAULT_SITE_DIR, player_dir: Path = PLAYER_DIR) -> Path:
    """Assemble the site in `out` (replacing a site built there before) and return it."""
    demo, sdk = player_dir / "demo", player_dir / "src"
    hls = player_dir / "node_modules" / "hls.js" / "dist"
    if not (demo / "index.html").is_file() or not (sdk / "index.js").is_file():
        raise DemoSiteError(f"{player_dir} holds no demo page (demo/index.html, src/index.js)")
    missing = [name for name in HLS_FILES if not (hls / name).is_file()]
    if missing:
        raise DemoSiteError(
            f"hls.js is not installed ({hls / missing[0]} is missing): run "
            f"`npm ci` in {player_dir} first"
        )
    out = out.resolve()
    if out.exists():
        if not (out / MARKER_FILE).is_file():
            raise DemoSiteError(f"refusing to delete {out}: it is not a demo site built here")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copytree(demo, out, dirs_exist_ok=True)
    shutil.copytree(sdk, out / "src")
    (out / "vendor" / "hls").mkdir(parents=True)
    for name in HLS_FILES:
        shutil.copy2(hls / name, out / "vendor" / "hls" / name)
    # The page's config is written at deploy time; a stale one must not ship.
    (out / "config.json").unlink(missing_ok=True)
    (out / MARKER_FILE).write_text("")
    return out


def checked_site_dir(site_dir: Path) -> Path:
    site_dir = site_dir.resolve()
    if not (site_dir / "index.html").is_file():
        raise FileNotFoundError(
            f"{site_dir} holds no demo page (no index.html in it); build it first with "
            "`python -m qos_ingest_infra.demo_site --out <dir>`"
        )
    return site_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Assemble the hosted demo page's files.")
    parser.add_argument("--out", type=Path, default=DEFAULT_SITE_DIR)
    args = parser.parse_args(argv)
    print(build_demo_site(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
