"""The hypersweep server: a FastAPI app over one store, and ways to run it.

``create_app(store)`` builds the ``/api/v1`` app (one router per resource; handlers call the
controller and the store, never SQL). ``EmbeddedServer`` runs it on a free loopback port in a
background thread (quickstart, tests); ``serve`` runs it in the foreground (``hypersweep
server``).
"""

from hypersweep.server._app import create_app
from hypersweep.server._embedded import EmbeddedServer, PortInUse, bind, serve

__all__ = ["EmbeddedServer", "PortInUse", "bind", "create_app", "serve"]
