"""When to try a task group again, and how many attempts a second: pure, on an injected clock and random.

    backoff = TruncatedBinaryBackoff(initial_ms=1000, max_ms=60000, rng=rng)   # -initial/-max_schedule_penalty
    backoff.calculate_backoff_ms(last_ms)        # initial after 0, else last + up to last again, at most max
    groups = GroupBackoff(GroupBackoffSettings(), rng)
    groups.first_penalty_ms(transition=True)     # -first_schedule_delay (a task that just became PENDING)
    groups.next_penalty_ms(penalty_ms, attempted=True, scheduled=False, more=True)
    limiter = RateLimiter(40.0, now)             # -max_schedule_attempts_per_sec
    wait_s = limiter.reserve(now)                # 0.0: go now; else sleep that long first (the slot is yours)

TaskGroups (Aurora): a group is evaluated after its penalty; an attempt that places nothing backs off
(truncated binary, with Aurora's random jitter: the next wait is the last one plus up to the last one again,
never above the max); an attempt that places some tasks retries the rest after -first_schedule_delay; a group
with nothing left is dropped. Every attempt first takes a permit of the rate limiter (Guava's RateLimiter,
smooth bursty, up to one second of unused permits stored).
"""
from __future__ import annotations

import random
from dataclasses import dataclass


class TruncatedBinaryBackoff:
    """Aurora commons' TruncatedBinaryBackoff. `jitter=False` gives the plain doubling (initial, 2x, 4x ...)."""

    def __init__(self, initial_ms: int, max_ms: int, *, stop_at_max: bool = False,
                 rng: random.Random | None = None, jitter: bool = True):
        if initial_ms <= 0:
            raise ValueError(f"initial backoff must be > 0 ms, not {initial_ms}")
        if max_ms < initial_ms:
            raise ValueError(f"max backoff {max_ms} ms is below the initial {initial_ms} ms")
        self.initial_ms, self.max_ms, self.stop_at_max = initial_ms, max_ms, stop_at_max
        self.rng = rng or random.Random()
        self.jitter = jitter

    def calculate_backoff_ms(self, last_ms: int) -> int:
        if last_ms < 0:
            raise ValueError(f"negative backoff {last_ms} ms")
        half = self.initial_ms if last_ms == 0 else last_ms
        extra = round(self.rng.random() * half) if self.jitter else (0 if last_ms == 0 else half)
        return min(self.max_ms, half + extra)

    def should_continue(self, last_ms: int) -> bool:
        if last_ms < 0:
            raise ValueError(f"negative backoff {last_ms} ms")
        return not (self.stop_at_max and last_ms >= self.max_ms)


@dataclass(frozen=True)
class GroupBackoffSettings:
    """-first_schedule_delay (1 ms), -initial_schedule_penalty (1 s), -max_schedule_penalty (1 min)."""
    first_schedule_delay_ms: int = 1
    initial_penalty_ms: int = 1000
    max_penalty_ms: int = 60_000

    def __post_init__(self):
        if self.first_schedule_delay_ms <= 0:
            raise ValueError("-first_schedule_delay must be > 0")


class GroupBackoff:
    """The penalty (delay before the next attempt) of a task group, as TaskGroups computes it."""

    def __init__(self, settings: GroupBackoffSettings = GroupBackoffSettings(), rng: random.Random | None = None,
                 jitter: bool = True):
        self.settings = settings
        self.backoff = TruncatedBinaryBackoff(settings.initial_penalty_ms, settings.max_penalty_ms, rng=rng,
                                              jitter=jitter)

    def first_penalty_ms(self, transition: bool = True, startup_delay_ms: int = 0) -> int:
        """A new group: -first_schedule_delay after a task became PENDING; the startup delay (the reschedule
        calculator's, e.g. random up to -max_reschedule_task_delay_on_startup) for a task found PENDING when
        the scheduler starts."""
        return self.settings.first_schedule_delay_ms if transition else startup_delay_ms

    def next_penalty_ms(self, penalty_ms: int, *, attempted: bool, scheduled: bool, more: bool) -> int:
        """After an attempt: nothing to try -> 0; nothing placed -> back off from `penalty_ms`; some placed ->
        -first_schedule_delay if tasks remain, else 0 (the group is then dropped when it has no more)."""
        if not attempted:
            return 0
        if not scheduled:
            return self.backoff.calculate_backoff_ms(penalty_ms)
        return self.settings.first_schedule_delay_ms if more else 0


class RateLimiter:
    """Guava's RateLimiter.create(rate) (SmoothBursty, 1 s of burst), on an injected clock in seconds."""

    def __init__(self, permits_per_second: float, now: float):
        if not permits_per_second > 0:
            raise ValueError(f"rate must be > 0 per second, not {permits_per_second}")
        self.interval_s = 1.0 / permits_per_second
        self.max_permits = permits_per_second          # 1 second's worth
        self.stored = 0.0
        self.next_free = now

    def reserve(self, now: float, permits: int = 1) -> float:
        """Take `permits` and return how long to wait before using them (0.0: now). Later callers wait for
        the permits this one borrowed from the future."""
        if now > self.next_free:
            self.stored = min(self.max_permits, self.stored + (now - self.next_free) / self.interval_s)
            self.next_free = now
        wait = max(0.0, self.next_free - now)
        from_store = min(float(permits), self.stored)
        self.stored -= from_store
        self.next_free += (permits - from_store) * self.interval_s
        return wait

    def try_acquire(self, now: float, permits: int = 1) -> bool:
        """Take the permits only if they can be used now."""
        if self.next_free > now:
            return False
        self.reserve(now, permits)
        return True
