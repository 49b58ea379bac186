"""Users, passwords and API tokens.

Passwords are argon2id hashes (argon2-cffi's defaults follow RFC 9106). API tokens are random
and shown once; only their SHA-256 is stored, which is enough for a secret with 256 bits of
entropy (a slow hash protects guessable secrets, not random ones) and keeps the lookup an index
hit per request.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from . import db as store
from .errors import UserError

ROLES = ("organizer", "leader", "sme")
ROLE_NAMES = {"organizer": "组织方", "leader": "链主企业", "sme": "中小企业"}
_hasher = PasswordHasher()
# verify against this when the user does not exist, so timing does not tell who does
_DUMMY_HASH = _hasher.hash("matchmaker-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _user_row(db, where: str, params) -> dict | None:
    cur = db.execute(f"SELECT * FROM users WHERE {where}", params)
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row))


def get_user(db, username: str) -> dict | None:
    return _user_row(db, "username = ?", [username])


def get_user_by_id(db, user_id: int) -> dict | None:
    return _user_row(db, "id = ?", [user_id])


def create_user(db, username: str, password: str, role: str, firm: str | None = None,
                display_name: str | None = None) -> dict:
    """Create (or, for an existing username, reset) a user. `firm` is a credit code or a
    firm name; leaders and SMEs must be bound to a firm of their kind."""
    username = (username or "").strip()
    if not username or len(username) > 64:
        raise UserError("用户名不能为空且不超过64个字符")
    if role not in ROLES:
        raise UserError(f"角色“{role}”无效，应为 organizer、leader 或 sme")
    if len(password or "") < 8:
        raise UserError("密码至少8位")
    code = None
    if role in ("leader", "sme"):
        if not firm:
            raise UserError(f"{ROLE_NAMES[role]}用户必须绑定企业（--firm）")
        rec = store.get_firm(db, firm)
        if rec is None:
            raise UserError(f"企业“{firm}”不在企业名录中")
        if rec["role"] != role:
            raise UserError(f"企业“{rec['name']}”是{ROLE_NAMES[rec['role']]}，不能绑定为{ROLE_NAMES[role]}用户")
        code = rec["credit_code"]
        display_name = display_name or rec["name"]
    row = {"username": username, "password_hash": hash_password(password), "role": role,
           "firm": code, "display_name": display_name or username, "active": 1,
           "created_at": store.now()}
    with db.atomic():
        existing = get_user(db, username)
        if existing:
            db["users"].update(existing["id"], {k: v for k, v in row.items() if k != "created_at"})
        else:
            db["users"].insert(row)
    return get_user(db, username)


def authenticate(db, username: str, password: str) -> dict | None:
    user = get_user(db, (username or "").strip())
    if user is None or not user["active"]:
        verify_password(_DUMMY_HASH, password or "")
        return None
    if not verify_password(user["password_hash"], password or ""):
        return None
    if _hasher.check_needs_rehash(user["password_hash"]):
        with db.atomic():
            db["users"].update(user["id"], {"password_hash": hash_password(password)})
    return user


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(db, username: str, name: str | None = None) -> str:
    user = get_user(db, username)
    if user is None:
        raise UserError(f"用户“{username}”不存在")
    token = "mm_" + secrets.token_urlsafe(32)
    with db.atomic():
        db["api_tokens"].insert({"user_id": user["id"], "token_hash": token_hash(token),
                                 "name": name or "", "created_at": store.now()})
    return token


def user_for_token(db, token: str) -> dict | None:
    if not token:
        return None
    cur = db.execute(
        "SELECT users.* FROM api_tokens JOIN users ON users.id = api_tokens.user_id "
        "WHERE api_tokens.token_hash = ? AND users.active = 1", [token_hash(token)])
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row)) if row else None
