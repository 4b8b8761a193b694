"""The WebSocket side: one-time tokens and the websockify proxy process."""
