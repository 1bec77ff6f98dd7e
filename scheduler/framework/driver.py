"""`Driver`: the unmodified pymesos `MesosSchedulerDriver`, with its threads kept away from the event loop.

pymesos runs its own thread: it calls our callbacks there, and its calls (ACCEPT, KILL, ...) are blocking
HTTP requests under a lock. So, in both directions, nothing of pymesos runs on the loop:

* events: `_Callbacks` turns each pymesos callback into a call of a method `on_<event>` of `events` on the
  loop (`call_soon_threadsafe`), so everything the scheduler owns is touched by the loop only;
* calls: `accept`, `decline`, `kill`, `acknowledge`, `reconcile` run in one worker thread, in the
  order they were made (an ACCEPT goes out before a later KILL of the same task). They return once sent;
  a call pymesos cannot send (an HTTP error; while disconnected pymesos drops calls silently) is logged and
  answered False: Mesos tells us what happened through status updates and reconciliation, as for Aurora.

pymesos reconnects by itself (and finds a new leading master under `zk://`); acknowledgements are explicit
(`implicit_acknowledgements=False`), sent only once an update is committed to storage. `stop` never tears the
framework down: its tasks keep running and the next leader re-subscribes with the same framework ID.

`events` must provide on_registered(framework_id), on_reregistered(), on_disconnected(), on_offers(list[dict]),
on_rescinded(offer_id), on_status(dict), on_agent_lost(agent_id), on_executor_lost(executor_id, agent_id,
status), on_error(message). Offers and statuses are the Mesos v1 JSON dicts pymesos hands over.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re

from pymesos import MesosSchedulerDriver

log = logging.getLogger(__name__)

_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
# the path is required: pymesos watches it for the leading master (without one it would watch the root)
_ZK = re.compile(r"^zk://[^/\s]+/[^/\s][^\s]*$")


class MasterAddressError(ValueError):
    """-mesos_master_address is not host:port, zk://host:port[,host:port]/path or local."""


def check_master_address(address: str) -> str:
    """The address pymesos is given (`local` is resolved by the caller); MasterAddressError, one line, if bad."""
    if address == "local" or _HOST_PORT.match(address) or _ZK.match(address):
        if _HOST_PORT.match(address) and not 0 < int(address.rsplit(":", 1)[1]) < 65536:
            raise MasterAddressError(f"-mesos_master_address={address}: the port is out of range")
        return address
    raise MasterAddressError(f"-mesos_master_address={address!r} is not host:port, "
                             "zk://host:port[,host:port]/path or local")


class Driver:
    def __init__(self, master: str, framework_info: dict, events, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._calls = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mesos-calls")
        self._driver = MesosSchedulerDriver(_Callbacks(events, loop), framework_info, master,
                                            implicit_acknowledgements=False, failover=True)

    async def start(self) -> None:
        """Start pymesos' thread (off the loop: with zk:// it first connects to ZooKeeper, which blocks)."""
        await self._loop.run_in_executor(self._calls, self._driver.start)

    async def stop(self) -> None:
        """Disconnect without tearing the framework down (failover), and wait for the call thread."""
        await self._run(self._driver.stop, True)
        self._calls.shutdown(wait=False, cancel_futures=True)

    # -- calls ------------------------------------------------------------------------------------------------
    async def accept(self, offer_id: str, tasks: list[dict], refuse_seconds: float) -> bool:
        operations = [{"type": "LAUNCH", "launch": {"task_infos": tasks}}]
        return await self._run(self._driver.acceptOffers, [{"value": offer_id}], operations,
                               {"refuse_seconds": refuse_seconds})

    async def decline(self, offer_ids: list[str], refuse_seconds: float) -> bool:
        return await self._run(self._driver.declineOffer, [{"value": i} for i in offer_ids],
                               {"refuse_seconds": refuse_seconds})

    async def kill(self, task_id: str) -> bool:
        return await self._run(self._driver.killTask, {"value": task_id})

    async def acknowledge(self, status: dict) -> bool:
        return await self._run(self._driver.acknowledgeStatusUpdate, status)

    async def reconcile(self, task_ids: list[str]) -> bool:
        """Explicit reconciliation of these tasks; an empty list asks for every task (implicit)."""
        return await self._run(self._driver.reconcileTasks, [{"task_id": {"value": i}} for i in task_ids])

    async def _run(self, call, *args) -> bool:
        try:
            await self._loop.run_in_executor(self._calls, call, *args)
            return True
        except RuntimeError as e:
            if "cannot schedule new futures" in str(e):   # stopping: the call thread is gone
                return False
            log.warning("Mesos call %s failed: %s", call.__name__, str(e).splitlines()[0] if str(e) else e)
            return False
        except Exception as e:  # noqa: BLE001 - an unreachable master: the driver reconnects, Mesos re-tells
            log.warning("Mesos call %s failed: %s", call.__name__, e)
            return False


class _Callbacks:
    """pymesos' Scheduler interface, run on pymesos' thread: each event is handed to the loop."""

    def __init__(self, events, loop: asyncio.AbstractEventLoop):
        self._events, self._loop = events, loop

    def _post(self, name: str, *args) -> None:
        try:
            self._loop.call_soon_threadsafe(getattr(self._events, "on_" + name), *args)
        except RuntimeError:     # the loop is closed: we are shutting down
            pass

    def registered(self, driver, framework_id, master_info):
        self._post("registered", framework_id["value"])

    def reregistered(self, driver, master_info):
        self._post("reregistered")

    def disconnected(self, driver):
        self._post("disconnected")

    def resourceOffers(self, driver, offers):
        self._post("offers", list(offers))

    def offerRescinded(self, driver, offer_id):
        self._post("rescinded", offer_id["value"])

    def statusUpdate(self, driver, status):
        self._post("status", status)

    def slaveLost(self, driver, agent_id):
        self._post("agent_lost", agent_id.get("value"))

    def executorLost(self, driver, executor_id, agent_id, status):
        self._post("executor_lost", executor_id.get("value"), agent_id.get("value"), status)

    def error(self, driver, message):
        self._post("error", message)

    def processHeartBeat(self, driver):
        pass

    def frameworkMessage(self, driver, executor_id, agent_id, message):
        log.debug("framework message from %s ignored", executor_id)

    def inverseOffers(self, driver, offers):
        pass

    def inverseOfferRescinded(self, driver, offer_id):
        pass

    def operationStatusUpdate(self, driver, status):
        pass
