"""The plugin inside a real Wok 3.0 server (kimchi-project/wok): an adapter that is to Wok
what ``serialconsole-host`` is on its own, a host implementing the ``hookspecs.Host``
contract. The plugin itself stays framework-neutral and never imports this package.

Wok loads ``wok.plugins.serialconsole.Serialconsole`` from its plugins directory; the shim
installed there (``contrib/wok/serialconsole/``) re-exports ``root.Serialconsole``. Wok's
own modules are imported only here, and only when Wok calls us.
"""
