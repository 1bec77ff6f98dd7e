"""The packages the packaging tests install, built once per test session."""
import pytest

from tests.packaging.debroot import UPGRADE_SUFFIX, build, package_version


@pytest.fixture(scope="session")
def debs(tmp_path_factory):
    """This tree's packages in `v1/`, and the same rebuilt with a higher version in `v2/` (the upgrade)."""
    out = tmp_path_factory.mktemp("debs")
    builds = [build(str(out / "v1")), build(str(out / "v2"), package_version() + UPGRADE_SUFFIX)]
    for b in builds:
        output = b.communicate(timeout=900)[0]
        assert b.returncode == 0, output
    return out
