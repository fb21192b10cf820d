"""pyproject.toml (pip) and environment.yml (conda) must install the same set of packages."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]


def _normalise(req: str) -> str:
    """Canonical form of a requirement line: lower-case name, no spaces."""
    req = req.strip()
    name = re.match(r"[A-Za-z0-9_.\-]+", req).group(0)
    return name.lower().replace("_", "-") + re.sub(r"\s+", "", req[len(name):])


def _pyproject_requirements() -> set[str]:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"]) + list(meta["optional-dependencies"]["test"])
    return {_normalise(r) for r in reqs}


def _conda_requirements() -> set[str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return {_normalise(r) for r in pip_section if not r.startswith("-e")}


def test_environment_yml_matches_pyproject():
    assert _conda_requirements() == _pyproject_requirements()


def test_python_range_agrees():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda_python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert meta["requires-python"].replace(" ", "") == conda_python.removeprefix("python").replace(" ", "")


def test_torch_not_pinned_above_supported():
    reqs = _pyproject_requirements()
    assert "torch>=2.2,<=2.14.1" in reqs and "torchvision>=0.17,<=0.29.1" in reqs


def test_decord_only_where_wheels_exist():
    (decord,) = [r for r in _pyproject_requirements() if r.startswith("decord")]
    assert ";" in decord and "platform_machine" in decord


def test_package_imports_and_cli_help():
    import stclr
    from stclr.cli import build_parser

    assert stclr.__version__
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["--help"])
    assert e.value.code == 0
