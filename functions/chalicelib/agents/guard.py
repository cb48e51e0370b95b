"""The authentication hook every agent route (but register) passes through."""

from __future__ import annotations

from ..auth.guard import bearer
from ..web import Call
from . import tokens
from .models import Agent


def agent(call: Call) -> Agent:
    return tokens.verify(bearer(call))
