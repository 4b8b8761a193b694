"""The test suite: unit, integration (mock model), real-guest, browser, deploy and install
tests; ``tests.integration.helpers`` is the host harness the benchmark uses too."""
