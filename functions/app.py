"""Fleetvisor control plane: creates the app, wires middleware and blueprints."""

from chalice import Chalice
from chalicelib import store, web
from chalicelib.agents.routes import bp as agents
from chalicelib.auth.routes import bp as auth
from chalicelib.jobs.routes import bp as jobs
from chalicelib.meta.routes import bp as meta
from chalicelib.vms.routes import bp as vms

app = Chalice(app_name="fleetvisor")
app.register_middleware(web.error_shape_middleware, "http")
store.bind()
for blueprint in (meta, auth, agents, vms, jobs):
    app.register_blueprint(blueprint)
