"""Binds every PynamoDB model to its table name for the current stage.

Table names are `<prefix><suffix>`, the same names the infra template gives
them; `TABLES` maps the template's logical ids to the model that owns each
table (a test holds the two against each other). Endpoints come from the
environment (AWS_ENDPOINT_URL_DYNAMODB), never from Meta.host.
"""

from __future__ import annotations

from pynamodb.models import Model

from .agents.models import Agent, EnrollmentToken
from .audit.models import AuditRecord
from .auth.models import ApiKey, EmailClaim, Session, Throttle, User
from .consoles.models import Console
from .jobs.models import Job
from .settings import Settings, settings
from .vms.models import Vm

# logical id in infra/template.yaml → (table name suffix, models stored in it; the first owns the schema)
TABLES: dict[str, tuple[str, tuple[type[Model], ...]]] = {
    "UsersTable": ("users", (User, EmailClaim)),
    "EnrollmentTokensTable": ("enrollment-tokens", (EnrollmentToken,)),
    "AgentsTable": ("agents", (Agent,)),
    "VmsTable": ("vms", (Vm,)),
    "JobsTable": ("jobs", (Job,)),
    "ConsolesTable": ("consoles", (Console,)),
    "AuditTable": ("audit", (AuditRecord,)),
    "SessionsTable": ("sessions", (Session,)),
    "ApiKeysTable": ("api-keys", (ApiKey,)),
    "ThrottleTable": ("throttle", (Throttle,)),
}


def bind(config: Settings | None = None) -> None:
    config = config or settings()
    for suffix, models in TABLES.values():
        for model in models:
            model.Meta.table_name = config.table_prefix + suffix
            model.Meta.region = config.region
            model._connection = None  # rebuilt on next use with the new name
