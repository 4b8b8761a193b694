"""Stand-in for Wok's ``wok`` package (see ``tests/integration/wokstandin``)."""
