"""The `aurora-scheduler` daemon: the wiring of log, storage and API under one election.

* `flags` - Aurora's flags, parsed and checked into one typed `Config`, and the settings built from it.
* `leadership` - the one election under -serverset_path (kazoo) and the leader's ServerSet member.
* `http` - /health, /leaderhealth, /vars, /vars.json, /metrics, POST /api, leader redirects (tornado).
* `keyed_timers` - one timer per key and the tasks those timers start, under one owner (task and cron timers).
* `daemon` - `SchedulerDaemon`: lifecycle, promotion (writer grant, replay, advertise), snapshots, exits.
* `cli` - `aurora-scheduler`'s main.
* `recovery` - `aurora-scheduler-recovery`, the offline tool that loads a backup into an empty log.
"""
