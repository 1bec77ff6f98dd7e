"""Kills with an injected sleep: the kill goes out at once; while the task stays KILLING, RESTARTING, DRAINING or
PREEMPTING it is re-sent, the wait doubling up to the cap; it stops once the task leaves those states or is
deleted; a task not being killed is not retried; one retry per task; `task_kill_retries`; stop cancels."""
import asyncio

import pytest

from scheduler.framework.kills import Kills
from scheduler.state.status import ScheduleStatus as S
from tests.unit.framework_helpers import until


class FakeSleep:
    """`sleep(seconds)` that returns only when the test wakes it; records every wait asked for."""

    def __init__(self):
        self.asked: list[float] = []
        self._waiting: list[asyncio.Future] = []

    async def __call__(self, seconds):
        self.asked.append(seconds)
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        await future

    @property
    def waiting(self) -> int:
        return sum(not f.done() for f in self._waiting)

    def wake(self):
        next(f for f in self._waiting if not f.done()).set_result(None)


class Env:
    def __init__(self, status=S.KILLING, initial=1.0, cap=5.0):
        self.statuses = {"t1": status}
        self.sent: list[str] = []
        self.sleep = FakeSleep()
        self.kills = Kills(self._send, self.statuses.get, initial_interval=initial, max_interval=cap,
                           sleep=self.sleep)

    async def _send(self, task_id):
        self.sent.append(task_id)
        return True

    async def next_round(self):
        """Let the pending wait end and the retry loop reach its next wait (or its end)."""
        await until(lambda: self.sleep.waiting == 1, what="a retry waiting")
        waits = len(self.sleep.asked)
        self.sleep.wake()
        await until(lambda: len(self.sleep.asked) > waits or not self.kills._retries, what="the next retry step")
        await until(lambda: not self.kills._sends, what="the kill sends")


@pytest.mark.parametrize("state", [S.KILLING, S.RESTARTING, S.DRAINING, S.PREEMPTING, int(S.KILLING)])
def test_retried_with_doubling_backoff_capped_while_being_killed(state):
    async def scenario():
        e = Env(status=state)
        e.kills.kill("t1")
        await until(lambda: e.sent == ["t1"] and e.sleep.waiting == 1, what="the first kill")
        for _ in range(5):
            await e.next_round()
        assert e.sleep.asked == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
        assert e.sent == ["t1"] * 6
        assert e.kills.vars() == {"task_kill_retries": 5, "task_kills_sent": 6}
        await e.kills.stop()
        assert e.sleep.waiting == 0 or all(f.cancelled() for f in e.sleep._waiting if not f.done())
    asyncio.run(scenario())


@pytest.mark.parametrize("after", [S.KILLED, S.LOST, S.FINISHED, None])
def test_stops_when_the_task_leaves_the_killing_states_or_is_deleted(after):
    async def scenario():
        e = Env()
        e.kills.kill("t1")
        await e.next_round()                 # still KILLING: re-sent once
        assert e.sent == ["t1", "t1"]
        e.statuses["t1"] = after
        await e.next_round()
        assert e.sent == ["t1", "t1"] and not e.kills._retries and e.sleep.waiting == 0
        assert e.kills.vars()["task_kill_retries"] == 1
        await e.kills.stop()
    asyncio.run(scenario())


def test_a_task_not_being_killed_gets_one_kill_and_no_retry():
    async def scenario():
        e = Env(status=None)                 # e.g. a task Mesos runs that storage does not know
        e.kills.kill("t1")
        await until(lambda: e.sent == ["t1"])
        assert not e.kills._retries and e.sleep.asked == []
        await e.kills.stop()
    asyncio.run(scenario())


def test_a_second_kill_sends_again_but_keeps_one_retry_loop():
    async def scenario():
        e = Env()
        e.kills.kill("t1")
        e.kills.kill("t1")
        await until(lambda: len(e.sent) == 2 and e.sleep.waiting == 1)
        await asyncio.sleep(0)
        assert e.sleep.waiting == 1 and len(e.kills._retries) == 1
        await e.kills.stop()
        assert not e.kills._retries
    asyncio.run(scenario())


def test_the_cap_is_never_below_the_initial_interval():
    async def scenario():
        e = Env(initial=10.0, cap=3.0)
        e.kills.kill("t1")
        await e.next_round()
        await e.next_round()
        assert e.sleep.asked == [10.0, 10.0, 10.0]
        await e.kills.stop()
    asyncio.run(scenario())


def test_real_sleep_default_with_a_tiny_interval():
    async def scenario():
        statuses = {"t1": S.KILLING}
        sent = []

        async def send(task_id):
            sent.append(task_id)
            if len(sent) == 3:
                statuses["t1"] = S.KILLED
            return True
        kills = Kills(send, statuses.get, initial_interval=0.001, max_interval=0.002)
        kills.kill("t1")
        await until(lambda: not kills._retries, what="the retries to end")
        assert sent == ["t1"] * 3 and kills.retried == 2
        await kills.stop()
    asyncio.run(scenario())
