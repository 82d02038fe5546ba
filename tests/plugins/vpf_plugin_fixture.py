"""The ``thirdparty_protector`` fixture: the package in ``tests/plugins/vpf_thirdparty`` made
discoverable through its entry points, as if pip had installed it, without touching the venv.

Use it from any test module::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))  # tests/plugins
    from vpf_plugin_fixture import thirdparty_protector  # noqa: F401 (a fixture)

    def test_x(thirdparty_protector):
        build(thirdparty_protector.name)                      # in this process
        subprocess.run([...], env=thirdparty_protector.env)   # in a child process
"""

from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent / "vpf_thirdparty"


@dataclass
class ThirdParty:
    name: str                       # the protector to use by name ("invert")
    names: list[str]                # every protector the package declares
    site: Path                      # the folder put on sys.path / PYTHONPATH
    env: dict = field(default_factory=dict)  # os.environ plus that PYTHONPATH, for subprocesses


def install_dist_info(site: Path, package: Path = PACKAGE) -> list[str]:
    """Write ``<name>-<version>.dist-info`` (METADATA, entry_points.txt) for ``package`` into
    ``site`` and link its import package there; returns the declared protector names."""
    meta = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    eps = meta["entry-points"]["vpfilters.protectors"]
    dist = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\n"
                                   f"Version: {meta['version']}\n")
    (dist / "entry_points.txt").write_text(
        "[vpfilters.protectors]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    mod = site / "vpf_thirdparty"
    if not mod.exists():
        mod.symlink_to(package / "vpf_thirdparty", target_is_directory=True)
    return list(eps)


def with_pythonpath(site: Path) -> dict:
    """os.environ for a child Python that sees ``site`` and this process's vpfilters."""
    import vpfilters

    env = dict(os.environ)
    parts = [str(site), str(Path(vpfilters.__file__).resolve().parents[1])]
    if env.get("PYTHONPATH"):
        parts.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


@pytest.fixture(scope="session")
def thirdparty_protector(tmp_path_factory):
    from vpfilters.core import registry

    site = tmp_path_factory.mktemp("thirdparty_site")
    names = install_dist_info(site)
    sys.path.insert(0, str(site))
    registry.refresh()
    try:
        yield ThirdParty("invert", names, site, with_pythonpath(site))
    finally:
        sys.path.remove(str(site))
        for mod in [m for m in sys.modules if m.split(".")[0] == "vpf_thirdparty"]:
            del sys.modules[mod]
        registry.refresh()
