"""ZooKeeper recipes (kazoo) every daemon shares: `group` (membership and election by lowest sequence number)
and `serverset` (a ServerSet member, as Aurora announced tasks and schedulers)."""
