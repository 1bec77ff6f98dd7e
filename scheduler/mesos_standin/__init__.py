"""The single-machine Mesos-API stand-in: a master and an agent speaking the Mesos v1 HTTP API.

DESIGN.md decision 7. `local.LocalMesos` runs both in a background thread for tests and for
`--mesos_master_address=local`; `cli.main` (`aurora-mesos-local`) runs them in the foreground. It is for one
machine only: development, tests and one-machine setups, never a cluster manager. See docs/mesos-standin.md.
"""
