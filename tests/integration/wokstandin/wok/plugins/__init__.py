"""Stand-in for ``wok.plugins``: Wok imports a plugin as ``wok.plugins.<name>`` from its
plugins directory (``src/wok/config.py.in`` ``Paths.plugins_dir``; ``src/wok/utils.py``
``load_plugin``: ``import_class(f'wok.plugins.{name}.{Name}')``)."""

import os

__path__ = [os.environ["WOKSTANDIN_PLUGINS_DIR"]]
