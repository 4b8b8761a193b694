"""Request and response plumbing shared by every REST handler.

Bodies are read and validated here (never by cherrypy's HTML-error tools), so every bad
request gets the same JSON error shape: ``{"code": "SCONS....E", "reason": ...}``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

import cherrypy
import jsonschema

from plugin_serialconsole import httpvalues, i18n, languages
from plugin_serialconsole.errors import SerialConsoleError

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
STATUS_CODES = {
    404: i18n.RESOURCE_NOT_FOUND,
    405: i18n.METHOD_NOT_ALLOWED,
    413: i18n.BODY_TOO_LARGE,
    500: i18n.INTERNAL_ERROR,
}
UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_FILENAME_STEM = 100


@cache
def api_schema() -> dict[str, Any]:
    return json.loads(resources.files("plugin_serialconsole").joinpath("API.json").read_text())


def request_language(available: frozenset[str] | None = None) -> str:
    """The request's language among ``available`` (default: the compiled server catalogs)."""
    request = cherrypy.request
    return languages.request_language(
        request.headers.get("Accept-Language"), request.params.get("lang"), available
    )


def _media_quality(accept: str, media_type: str) -> float:
    """How much ``accept`` wants ``media_type``: the q of its most specific matching range."""
    kind = media_type.split("/")[0]
    best = (-1, 0.0)  # (specificity, quality)
    for item in accept.split(","):
        media_range, *params = item.strip().split(";")
        media_range = media_range.strip().lower()
        specificity = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(media_range)
        if specificity is None or specificity < best[0]:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        best = (specificity, quality)
    return best[1]


def prefers_html(accept: str | None) -> bool:
    """True when ``Accept`` ranks HTML above JSON (a browser navigating), not on a tie."""
    if not accept:
        return False
    return _media_quality(accept, "text/html") > _media_quality(accept, "application/json")


def json_body(action: str) -> dict[str, Any]:
    """The request's JSON body (``{}`` when empty), validated against API.json[action]."""
    request = cherrypy.request
    raw = _read_body(request)
    if not raw.strip():
        document: Any = {}
    else:
        content_type = request.headers.get("Content-Type", "application/json")
        if content_type.split(";")[0].strip().lower() not in ("application/json", ""):
            raise SerialConsoleError(i18n.BODY_NOT_JSON_TYPE, 415)
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise SerialConsoleError(i18n.BODY_NOT_JSON, 400, error=str(error)) from None
        except RecursionError:  # e.g. [[[[… a thousand deep
            raise SerialConsoleError(i18n.BODY_NOT_JSON, 400, error="nested too deeply") from None
    validate(action, document)
    return document


def _read_body(request) -> bytes:
    """The raw body, sized by Content-Length or chunked; at most MAX_BODY bytes."""
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    length = _content_length(request.headers.get("Content-Length"))
    if length > MAX_BODY:
        raise SerialConsoleError(i18n.BODY_TOO_LARGE, 413, limit=MAX_BODY)
    if chunked:
        raw = request.body.fp.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise SerialConsoleError(i18n.BODY_TOO_LARGE, 413, limit=MAX_BODY)
        return raw
    return request.body.fp.read(length) if length > 0 else b""


def _content_length(value: str | None) -> int:
    """Content-Length as RFC 9110 has it, decimal digits only: not -1, +5, 0x10 or 1_0
    (which ``int()`` would take)."""
    if value is None:
        return 0
    try:
        return httpvalues.content_length(value)
    except ValueError as error:
        raise SerialConsoleError(i18n.BAD_FRAMING, 400, error=str(error)) from None


def query_params(action: str) -> dict[str, str]:
    """The request's query parameters (but ``lang``, which any call may carry), checked
    against the schema of ``action``."""
    params = {k: v for k, v in cherrypy.request.params.items() if k != "lang"}
    validate(action, params)
    return params


def validate(action: str, document: Any) -> None:
    schema = api_schema()["properties"][action]
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(document)
    )
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "body"
        raise SerialConsoleError(i18n.INVALID_REQUEST, 400, error=f"{where}: {error.message}")


def respond(status: int, document: Any = None) -> bytes:
    cherrypy.response.status = status
    if status == 204:
        cherrypy.response.headers.pop("Content-Type", None)
        return b""
    cherrypy.response.headers["Content-Type"] = "application/json; charset=utf-8"
    return json.dumps(document, ensure_ascii=False).encode()


def safe_filename(stem: str, suffix: str) -> str:
    """``stem`` + ``suffix`` as a file name any browser and file system takes: ASCII
    letters, digits, ``._-`` only (runs of anything else become ``_``), no leading dot."""
    safe = UNSAFE_IN_FILENAME.sub("_", stem).strip("._-")[:MAX_FILENAME_STEM]
    return f"{safe or 'console'}{suffix}"


def respond_file(data: bytes, filename: str) -> bytes:
    """``data`` as a download named ``filename`` (which must be ``safe_filename``'s)."""
    headers = cherrypy.response.headers
    cherrypy.response.status = 200
    headers["Content-Type"] = "application/octet-stream"
    headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Cache-Control"] = "no-store"
    return data


def respond_stream(lines: Iterator[bytes], filename: str, media_type: str) -> Iterator[bytes]:
    """``lines`` as a download named ``filename`` (``safe_filename``'s), sent as they come
    (chunked): never all in memory."""
    respond_file(b"", filename)
    cherrypy.response.headers["Content-Type"] = media_type
    cherrypy.response.stream = True
    return lines


def error_document(error: SerialConsoleError, language: str) -> dict[str, str]:
    return {"code": error.code, "reason": error.reason(language)}


def respond_error(error: SerialConsoleError) -> bytes:
    return respond(error.status, error_document(error, request_language()))


def cherrypy_error_page(status: str, message: str, traceback: str, version: str) -> str:
    """JSON for errors cherrypy raises itself (before or outside our handlers)."""
    code_number = int(str(status).split()[0])
    code = STATUS_CODES.get(code_number, i18n.HTTP_ERROR)
    params = {
        "path": cherrypy.request.path_info,
        "method": cherrypy.request.method,
        "status": code_number,
        "limit": MAX_BODY,
    }
    cherrypy.response.headers["Content-Type"] = "application/json; charset=utf-8"
    try:
        language = request_language()
    except Exception:  # the request itself may be what is broken
        language = i18n.DEFAULT_LANGUAGE
    return json.dumps({"code": code, "reason": i18n.translate(code, params, language)})
