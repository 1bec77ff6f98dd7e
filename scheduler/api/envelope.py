"""Aurora's Response envelope: every API method answers with one, built here.

`{responseCode, serverInfo{clusterName, statsUrlPrefix}, result?, details[{message}]}`; a result is set only
with OK (Aurora's rule; its one exception, startJobUpdate refused for an update in progress, names that update
in a startJobUpdateResult), and `details` is always a list so clients can iterate it without a None check.
"""

from thermos_executor.aurora_api.gen.ttypes import Response, ResponseCode, ResponseDetail, Result, ServerInfo


def server_info(settings) -> ServerInfo:
    """The ServerInfo every Response of this scheduler carries, from its ApiSettings (-cluster_name,
    -viz_job_url_prefix)."""
    return ServerInfo(clusterName=settings.cluster_name, statsUrlPrefix=settings.stats_url_prefix)


def response(code: int, server_info: ServerInfo, *messages: str, result: Result | None = None) -> Response:
    """A Response with `code` (a ResponseCode) and one detail per message."""
    if result is not None and code != ResponseCode.OK and result.startJobUpdateResult is None:
        raise ValueError("a Response carries a result only when OK")
    return Response(
        responseCode=code,
        serverInfo=server_info,
        result=result,
        details=[ResponseDetail(message=m) for m in messages],
    )


def ok(server_info: ServerInfo, result: Result | None = None, *messages: str) -> Response:
    return response(ResponseCode.OK, server_info, *messages, result=result)
