"""Tiny request/response helpers for the emulator (standard library only)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

_DEC = re.compile(r'"\\u0000DEC:(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')


def _mark_decimals(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"\x00DEC:{value:f}\x00"
    if isinstance(value, dict):
        return {k: _mark_decimals(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mark_decimals(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """JSON where Decimals are plain numbers with their exact digits (19.90 stays 19.90)."""
    return _DEC.sub(r"\1", json.dumps(_mark_decimals(value)))


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def is_form(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[-1] for k, v in parsed.items()}

    def json(self, *, decimals: bool = False) -> Any:
        """Parsed JSON body (floats as Decimal when asked). Raises ValueError on bad JSON."""
        text = self.body.decode("utf-8")
        if not text.strip():
            return {}
        if decimals:
            return json.loads(text, parse_float=Decimal)
        return json.loads(text)


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, value: Any, status: int = 200, headers: dict[str, str] | None = None):
        return cls(
            status,
            dumps(value).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )

    @classmethod
    def error(cls, status: int, code: str, message: str):
        return cls.json({"error": {"code": code, "message": message}}, status)

    @classmethod
    def html(cls, text: str, status: int = 200):
        return cls(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})

    @classmethod
    def redirect(cls, location: str):
        return cls(303, b"", {"Location": location})
