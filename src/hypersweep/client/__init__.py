"""What training code and tools use to talk to a hypersweep server (no FastAPI, no SQLAlchemy)."""

from hypersweep.client._http import DEFAULT_SERVER, ApiClient, server_url, split_sweep_path

__all__ = ["DEFAULT_SERVER", "ApiClient", "server_url", "split_sweep_path"]
