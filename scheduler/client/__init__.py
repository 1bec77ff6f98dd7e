"""Room for `aurora` and `aurora-admin`: Thrift clients of the scheduler API (`scheduler.api`), reading job
configs through `thermos_executor.config`."""
