"""The DSI runtime's former path: it lives in [`specproof.dsi.runtime`][specproof.dsi.runtime]."""

from specproof.dsi.runtime import DSIConfig, make_servers, run_dsi, run_nonsi, run_si

__all__ = ["DSIConfig", "make_servers", "run_dsi", "run_nonsi", "run_si"]
