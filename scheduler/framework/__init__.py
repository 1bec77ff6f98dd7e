"""Room for the scheduler's own Mesos framework (pymesos): the driver (its threads hand events to the loop),
offers, status updates, reconciliation, and the AssignedTask encoder (one module with the executor's decoder).
It talks to any Mesos master over the v1 HTTP API; the single-machine fake cluster it may talk to in tests is
`scheduler.mesos_standin`, which is not part of the scheduler."""
