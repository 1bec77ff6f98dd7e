"""Job keys, instance lists and partial keys as Aurora's client parses them."""
import pytest

from scheduler.client.jobkeys import (ALL_INSTANCES, AuroraJobKey, PartialJobKey, instance_specifier,
                                      parse_instances, partial_jobkey, qualified_role, task_instance_key)


def test_job_key_round_trip_and_thrift():
    key = AuroraJobKey.from_path("west/www-data/prod.eu/hello_1")
    assert key == ("west", "www-data", "prod.eu", "hello_1") and str(key) == "west/www-data/prod.eu/hello_1"
    thrift = key.to_thrift()
    assert (thrift.role, thrift.environment, thrift.name) == ("www-data", "prod.eu", "hello_1")


@pytest.mark.parametrize("path", ["west/www/prod", "west/www/prod/hello/0", "", "a/b/c/d/e/f"])
def test_job_key_with_wrong_number_of_parts(path):
    with pytest.raises(ValueError) as e:
        AuroraJobKey.from_path(path)
    assert str(e.value) == f"Invalid path '{path}'. path should be a string in the form CLUSTER/ROLE/ENV/NAME"


@pytest.mark.parametrize("path, message", [("w/ww w/prod/x", "Invalid role 'ww w'"),
                                           ("w/www//x", "Invalid env ''"),
                                           ("w/www/prod/h@llo", "Invalid name 'h@llo'")])
def test_job_key_with_bad_identifier(path, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        AuroraJobKey.from_path(path)


@pytest.mark.parametrize("text, expected", [("0", [0]), ("0-2", [0, 1, 2]), ("0,1-3,5", [0, 1, 2, 3, 5]),
                                            ("5,1,3,1", [1, 3, 5]), ("7-7", [7]), ("", ALL_INSTANCES),
                                            (None, ALL_INSTANCES)])
def test_parse_instances(text, expected):
    assert parse_instances(text) == expected


@pytest.mark.parametrize("text", ["a", "1-", "3-1", "1-2-3", "-1", "1,,2"])
def test_parse_instances_rejects_junk(text):
    with pytest.raises(ValueError, match="Invalid instance list"):
        parse_instances(text)


def test_instance_specifier():
    assert instance_specifier("w/www/prod/x") == (AuroraJobKey("w", "www", "prod", "x"), ALL_INSTANCES)
    assert instance_specifier("w/www/prod/x/0-3,5").instance == [0, 1, 2, 3, 5]
    with pytest.raises(ValueError, match="^Instance specifier must be a CLUSTER/ROLE/ENV/JOB/INSTANCES tuple$"):
        instance_specifier("w/www/prod")
    with pytest.raises(ValueError, match="non-empty"):
        instance_specifier("")


def test_task_instance_key():
    assert task_instance_key("w/www/prod/x/2") == (AuroraJobKey("w", "www", "prod", "x"), 2)
    with pytest.raises(ValueError, match="^Instance must be an integer, but got 0-2$"):
        task_instance_key("w/www/prod/x/0-2")
    with pytest.raises(ValueError, match="is not in the form CLUSTER/ROLE/ENV/NAME/INSTANCE"):
        task_instance_key("w/www/prod/x")


def test_partial_keys_and_roles():
    assert partial_jobkey("w") == PartialJobKey("w", "*", "*", "*")
    assert str(partial_jobkey("w/www/pr*")) == "w/www/pr*/*"
    with pytest.raises(ValueError, match="no more than 4 segments"):
        partial_jobkey("a/b/c/d/e")
    assert qualified_role("w/www") == ("w", "www")
    with pytest.raises(ValueError, match="CLUSTER/NAME pair"):
        qualified_role("www")
