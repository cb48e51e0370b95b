"""moto's server with two pieces of AWS's IAM semantics it lacks, for the offline proof (infra/offline.py).

    python -m infra.moto_iam -H 127.0.0.1 -p PORT      # as `moto_server`, with INITIAL_NO_AUTH_ACTION_COUNT

1. Session policies. AWS grants an assumed-role session what the role's
   policies AND the session policy passed to AssumeRole both allow; moto
   ignores the session policy. Agents' doorbell credentials are narrowed to
   one queue by nothing else (functions/chalicelib/jobs/queue_access.py), so
   without this a test could not show that one host's credentials cannot
   reach another host's queue.
2. A role's sessions as a principal. AWS matches a trust policy's
   `{"AWS": "arn:aws:iam::ACCOUNT:role/NAME"}` for every session of that role;
   moto compares the caller's session ARN with the role ARN as strings and
   never matches. The agent doorbell role trusts the functions' role this way.

3. Batch actions. AWS authorizes SQS's DeleteMessageBatch as sqs:DeleteMessage
   (and SendMessageBatch, ChangeMessageVisibilityBatch likewise); moto asks
   for an action named after the batch call, which no policy of ours grants.

Each patch only refuses more (1) or matches what AWS matches (2, 3); nothing
else of moto changes. Written against moto 5.2.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from moto.iam import access_control
from moto.sts.models import sts_backends

_SESSION_ARN = re.compile(r"arn:(?P<partition>[^:]+):sts::(?P<account>\d+):assumed-role/(?P<role>[^/]+)/[^/]+")
_check_action_permitted = access_control.IAMRequestBase.check_action_permitted
_check_principal = access_control.IAMPolicyStatement._check_principal


def _session_policy(key: Any) -> str | None:
    for assumed in sts_backends[key.account_id][key.partition].assumed_roles:
        if assumed.access_key_id == key._access_key_id:
            return assumed.policy
    return None


# The action AWS checks for each batch call.
BATCH_ACTIONS = {"sqs:DeleteMessageBatch": "sqs:DeleteMessage", "sqs:SendMessageBatch": "sqs:SendMessage",
                 "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}


def check_action_permitted(self: Any, resource: str) -> None:
    """The role's policies as moto checks them, then the session's own policy as AWS does."""
    self._action = BATCH_ACTIONS.get(self._action, self._action)
    _check_action_permitted(self, resource)
    key = self._access_key
    if self._action == "sts:GetCallerIdentity" or not isinstance(key, access_control.AssumedRoleAccessKey):
        return
    policy = _session_policy(key)
    if policy is None:
        return
    result = access_control.IAMPolicy(policy).is_action_permitted(self._action, resource)
    if result != access_control.PermissionResult.PERMITTED:
        self._raise_access_denied()


def check_principal(self: Any, principal: str) -> bool:
    """A session ARN also matches its role's ARN, as AWS's trust policies do."""
    if _check_principal(self, principal):
        return True
    session = _SESSION_ARN.fullmatch(principal)
    if session is None:
        return False
    role_arn = f"arn:{session['partition']}:iam::{session['account']}:role/{session['role']}"
    return bool(_check_principal(self, role_arn))


def patch() -> None:
    access_control.IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]
    access_control.IAMPolicyStatement._check_principal = check_principal  # type: ignore[method-assign]


def main() -> None:
    patch()
    from moto.server import main as moto_main  # noqa: PLC0415 - after the patch, as the server imports

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
