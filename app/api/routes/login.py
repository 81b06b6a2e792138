from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import SQLModel

from app.api.deps import CurrentUser, SessionDep, SettingsDep
from app.api.rate_limit import count_login_attempt
from app.models.user import UserPublic
from app.services import auth

router = APIRouter(tags=["login"])


class Token(SQLModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


@router.post("/login/access-token", response_model=Token)
async def login_access_token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form_data: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    """OAuth2 compatible token login: the username is the email."""
    await count_login_attempt(request, form_data.username)
    token = await auth.login(session, settings, form_data.username, form_data.password)
    return Token(access_token=token.access_token, expires_in=token.expires_in)


@router.post("/login/test-token", response_model=UserPublic)
async def test_token(current_user: CurrentUser) -> UserPublic:
    """Test access token."""
    return UserPublic.model_validate(current_user)
