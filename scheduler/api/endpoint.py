"""POST /api as a tornado handler: headers and body in, `protocol.call`'s reply out, nothing else.

Mount with `(r"/api", ApiHandler, {"handler": scheduler_api})`; leader redirects and authentication belong to
the application around it.
"""

import tornado.web

from scheduler.api import protocol


class ApiHandler(tornado.web.RequestHandler):
    def initialize(self, handler):
        self._api = handler

    async def post(self):
        headers = self.request.headers
        reply = await protocol.call(self._api, self.request.body, headers.get("Content-Type"), headers.get("Accept"))
        self.set_status(reply.status)
        self.set_header("Content-Type", reply.content_type)
        self.finish(reply.body)
