"""-tier_config documents: Aurora's built-in tiers, a custom one, and Aurora's messages for bad ones."""
import json

import pytest

from scheduler.api.settings import DEFAULT_TIERS, Tier, Tiers

AURORA_TIERS_JSON = """{
  "default": "preemptible",
  "tiers": {
    "preferred": {"preemptible": false, "revocable": false},
    "preemptible": {"preemptible": true, "revocable": false},
    "revocable": {"preemptible": true, "revocable": true}
  }
}"""


def test_the_default_tiers_are_aurora_s_tiers_json():
    assert Tiers.parse(AURORA_TIERS_JSON) == DEFAULT_TIERS
    assert DEFAULT_TIERS.by_name["preferred"].settings() == {"preemptible": "false", "revocable": "false"}


def test_a_custom_document_keeps_its_order_and_defaults_missing_flags_to_false():
    tiers = Tiers.parse(json.dumps({"default": "b", "tiers": {"b": {"preemptible": True}, "a": {}}}))
    assert tiers.tiers == (("b", Tier(True, False)), ("a", Tier(False, False)))


@pytest.mark.parametrize("document,message", [
    ({"tiers": {"a": {}}}, "Default tier name cannot be empty."),
    ({"default": "a", "tiers": {}}, "Tiers cannot be empty."),
    ({"default": "x", "tiers": {"a": {}}}, "Default tier name should match supplied tiers."),
    ({"default": "a", "tiers": {"a": {"preemptible": "yes"}}}, "tier 'a': expected"),
    ({"default": "a", "tiers": {"a": {"cheap": True}}}, "tier 'a': expected"),
    ({"default": "a", "tiers": ["a"]}, "expected {"),
])
def test_bad_documents_say_what_is_wrong(document, message):
    with pytest.raises(ValueError, match="^" + message.replace("{", r"\{").replace(".", r"\.")):
        Tiers.parse(json.dumps(document))


def test_not_json():
    with pytest.raises(ValueError, match="^not JSON: "):
        Tiers.parse("{")
