"""Fleetvisor control plane: everything Chalice packages besides app.py.

Importing the package binds every model to this stage's tables. Each Lambda's
entry point is a module in here (the API's is app.py, which imports it; the
scheduled sweeper's is `chalicelib.jobs.routes.sweep_jobs`, which app.py never
precedes), so binding here is the one place that covers them all.
"""

import os

from . import store
from .settings import from_environment

# Not settings(): importing the package must not freeze the process's settings (tests import it
# before they point the environment at the emulators, then rebind with store.bind()).
store.bind(from_environment(os.environ))
