"""The per-guest console process: one Unix socket, one client, one guest console."""
