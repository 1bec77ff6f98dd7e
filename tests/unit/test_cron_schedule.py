"""scheduler.state.cron: five-field schedules in a time zone, the next run, the due run (missed runs collapse
into one), daylight-saving edges as Quartz had them, bad expressions and zones, collision decisions, backoff."""
import datetime as dt
import itertools

import pytest

from scheduler.state import cron

GMT = cron.zone("GMT")
NY = cron.zone("America/New_York")
MIN = 60_000
HOUR = 60 * MIN


def ms(text, tz=GMT):
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=tz).timestamp() * 1000)


def wall(t, tz=GMT):
    return dt.datetime.fromtimestamp(t / 1000, tz).strftime("%Y-%m-%d %H:%M %z")


def test_next_run_is_strictly_after_the_given_instant():
    s = cron.parse("*/15 * * * *", GMT)
    assert s.next_after(ms("2026-01-01T10:00")) == ms("2026-01-01T10:15")
    assert s.next_after(ms("2026-01-01T10:14:59")) == ms("2026-01-01T10:15")
    assert cron.parse("0 9 * * 1", GMT).next_after(ms("2026-01-01T00:00")) == ms("2026-01-05T09:00")  # a Monday


def test_the_time_zone_decides_the_wall_clock():
    s = cron.parse("0 9 * * *", NY)
    assert wall(s.next_after(ms("2026-01-01T00:00")), NY) == "2026-01-01 09:00 -0500"
    assert s.next_after(ms("2026-01-01T00:00")) == ms("2026-01-01T14:00")   # 9:00 in New York is 14:00 GMT


def test_a_skipped_wall_time_fires_after_the_spring_jump_once():
    s = cron.parse("30 2 * * *", NY)           # 02:30 does not exist on 2026-03-08 in New York
    first = s.next_after(ms("2026-03-08T00:00", NY))
    assert wall(first, NY) == "2026-03-08 03:30 -0400"
    assert wall(s.next_after(first), NY) == "2026-03-09 02:30 -0400"
    minutely = cron.parse("*/30 * * * *", NY).runs(ms("2026-03-08T01:00", NY), ms("2026-03-08T04:00", NY) - 1)
    assert [wall(t, NY) for t in minutely] == ["2026-03-08 01:30 -0500", "2026-03-08 03:00 -0400",
                                              "2026-03-08 03:30 -0400"]     # no duplicates, in order


def test_a_repeated_wall_time_fires_once_at_its_first_occurrence():
    s = cron.parse("30 1 * * *", NY)           # 01:00-02:00 happens twice on 2026-11-01 in New York
    first = s.next_after(ms("2026-11-01T00:00", NY))
    assert wall(first, NY) == "2026-11-01 01:30 -0400"
    assert wall(s.next_after(first), NY) == "2026-11-02 01:30 -0500"
    assert wall(s.next_after(first + HOUR - MIN), NY) == "2026-11-02 01:30 -0500"  # from inside the 2nd pass


def test_due_run_is_the_latest_run_since_the_last_and_none_before_it():
    s = cron.parse("0 * * * *", GMT)
    last = ms("2026-01-01T10:00")
    assert cron.due_run(s, last, last + HOUR - 1) is None
    assert cron.due_run(s, last, last + HOUR) == last + HOUR
    assert cron.due_run(s, last, last + 5 * HOUR + 7 * MIN) == last + 5 * HOUR    # missed runs: one, the latest
    assert cron.due_run(s, last, last + 40 * 24 * HOUR) == last + 40 * 24 * HOUR  # a long gap, still one


def test_due_run_of_a_sparse_schedule_after_a_long_gap():
    s = cron.parse("0 0 1 * *", GMT)           # monthly
    assert cron.due_run(s, ms("2026-01-15T00:00"), ms("2026-04-20T00:00")) == ms("2026-04-01T00:00")


def test_a_schedule_that_never_matches_has_no_next_run():
    s = cron.parse("0 0 31 2 *", GMT)
    assert s.next_after(0) is None
    assert cron.due_run(s, 0, ms("2030-01-01T00:00")) is None


@pytest.mark.parametrize("bad", ["", "   ", "* * * *", "* * * * * *", "61 * * * *", "* 24 * * *", "@hourly",
                                 "a b c d e", "*/0 * * * *", None])
def test_a_bad_schedule_is_refused_with_aurora_s_message(bad):
    with pytest.raises(cron.CronError) as e:
        cron.parse(bad, GMT)
    assert str(e.value) == f"Invalid cron schedule: {bad}"


def test_whitespace_between_fields_is_normalized():
    assert cron.parse("  0   9 * *  1-5 ", GMT).expression == "0 9 * * 1-5"


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd"])
def test_an_unknown_zone_is_one_line(name):
    with pytest.raises(cron.CronError, match="unknown time zone"):
        cron.zone(name)


def test_collision_decisions():
    assert cron.on_collision(None, 0) == cron.Collision.LAUNCH
    assert cron.on_collision(cron.CANCEL_NEW, 0) == cron.Collision.LAUNCH
    assert cron.on_collision(None, 2) == cron.Collision.KILL_THEN_LAUNCH         # KILL_EXISTING by default
    assert cron.on_collision(cron.KILL_EXISTING, 1) == cron.Collision.KILL_THEN_LAUNCH
    assert cron.on_collision(cron.CANCEL_NEW, 1) == cron.Collision.SKIP
    assert cron.on_collision(cron.RUN_OVERLAP, 1) == cron.Collision.SKIP         # stored before AURORA-38


def test_backoff_doubles_up_to_the_maximum():
    assert list(itertools.islice(cron.backoff_delays(5, 60), 6)) == [5, 10, 20, 40, 60, 60]
    assert list(itertools.islice(cron.backoff_delays(90, 60), 2)) == [60, 60]
