"""Fleetvisor control plane: creates the app, wires middleware and blueprints."""

from chalice import Chalice
from chalicelib import web
from chalicelib.agents.routes import bp as agents
from chalicelib.audit.routes import bp as audit
from chalicelib.auth.key_routes import bp as api_keys
from chalicelib.auth.routes import bp as auth
from chalicelib.changes.routes import bp as changes
from chalicelib.consoles.routes import bp as consoles
from chalicelib.deployments.routes import bp as deployments
from chalicelib.distribution.routes import bp as distribution
from chalicelib.jobs.routes import bp as jobs
from chalicelib.meta.routes import bp as meta
from chalicelib.metrics.routes import bp as metrics
from chalicelib.users.routes import bp as users
from chalicelib.vms.routes import bp as vms

app = Chalice(app_name="fleetvisor")
app.register_middleware(web.error_shape_middleware, "http")
for blueprint in (meta, auth, api_keys, users, agents, vms, jobs, consoles, audit, distribution, changes,
                  deployments, metrics):
    app.register_blueprint(blueprint)
