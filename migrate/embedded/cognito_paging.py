"""Cognito's answer to a pagination token it does not accept, which moto gives under another error code.

Cognito answers a list request whose pagination token it cannot use (expired, or not one of its own) with
``InvalidParameterException`` (the ListUsers / ListUsersInGroup / ListGroups API references list it for an
invalid parameter; the message reads "Paging marker ... is invalid for request", aws/aws-sdk-js#3705). moto's
generic paginator raises its own ``InvalidToken`` error instead, a code no Cognito client is written for. This
patch makes moto's Cognito list operations answer as Cognito does; the listing itself is moto's.
"""

from __future__ import annotations

import functools
from typing import Any

_TOKEN_ARGUMENTS = {"list_users": "pagination_token", "list_users_in_group": "next_token", "list_groups": "next_token"}
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.cognitoidp.exceptions import InvalidParameterException
    from moto.cognitoidp.models import CognitoIdpBackend
    from moto.core.exceptions import InvalidToken

    for name, token_argument in _TOKEN_ARGUMENTS.items():
        original = getattr(CognitoIdpBackend, name)

        @functools.wraps(original)
        def listing(self: Any, *args: Any, _original: Any = original, _token: str = token_argument,
                    **kwargs: Any) -> Any:
            try:
                return _original(self, *args, **kwargs)
            except InvalidToken:
                raise InvalidParameterException(
                    f"Paging marker {kwargs.get(_token)} is invalid for request") from None

        setattr(CognitoIdpBackend, name, listing)
    _installed = True
