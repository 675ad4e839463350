"""Request and response bodies of the accounts endpoints."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class LoginRequest(BaseModel):
    """Username and password, exchanged for an API token."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    token_name: str = Field(default="login", max_length=100)


class TokenOut(BaseModel):
    """A freshly issued API token: shown once."""

    token: str
    username: str
    role: str
    expires_at: datetime | None


class UserOut(BaseModel):
    """Who the token belongs to."""

    username: str
    role: str


class AccountOut(BaseModel):
    """A hub account as admins see it."""

    username: str
    role: str
    active: bool
    created_at: datetime


class TokenInfo(BaseModel):
    """An API token as admins see it: never its value."""

    id: int
    username: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class PasswordRequest(BaseModel):
    """A new password for an account; omitted, the hub generates one."""

    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(default=None, min_length=8, max_length=1024)


class PasswordChanged(BaseModel):
    """A changed password: the generated one is shown once; the old tokens are revoked."""

    username: str
    password: str | None
    revoked_tokens: int
