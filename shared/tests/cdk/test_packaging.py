"""The Lambda packager's refusals, errors and pruning (the services' tests build real bundles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qos_shared_cdk import packaging
from qos_shared_cdk.packaging import MARKER_FILE, AssetBuildError, LambdaBundle


def _bundle(root: Path, out_name: str = "lambda") -> LambdaBundle:
    return LambdaBundle(
        service_root=root,
        distribution="qos-demo",
        infra_package="qos_demo_infra",
        out_name=out_name,
    )


def test_defaults_name_the_service_s_build_folder(tmp_path: Path) -> None:
    assert _bundle(tmp_path).default_out == tmp_path / ".build" / "lambda"
    assert _bundle(tmp_path, out_name="setup-lambda").default_out == (
        tmp_path / ".build" / "setup-lambda"
    )


def test_a_service_without_its_sources_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AssetBuildError, match=r"no pyproject\.toml in .*qos_demo_infra"):
        _bundle(tmp_path).build(tmp_path / "out", progress=None)
    assert not (tmp_path / "out").exists()


def test_a_directory_it_did_not_build_is_never_wiped(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'qos-demo'\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(AssetBuildError, match="refusing to delete"):
        _bundle(tmp_path).build(out, progress=None)
    (tmp_path / "file").write_text("")
    with pytest.raises(AssetBuildError, match="not a directory"):
        _bundle(tmp_path).build(tmp_path / "file", progress=None)
    assert (out / "precious.txt").read_text() == "keep me"


def test_the_command_line_reports_a_failure_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _bundle(tmp_path).cli(["--out", str(tmp_path / "out")], description="demo") == 1
    assert capsys.readouterr().err.startswith("error: no pyproject.toml in ")


def test_prune_leaves_only_runtime_code_and_a_stable_record(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    for path in (
        "qos_demo/__init__.py",
        "qos_demo/__pycache__/x.cpython-312.pyc",
        "qos_demo/stale.pyc",
        "qos_demo/jobs/flink.py",
        "qos_demo_infra/stack.py",
        "qos_shared_cdk/ssm.py",
        "bin/qos-demo",
        ".lock",
        "qos_demo-0.1.dist-info/direct_url.json",
        "qos_demo-0.1.dist-info/WHEEL",
    ):
        (bundle / path).parent.mkdir(parents=True, exist_ok=True)
        (bundle / path).write_text("x")
    record = bundle / "qos_demo-0.1.dist-info" / "RECORD"
    record.write_text(
        "qos_demo/__init__.py,sha256=a,1\n"
        "qos_demo-0.1.dist-info/direct_url.json,sha256=b,2\n"
        "qos_demo-0.1.dist-info/WHEEL,sha256=c,3\n"
    )

    packaging._prune(bundle, ("qos_demo_infra", "qos_shared_cdk", "bin", ".lock", "qos_demo/jobs"))

    files = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert files == {
        "qos_demo/__init__.py",
        "qos_demo-0.1.dist-info/WHEEL",
        "qos_demo-0.1.dist-info/RECORD",
    }
    assert record.read_text() == (
        "qos_demo/__init__.py,sha256=a,1\nqos_demo-0.1.dist-info/WHEEL,sha256=c,3\n"
    )
    assert MARKER_FILE == ".qos-lambda-asset"
