"""The authentication hook every agent route (but register) passes through."""

from __future__ import annotations

from ..auth.guard import bearer
from ..web import Call
from . import instances, tokens
from .models import Agent


def agent(call: Call) -> Agent:
    host, instance = tokens.verify(bearer(call))
    if instance is not None:
        instances.take_over(host, instance)
    return host
