"""Unit tests: modules on their own, no host process."""
