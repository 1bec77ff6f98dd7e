"""Pure rules of a task's life: no I/O, no clock (every time is passed in, in milliseconds), no Mesos.

  status      ScheduleStatus (Aurora's Thrift ids), ACTIVE / SLAVE_ASSIGNED / TERMINAL, TaskEvent
  machine     transition(current, target, facts) -> Transition(outcome, actions): the whole table
  reschedule  the flapping penalty over a task's ancestors, and the replacement's status and message
  timeout     transient statuses that time out to LOST "Task timed out"
  pruning     when terminated tasks are deleted (age, per-job count)
  task_ids    task ids as Aurora makes them
  conversions a Mesos TaskStatus's state and message in Aurora's terms
  cron        cron schedules, when a run is due, and what a run does to a job still active

How a manager applies a status change to task T (Aurora's StateManagerImpl), inside one storage transaction
(scheduler.api.state_manager does):
  1. If the caller gave an expected status (compare-and-set) and T is missing or not in it: INVALID_CAS_STATE.
  2. `result = transition(T.status or None, target, facts of T)`; count `result.illegal` under
     ILLEGAL_TRANSITIONS_COUNTER.
  3. Apply `result.actions` in the order given, re-reading T before each:
       INCREMENT_FAILURES  T.failure_count += 1
       SAVE_STATE          T.status = target; append TaskEvent(now, target, message, hostname)
       RESCHEDULE          insert the replacement (see reschedule) and apply its INIT -> PENDING/THROTTLED
       TRANSITION_TO_LOST  apply a change of T to LOST, message machine.PARTITIONED_LOST_MESSAGE
       KILL                ask the driver to kill T's id (also for unknown ids: rogue tasks)
       DELETE              remove T
  4. After the transaction commits: publish the status change (timeouts, pruning, throttle release hang on it).
Nested changes (RESCHEDULE, TRANSITION_TO_LOST) are this same procedure, recursively.
"""
