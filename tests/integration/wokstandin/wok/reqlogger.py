"""Stand-in for ``src/wok/reqlogger.py`` ``log_request``: one JSON line per entry, the
message code and its params, the error, and ``info`` with ``app`` (the mounted app's
script name), ``req`` (the method), ``status``, ``user`` and ``ip``; Wok's defaults for
``app``, ``user`` and ``ip`` come from the current request. Lines go to
``$WOKSTANDIN_REQUEST_LOG``."""

import json
import os

import cherrypy


def log_request(
    code, params, exception, method, status, app=None, user=None, ip=None, **_names
) -> str:
    if app is None:
        app = cherrypy.request.app.script_name
    if user is None:
        user = cherrypy.session.get("username", "N/A") or "N/A"
    if ip is None:
        ip = cherrypy.request.remote.ip
    entry = {
        "message": {"code": code, "params": params},
        "error": exception,
        "info": {"app": app, "req": method, "status": status, "user": user, "ip": ip},
    }
    with open(os.environ["WOKSTANDIN_REQUEST_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")
    return code
