"""Guests and console sessions."""
