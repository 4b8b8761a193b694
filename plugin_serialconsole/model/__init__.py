"""Guests and console sessions: what a request for a console does."""
