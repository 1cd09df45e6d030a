"""DSI: distributed speculative inference (simulator, runtime)."""
