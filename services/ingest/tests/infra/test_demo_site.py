"""The hosted demo page's files: assembled as the page's relative imports expect them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

from qos_ingest_infra.demo_site import PLAYER_DIR, DemoSiteError, build_demo_site


def _fake_player(root: Path, *, with_hls: bool = True) -> Path:
    player = root / "player"
    (player / "demo").mkdir(parents=True)
    (player / "demo" / "index.html").write_text("<script type=module src=./demo.js></script>")
    (player / "demo" / "demo.js").write_text("import('../src/index.js')")
    (player / "demo" / "config.json").write_text('{"endpoint": "http://127.0.0.1:8780"}')
    (player / "src").mkdir()
    (player / "src" / "index.js").write_text("export {}")
    if with_hls:
        dist = player / "node_modules" / "hls.js" / "dist"
        dist.mkdir(parents=True)
        (dist / "hls.min.mjs").write_text("export default {}")
        (dist / "hls.js").write_text("not shipped")
    return player


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_site_layout(tmp_path: Path) -> None:
    site = build_demo_site(tmp_path / "site", _fake_player(tmp_path))
    assert _files(site) == {
        ".qos-demo-site",
        "index.html",
        "demo.js",
        "src/index.js",
        "vendor/hls/hls.min.mjs",
    }, "no local config.json: the stack writes the deployed one"


def test_rebuild_replaces_its_own_site_only(tmp_path: Path) -> None:
    player = _fake_player(tmp_path)
    site = build_demo_site(tmp_path / "site", player)
    (site / "stale.js").write_text("")
    assert "stale.js" not in _files(build_demo_site(site, player))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("keep")
    with pytest.raises(DemoSiteError, match="refusing to delete"):
        build_demo_site(foreign, player)
    assert (foreign / "keep.txt").read_text() == "keep"


def test_missing_hls_says_to_run_npm_ci(tmp_path: Path) -> None:
    with pytest.raises(DemoSiteError, match="npm ci"):
        build_demo_site(tmp_path / "site", _fake_player(tmp_path, with_hls=False))


def test_the_real_pages_imports_resolve_inside_the_site(tmp_path: Path) -> None:
    """Every relative module or file the real demo page names, resolved as a browser does from
    the site's root, is a file the site holds (`..` stops at the root)."""
    player = tmp_path / "player"
    shutil.copytree(PLAYER_DIR / "demo", player / "demo")
    shutil.copytree(PLAYER_DIR / "src", player / "src")
    dist = player / "node_modules" / "hls.js" / "dist"
    dist.mkdir(parents=True)
    (dist / "hls.min.mjs").write_text("export default {}")  # npm's file, not needed here
    names = set(
        re.findall(
            r"""['"](\.{1,2}/[^'"]+\.m?js(?:on)?)['"]""", (player / "demo" / "demo.js").read_text()
        )
    )
    assert {"../src/index.js", "../vendor/hls/hls.min.mjs", "./config.json", "./ivs.js"} <= names
    site = build_demo_site(tmp_path / "site", player)
    (site / "config.json").write_text("{}")  # what the stack adds at deploy time
    # The IVS web player (`?ivs=URL` only) is bundled by the local segment server, not hosted.
    hosted = {name for name in names if "amazon-ivs-player" not in name}
    assert len(hosted) < len(names)
    for name in hosted:
        path = urlparse(urljoin("https://demo.example/demo.js", name)).path.lstrip("/")
        assert (site / path).is_file(), name
