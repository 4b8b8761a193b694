"""A small standalone host implementing the Wok plugin contract (``serialconsole-host``)."""
