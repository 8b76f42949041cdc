"""`openvzd passwd` and the SCRAM password database."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from openvzd.access import Level
from openvzd.remote.passwords import PasswordDbError, passwd_main, read_db


def set_password(monkeypatch: pytest.MonkeyPatch, argv: list[str], password: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return passwd_main(argv)


def test_set_change_readonly_and_delete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "etc" / "passwd.db"
    assert set_password(monkeypatch, ["alice", "--db", str(db)], "s3cret pass") == 0
    assert set_password(monkeypatch, ["guest", "--readonly", "--db", str(db)], "guest-pw") == 0
    entries = read_db(db)
    assert entries["alice"].level is Level.READ_WRITE
    assert entries["guest"].level is Level.READ_ONLY
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    text = db.read_text()
    assert "s3cret" not in text and "guest-pw" not in text
    old_salt = entries["alice"].salt
    assert set_password(monkeypatch, ["alice", "--db", str(db)], "another") == 0
    assert read_db(db)["alice"].salt != old_salt
    assert passwd_main(["guest", "--delete", "--db", str(db)]) == 0
    assert set(read_db(db)) == {"alice"}


@pytest.mark.parametrize("argv", [["bad:name"], ["-x"], ["alice@REALM"]])
def test_bad_user_names_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    db = tmp_path / "passwd.db"
    with pytest.raises(SystemExit) if argv == ["-x"] else _no_raise():
        assert set_password(monkeypatch, [*argv, "--db", str(db)], "pw") == 1
    assert not db.exists()


def test_empty_password_and_unknown_delete_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "passwd.db"
    assert set_password(monkeypatch, ["alice", "--db", str(db)], "") == 1
    assert passwd_main(["nobody", "--delete", "--db", str(db)]) == 1


def test_a_damaged_line_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "passwd.db"
    db.write_text("alice:rw:notanumber:x:y:z\n")
    with pytest.raises(PasswordDbError, match="line 1"):
        read_db(db)


class _no_raise:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
