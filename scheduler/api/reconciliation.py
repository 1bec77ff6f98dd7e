"""Aurora's admin calls triggerExplicitTaskReconciliation and triggerImplicitTaskReconciliation.

    ReconciliationApi(reconciler_of, settings)   # reconciler_of(): the framework's Reconciler, None if none yet

Each starts a reconciliation round in the background and answers OK at once (Aurora's
SchedulerThriftInterface). An explicit batch size that is set must be positive, else INVALID_REQUEST "Batch
size must be greater than zero."; unset means -reconciliation_explicit_batch_size. A scheduler that is not
yet registered with Mesos answers ERROR_TRANSIENT: there is nobody to reconcile with.
"""
from __future__ import annotations

from collections.abc import Callable

from scheduler.api import envelope
from scheduler.api.handlers import Refused
from scheduler.api.settings import ApiSettings
from thermos_executor.aurora_api.gen.ttypes import ResponseCode

BATCH_SIZE_MESSAGE = "Batch size must be greater than zero."


class ReconciliationApi:
    def __init__(self, reconciler_of: Callable[[], object | None], settings: ApiSettings):
        self._reconciler_of = reconciler_of
        self.server_info = envelope.server_info(settings)

    async def triggerExplicitTaskReconciliation(self, settings):
        try:
            if settings is None:
                raise Refused(ResponseCode.ERROR, "settings must be set")
            if settings.batchSize is not None and settings.batchSize <= 0:
                raise Refused(ResponseCode.INVALID_REQUEST, BATCH_SIZE_MESSAGE)
            self._reconciler().trigger_explicit(settings.batchSize)
        except Refused as refused:
            return envelope.response(refused.code, self.server_info, str(refused))
        return envelope.ok(self.server_info)

    async def triggerImplicitTaskReconciliation(self):
        try:
            self._reconciler().trigger_implicit()
        except Refused as refused:
            return envelope.response(refused.code, self.server_info, str(refused))
        return envelope.ok(self.server_info)

    def _reconciler(self):
        reconciler = self._reconciler_of()
        if reconciler is None:
            raise Refused(ResponseCode.ERROR_TRANSIENT, "Not registered with Mesos yet")
        return reconciler
