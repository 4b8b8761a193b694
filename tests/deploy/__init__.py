"""Deployment files: packaging metadata and the systemd unit."""
