import pytest

from tests.helpers import Thermos


@pytest.fixture
def thermos(tmp_path):
    return Thermos(str(tmp_path / "root"), str(tmp_path / "sandboxes"))
