"""The scheduler's HTTP surface against a stand-in daemon: /leaderhealth's three answers, redirects of /api and
UI paths (307 to the leader, 503 with none, the bypass header; served on the leader), metrics formats."""
import asyncio
import json

from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from scheduler.app.http import make_app


class FakeStorage:
    state = "PREPARED"

    def __init__(self):
        from scheduler.storage.store import Store
        self.store = Store()


class FakeDaemon:
    leading = False
    leader = None

    def __init__(self):
        self.storage = FakeStorage()

    def vars(self):
        return {"task_store_PENDING": 2, "framework_registered": 0}


def serve(check):
    """Run `check(daemon, fetch)` against the app on a free loopback port."""
    async def main():
        daemon = FakeDaemon()
        sockets = bind_sockets(0, "127.0.0.1")
        server = HTTPServer(make_app(daemon, object()))
        server.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        client = AsyncHTTPClient()

        async def fetch(path, **kwargs):
            return await client.fetch(f"http://127.0.0.1:{port}{path}", follow_redirects=False, raise_error=False,
                                      **kwargs)
        try:
            await check(daemon, fetch)
        finally:
            server.stop()
            client.close()
    asyncio.run(main())


def test_leaderhealth():
    async def check(daemon, fetch):
        assert (await fetch("/leaderhealth")).code == 502
        daemon.leader = ("sched2", 8081)
        assert (await fetch("/leaderhealth")).code == 503
        daemon.leading = True
        assert (await fetch("/leaderhealth")).code == 200
    serve(check)


def test_redirects_and_the_bypass_header():
    async def check(daemon, fetch):
        assert (await fetch("/api", method="POST", body=b"x")).code == 503
        assert (await fetch("/scheduler/www")).code == 503
        daemon.leader = ("sched2", 8081)
        reply = await fetch("/api?a=1", method="POST", body=b"x")
        assert (reply.code, reply.headers["Location"]) == (307, "http://sched2:8081/api?a=1")
        reply = await fetch("/updates")
        assert (reply.code, reply.headers["Location"]) == (307, "http://sched2:8081/updates")
        # Bypassed (or leading): served here; a follower holds no state, so 503 (storage not READY).
        reply = await fetch("/updates", headers={"Bypass-Leader-Redirect": "true"})
        assert reply.code == 503 and b"Storage is not READY" in reply.body
        daemon.leading = True
        daemon.storage.state = "READY"
        assert (await fetch("/scheduler")).code == 200
        assert (await fetch("/utilization")).code == 404      # a UI path no page serves
        reply = await fetch("/scheduler/nobody")
        assert reply.code == 404 and b"no jobs of role nobody" in reply.body
    serve(check)


def test_health_and_metrics():
    async def check(daemon, fetch):
        assert (await fetch("/health")).body == b"OK\n"
        assert (await fetch("/vars")).body == b"framework_registered 0\ntask_store_PENDING 2\n"
        assert json.loads((await fetch("/vars.json")).body) == {"framework_registered": 0, "task_store_PENDING": 2}
        assert b"# TYPE task_store_PENDING gauge\ntask_store_PENDING 2\n" in (await fetch("/metrics")).body
    serve(check)
