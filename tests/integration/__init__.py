"""Integration tests: the host as a subprocess, REST and WebSocket clients."""
