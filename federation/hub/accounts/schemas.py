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
