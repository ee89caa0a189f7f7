"""API keys with two roles. Keys are compared in constant time and never logged."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from enum import Enum

from fastapi import Depends, HTTPException, Request

audit = logging.getLogger("regqa.audit")


class Role(str, Enum):
    read = "read"
    admin = "admin"


@dataclass(frozen=True)
class Principal:
    role: Role
    name: str  # a non-secret label for audit lines: the key's position, never the key


class KeyRing:
    def __init__(self, pairs: list[tuple[str, Role]]) -> None:
        self._keys = [(key.encode(), role) for key, role in pairs]

    @classmethod
    def parse(cls, value: str | None) -> KeyRing:
        pairs: list[tuple[str, Role]] = []
        for item in (value or "").split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, role = item.rpartition(":")
            if not sep or not key or role not in Role.__members__:
                raise ValueError("REGQA_API_KEYS must be comma-separated KEY:ROLE pairs with ROLE read or admin")
            if len(key) < 16:
                raise ValueError("API keys must be at least 16 characters long")
            pairs.append((key, Role(role)))
        return cls(pairs)

    @property
    def configured(self) -> bool:
        return bool(self._keys)

    @property
    def has_admin(self) -> bool:
        return any(role is Role.admin for _, role in self._keys)

    def identify(self, presented: str | None) -> Principal | None:
        """The role of a presented key; every stored key is compared, so timing reveals nothing."""
        if not presented:
            return None
        given = presented.encode()
        found: Principal | None = None
        for i, (key, role) in enumerate(self._keys):
            if hmac.compare_digest(key, given) and found is None:
                found = Principal(role, f"key#{i + 1}:{role.value}")
        return found


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


def require(role: Role):  # noqa: ANN201 - a FastAPI dependency
    def check(request: Request) -> Principal:
        keyring: KeyRing = request.app.state.keyring
        if not keyring.configured:
            return Principal(Role.admin, "local")  # no keys: loopback-only server, no roles
        presented = presented_key(request)
        principal = keyring.identify(presented)
        if role is Role.admin and (principal is None or principal.role is not Role.admin):
            who = principal.name if principal else ("unknown-key" if presented else "no-key")
            audit.warning("admin=%s action=denied method=%s path=%r", who, request.method, request.url.path)
        if principal is None:
            raise HTTPException(401, "a valid API key is required (Authorization: Bearer KEY or X-API-Key)",
                                headers={"WWW-Authenticate": "Bearer"})
        if role is Role.admin and principal.role is not Role.admin:
            raise HTTPException(403, "this route needs an admin key")
        return principal

    return Depends(check)
