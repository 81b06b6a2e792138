"""Route matching that skips a whole resource router at once when the path cannot be its.

FastAPI (0.16x) matches an included router by trying each of its routes in turn, for every
router included before the one that serves the request, and again on the way down to the
route. With ~20 routers that was most of the CPU an ordinary request cost.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.routing import Match
from starlette.types import Scope


class PrefixGuardedRouter(APIRouter):
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # Every route path of this router contains its own prefix, whatever it is included
        # under (and the slash-redirect probe only adds or drops a trailing slash), so a
        # path without it matches nothing here.
        if self.prefix and self.prefix not in scope["path"]:
            return Match.NONE, {}
        return super().matches(scope)


def include_routers(app: FastAPI, prefix: str, routers: list[APIRouter]) -> None:
    """Include each router straight into the app: every nesting level repeats the matching."""
    for router in routers:
        if type(router) is APIRouter:
            # The guard only overrides matching, so the router's state is valid as is.
            router.__class__ = PrefixGuardedRouter
        app.include_router(router, prefix=prefix)
