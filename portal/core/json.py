"""JSON decoding that treats nesting deeper than the interpreter can follow as malformed input.

The stdlib decoder raises RecursionError for a document nested deeper than the recursion limit (about 1,000 levels).
Nothing expects that error: Flask turns only ValueError into a 400, so ``{"order": [[[[...]]]]}`` was a 500, and
python-socketio decodes an event before any handler runs, so a deep payload was no answer at all.
"""

from __future__ import annotations

import re
from typing import Any

from engineio import json as engineio_json
from flask.json.provider import DefaultJSONProvider


class PortalJSONProvider(DefaultJSONProvider):
    """``app.json``: used by ``request.get_json()`` (and ``flask.json.loads``) for every JSON endpoint."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            # A ValueError is what Flask answers 400 to (``get_json(silent=True)``: None).
            raise ValueError("JSON nested too deeply") from None


class Unreadable:
    """The argument a socket handler receives in place of a payload that could not be decoded."""

    def __repr__(self) -> str:
        return "<unreadable payload>"


UNREADABLE = Unreadable()

# A Socket.IO event's data is a JSON array that starts with the event name: `["resume", {...}]`.
_EVENT_NAME = re.compile(r'\[\s*"([A-Za-z][A-Za-z0-9_.]{0,63})"\s*,')


class SocketJSON:
    """The JSON module of the Socket.IO server (``SocketIO(json=...)``): engineio's (integers of at most 100
    digits), except that an event whose arguments cannot be decoded (nested too deep, a 200-digit number, broken
    JSON) still reaches its handler, with ``UNREADABLE`` as its one argument, so the handler answers its error ack
    instead of the client waiting for an answer that never comes."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        return engineio_json.dumps(obj, **kwargs)

    @staticmethod
    def loads(s: str | bytes, **kwargs: Any) -> Any:
        try:
            return engineio_json.loads(s, **kwargs)
        except (RecursionError, ValueError):
            # Only a Socket.IO event keeps its name; anything else (Engine.IO probes its messages for JSON and falls
            # back to the raw text on ValueError) gets the ValueError it expects.
            match = _EVENT_NAME.match(s) if isinstance(s, str) else None
            if match is None:
                raise ValueError("unreadable JSON") from None
            return [match.group(1), UNREADABLE]
