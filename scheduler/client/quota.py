"""`aurora quota get CLUSTER/ROLE` (Aurora's client/cli/quota.py)."""
from __future__ import annotations

from . import exits
from .options import JSON_WRITE_OPTION, ROLE_ARGUMENT
from .registry import Noun, Verb

NOUN = Noun("quota", "Work with quota settings for an Apache Aurora cluster")


@NOUN.verb
class GetQuota(Verb):
    name = "get"
    help = "Print information about quotas for a role"
    options = (JSON_WRITE_OPTION, ROLE_ARGUMENT)

    def execute(self, context):
        import json

        from .render import quota_pretty, simple_json
        cluster, role = context.options.role
        reply = context.get_api(cluster).getQuota(role)
        context.log_response_and_raise(reply, err_msg=f"Error retrieving quota for role {role}")
        result = reply.result.getQuotaResult
        context.print_out(json.dumps(simple_json(result)) if context.options.write_json else quota_pretty(result))
        return exits.EXIT_OK
