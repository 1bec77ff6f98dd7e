"""Aurora's Thrift API as the scheduler serves it: the protocol layer, the endpoint and the handlers.

The IDL and its generated code live in `thermos_executor.aurora_api` (the executor decodes the same structs).
`protocol` turns an HTTP body into a call on a handler object and the handler's Response back into a body,
in TJSON or TBinary as Aurora's /api does; `client` is the other end; `envelope` builds Responses. None of
them holds scheduler logic. The handlers do: `handlers.SchedulerApi` (the job, task, tier and quota calls) on
`state_manager.StateManager` (task state changes applied to storage), with `config` (job validation),
`summaries` (read-side views) and `settings` (the flags they read). `admin.AdminApi` answers the storage admin calls
(snapshot, backups, online recovery); `admin.Handlers` serves several APIs as one handler.
"""
