"""The scheduler's HTTP surface against a stand-in daemon: /leaderhealth's three answers, redirects of /api and
UI paths (307 to the leader, 503 with none, the bypass header), metrics formats."""
import json

import tornado.testing

from scheduler.app.http import make_app


class FakeDaemon:
    leading = False
    leader = None

    def vars(self):
        return {"task_store_PENDING": 2, "framework_registered": 0}


class FakeApi:
    pass


class SchedulerHttpTest(tornado.testing.AsyncHTTPTestCase):
    def get_app(self):
        self.daemon = FakeDaemon()
        return make_app(self.daemon, FakeApi())

    def fetch_(self, path, **kwargs):
        return self.fetch(path, follow_redirects=False, raise_error=False, **kwargs)

    def test_leaderhealth(self):
        assert self.fetch_("/leaderhealth").code == 502
        self.daemon.leader = ("sched2", 8081)
        assert self.fetch_("/leaderhealth").code == 503
        self.daemon.leading = True
        assert self.fetch_("/leaderhealth").code == 200

    def test_redirects(self):
        assert self.fetch_("/api", method="POST", body=b"x").code == 503
        assert self.fetch_("/scheduler/www").code == 503
        self.daemon.leader = ("sched2", 8081)
        reply = self.fetch_("/api?a=1", method="POST", body=b"x")
        assert (reply.code, reply.headers["Location"]) == (307, "http://sched2:8081/api?a=1")
        reply = self.fetch_("/updates")
        assert (reply.code, reply.headers["Location"]) == (307, "http://sched2:8081/updates")
        # Bypassed (or leading): served here; no UI yet, so 404.
        assert self.fetch_("/updates", headers={"Bypass-Leader-Redirect": "true"}).code == 404
        self.daemon.leading = True
        assert self.fetch_("/scheduler").code == 404

    def test_health_and_metrics(self):
        assert self.fetch_("/health").body == b"OK\n"
        assert self.fetch_("/vars").body == b"framework_registered 0\ntask_store_PENDING 2\n"
        assert json.loads(self.fetch_("/vars.json").body) == {"framework_registered": 0, "task_store_PENDING": 2}
        assert b"# TYPE task_store_PENDING gauge\ntask_store_PENDING 2\n" in self.fetch_("/metrics").body
