"""A stand-in for Wok 3.0 (kimchi-project/wok): its plugin loader, login and request log.

Wok is in no package registry, so the tests run the adapter inside this stand-in, which
does what Wok's own modules do at the points the adapter meets them (each module names
the Wok source it mirrors). ``serve.py`` runs it; put this directory on PYTHONPATH so
``import wok`` finds the stand-in.
"""
