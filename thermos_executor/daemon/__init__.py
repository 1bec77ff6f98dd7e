"""Plumbing every daemon shares (the observer, the replicated log, the Mesos-API stand-in, the scheduler):
`http` (base handler, listening, /health /vars /vars.json /metrics) and `aurora_flags` (Aurora's Java-daemon
flags). ZooKeeper membership, election and ServerSets are in `thermos_executor.zk`; argparse spellings for the
thermos commands in `thermos_executor.flags`. Nothing here imports the observer or the scheduler."""
