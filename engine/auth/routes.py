"""HTTP routes of user administration under ``/api/v1/users`` (管理员 only): list and create
users, change role / active / password, issue and revoke API tokens.

Thin entry points over :mod:`engine.auth.accounts` and :func:`engine.auth.users.create_user`.
Tokens are returned in plain text once, at creation; listings show only their prefix.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.auth import accounts
from engine.auth.access import allow, current_principal
from engine.auth.roles import STAFF_ROLES
from engine.auth.users import create_user, hash_token
from engine.rulesets.schemas import ErrorBodySchema

blp = Blueprint("users", __name__, url_prefix="/users",
                description="Users, roles and API tokens (管理员 only)")

_ROLE = validate.OneOf([*STAFF_ROLES, *STAFF_ROLES.values()])


class TokenSchema(Schema):
    id = fields.Int()
    name = fields.Str()
    prefix = fields.Str(metadata={"description": "first characters of the token, to recognise it"})
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class UserSchema(Schema):
    id = fields.Int()
    username = fields.Str()
    display_name = fields.Str()
    role = fields.Str(metadata={"description": "admin, ops, warehouse, finance, cs or cs_lead"})
    active = fields.Bool()
    created_at = fields.DateTime()
    tokens = fields.List(fields.Nested(TokenSchema))


class UserCreateSchema(Schema):
    username = fields.Str(required=True, validate=validate.Regexp(r"^[\w.\-]{1,64}$"))
    role = fields.Str(required=True, validate=_ROLE)
    password = fields.Str(load_default=None, validate=validate.Length(min=accounts.MIN_PASSWORD_LENGTH, max=256))
    display_name = fields.Str(load_default="", validate=validate.Length(max=128))


class UserPatchSchema(Schema):
    role = fields.Str(load_default=None, validate=_ROLE)
    active = fields.Bool(load_default=None)
    password = fields.Str(load_default=None, validate=validate.Length(min=accounts.MIN_PASSWORD_LENGTH, max=256))
    display_name = fields.Str(load_default=None, validate=validate.Length(max=128))


class TokenCreateSchema(Schema):
    name = fields.Str(load_default="", validate=validate.Length(max=128))


class IssuedTokenSchema(TokenSchema):
    token = fields.Str(metadata={"description": "the token itself, shown only in this answer"})


def _services() -> Any:
    return current_app.extensions["orderpulse"]


def caller_token_hash() -> str | None:
    """The digest of the bearer token this request carries (None for a session)."""
    header = request.headers.get("Authorization", "")
    return hash_token(header[7:].strip()) if header.lower().startswith("bearer ") else None


def issued_body(issued: accounts.IssuedToken) -> dict[str, Any]:
    row = issued.row
    return {"id": row.id, "name": row.name, "prefix": row.prefix, "created_at": row.created_at,
            "last_used_at": row.last_used_at, "revoked_at": row.revoked_at, "token": issued.token}


@blp.route("", methods=["GET"])
@allow("admin")
@blp.response(200, UserSchema(many=True))
def list_users() -> Any:
    """Every user with their tokens (prefixes only)."""
    with _services().db.session() as s:
        return accounts.list_users(s)


@blp.route("", methods=["POST"])
@allow("admin")
@blp.arguments(UserCreateSchema())
@blp.response(201, UserSchema)
@blp.alt_response(409, schema=ErrorBodySchema, description="user_exists")
def create(args: dict[str, Any]) -> Any:
    """Create a user with a role (and a password to sign in to the builder)."""
    svc = _services()
    with svc.db.transaction(immediate=True) as s:
        user = create_user(s, args["username"], args["role"], args["password"],
                           display_name=args["display_name"], clock=svc.clock)
        user.tokens = []
        return user


@blp.route("/<int:user_id>", methods=["PATCH"])
@allow("admin")
@blp.arguments(UserPatchSchema())
@blp.response(200, UserSchema)
@blp.alt_response(404, schema=ErrorBodySchema)
@blp.alt_response(409, schema=ErrorBodySchema, description="own_account: an admin cannot disable or demote themself")
def patch(args: dict[str, Any], user_id: int) -> Any:
    """Change a user's role, active flag (disable / enable), password or display name."""
    with _services().db.transaction(immediate=True) as s:
        user = accounts.update_user(s, user_id, acting_user_id=current_principal().user_id, **args)
        _ = user.tokens  # loaded before the session closes
        return user


@blp.route("/<int:user_id>/tokens", methods=["POST"])
@allow("admin")
@blp.arguments(TokenCreateSchema())
@blp.response(201, IssuedTokenSchema)
@blp.alt_response(404, schema=ErrorBodySchema)
def create_token(args: dict[str, Any], user_id: int) -> Any:
    """Issue an API token for the user; the answer is the only time the token is shown."""
    svc = _services()
    with svc.db.transaction(immediate=True) as s:
        return issued_body(accounts.create_token(s, user_id, name=args["name"], clock=svc.clock))


@blp.route("/<int:user_id>/tokens/<int:token_id>", methods=["DELETE"])
@allow("admin")
@blp.response(200, TokenSchema)
@blp.alt_response(404, schema=ErrorBodySchema)
@blp.alt_response(409, schema=ErrorBodySchema, description="own_token: the token this request uses")
def revoke_token(user_id: int, token_id: int) -> Any:
    """Revoke a token: refused from the next request on."""
    svc = _services()
    with svc.db.transaction(immediate=True) as s:
        return accounts.revoke_token(s, user_id, token_id, now=svc.clock.now(),
                                     caller_token_hash=caller_token_hash())


class TokenRevokeSchema(Schema):
    id = fields.Int(load_default=None, strict=True,
                    metadata={"description": "the token to revoke; omitted: every active token of the user"})


@blp.route("/<int:user_id>/tokens", methods=["DELETE"])
@allow("admin")
@blp.arguments(TokenRevokeSchema())
@blp.response(200, TokenSchema(many=True))
@blp.alt_response(404, schema=ErrorBodySchema)
@blp.alt_response(409, schema=ErrorBodySchema, description="own_token: the token this request uses")
def revoke_tokens(args: dict[str, Any], user_id: int) -> Any:
    """Revoke one token (``{"id": N}``) or every active token of the user; returns the revoked."""
    svc = _services()
    with svc.db.transaction(immediate=True) as s:
        user = accounts.get_user(s, user_id)
        ids = [args["id"]] if args["id"] is not None else [t.id for t in user.tokens if t.revoked_at is None]
        own = caller_token_hash()
        return [accounts.revoke_token(s, user_id, token_id, now=svc.clock.now(), caller_token_hash=own)
                for token_id in ids]
