"""A whole Aurora cluster on this machine in one command: `aurora-cluster-local up`.

Debian's ZooKeeper, the Mesos-API stand-in with several agents, N schedulers with their log replicas (quorum
floor(N/2)+1) and the Thermos observer, each a child process in its own process group, all on loopback and on
free ports, all under one state directory. It starts the installed commands (`aurora-scheduler`, `aurora-log`,
`aurora-mesos-local`, `thermos_observer`, ZooKeeper's java) and imports nothing of the scheduler: it sees the
cluster only as a user does, through ports, HTTP and files.

    plan.py       where everything lives: the state directory's layout and the ports (pure)
    children.py   one child process: its own process group, its log file, stopped and reaped; the sweep
    cluster.py    LocalCluster: start in order, wait for a leader, supervise (restart schedulers), stop
    cli.py        `aurora-cluster-local up | down | status`
"""
