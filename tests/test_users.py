import pytest

from matchmaker import db as store
from matchmaker import users
from matchmaker.errors import UserError
from conftest import CODES


@pytest.fixture
def db(tmp_path, small_set):
    d = store.open_db(tmp_path / "m.db")
    store.load_files(d, list(small_set.values()))
    return d


def test_passwords_are_argon2_hashes(db):
    u = users.create_user(db, "admin", "correct horse", "organizer")
    assert u["password_hash"].startswith("$argon2id$")
    assert users.authenticate(db, "admin", "correct horse")["id"] == u["id"]
    assert users.authenticate(db, "admin", "wrong horse!") is None
    assert users.authenticate(db, "nobody", "correct horse") is None


def test_firm_binding_is_checked(db):
    u = users.create_user(db, "lead", "password1", "leader", firm="青岛示例家电集团有限公司")
    assert u["firm"] == CODES["leader"]
    with pytest.raises(UserError, match="不能绑定"):
        users.create_user(db, "x", "password1", "sme", firm=CODES["leader"])
    with pytest.raises(UserError, match="必须绑定企业"):
        users.create_user(db, "y", "password1", "sme")
    with pytest.raises(UserError, match="至少8位"):
        users.create_user(db, "z", "short", "organizer")


def test_tokens_are_stored_hashed(db):
    users.create_user(db, "admin", "correct horse", "organizer")
    token = users.create_token(db, "admin")
    assert token not in str(db.execute("SELECT * FROM api_tokens").fetchall())
    assert users.user_for_token(db, token)["username"] == "admin"
    assert users.user_for_token(db, token + "x") is None
