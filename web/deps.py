"""Dependencies declared as types at the web boundary."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from sqlalchemy.orm import Session

from pipeline.context import Context
from storage.db import session_scope
from storage.models import Role, User
from storage.users import authenticate

basic = HTTPBasic(realm="mailroom")


def get_ctx(request: Request) -> Context:
    return request.app.state.ctx


CtxDep = Annotated[Context, Depends(get_ctx)]


def get_session(ctx: CtxDep) -> Iterator[Session]:
    with session_scope(ctx.db_url) as s:
        yield s


SessionDep = Annotated[Session, Depends(get_session)]


def current_user(session: SessionDep, creds: Annotated[HTTPBasicCredentials, Depends(basic)]) -> User:
    user = authenticate(session, creds.username, creds.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Wrong user name or password.",
                            headers={"WWW-Authenticate": 'Basic realm="mailroom"'})
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require(*roles: Role):  # type: ignore[no-untyped-def]
    allowed = {r.value for r in roles} | {Role.ADMIN.value}

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found.")
        return user

    return Depends(check)
