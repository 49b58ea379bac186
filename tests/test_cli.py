"""The command line end to end, as a user runs it: a real process, real files, a real database."""

from __future__ import annotations

import csv
import io
import sqlite3
import subprocess

import pytest
from openpyxl import Workbook

from matchmaker.importer import FIRM_COLUMNS, DEMAND_COLUMNS, RELATION_COLUMNS
from conftest import BENCH, CODES, need_shared

ENGLISH = {zh: key for cols in (FIRM_COLUMNS, DEMAND_COLUMNS, RELATION_COLUMNS)
           for key, (zh, _req) in cols.items()}


def run(cmd, *args, stdin=None):
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, input=stdin,
                          timeout=300)


def dump(db_path):
    conn = sqlite3.connect(db_path)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                for t in ("firms", "demands", "relations")}
    finally:
        conn.close()


def resave(src, dst, how):
    text = src.read_text(encoding="utf-8-sig")
    if how == "english":
        rows = list(csv.reader(io.StringIO(text)))
        rows[0] = [ENGLISH.get(h, h) for h in rows[0]]
        buf = io.StringIO()
        csv.writer(buf).writerows(rows)
        dst.write_text(buf.getvalue(), encoding="utf-8")
    elif how == "xlsx":
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Sheet1")
        for row in csv.reader(io.StringIO(text)):
            ws.append(row)
        wb.save(dst)
    elif how == "bom":
        dst.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    elif how == "gb18030":
        dst.write_bytes(text.encode("gb18030"))
    return dst


@pytest.mark.parametrize("how", ["original", "gb18030", "xlsx", "bom", "english"])
def test_load_handwritten_dev_in_every_form(tmp_path, matchmaker_cmd, how):
    folder = need_shared(BENCH / "handwritten-dev")
    ext = "xlsx" if how == "xlsx" else "csv"
    files = [folder / f"{n}.csv" if how == "original" else
             resave(folder / f"{n}.csv", tmp_path / f"{n}.{ext}", how)
             for n in ("relations", "demands", "firms")]
    proc = run(matchmaker_cmd, "load", "--db", tmp_path / "m.db", *files)
    assert proc.returncode == 0, proc.stderr
    assert "企业 463 家" in proc.stdout and "需求 30 条" in proc.stdout
    if how != "original":
        ref = tmp_path / "ref.db"
        assert run(matchmaker_cmd, "load", "--db", ref, *[folder / f"{n}.csv" for n in
                                                           ("firms", "demands", "relations")]).returncode == 0
        strip = lambda d: {t: [r[:-2] if t != "relations" else r[1:-1] for r in rows] for t, rows in d.items()}  # noqa: E731
        assert strip(dump(tmp_path / "m.db")) == strip(dump(ref))


@pytest.mark.parametrize("name", ["ickg-dev/ickg-industry", "ickg-dev/ickg-supply"])
def test_load_ickg_sets(tmp_path, matchmaker_cmd, name):
    folder = need_shared(BENCH / name)
    proc = run(matchmaker_cmd, "load", "--db", tmp_path / "m.db", folder / "firms.csv",
               folder / "demands.csv", folder / "relations.csv")
    assert proc.returncode == 0, proc.stderr


BAD = {
    "check character": ("firms", lambda t: t.replace(CODES["sme2"], CODES["sme2"][:17] + ("A" if CODES["sme2"][17] != "A" else "B")), "校验位"),
    "missing column": ("demands", lambda t: t.replace("需求类型,", "类型说明,", 1), "缺少必填列“需求类型”"),
    "unknown leader": ("demands", lambda t: t.replace("T-1,青岛示例家电集团有限公司", "T-1,查无此企业"), "不在企业名录中"),
    "unknown kind": ("demands", lambda t: t.replace("场景需求", "投资需求"), "需求类型“投资需求”无效"),
    "empty name": ("firms", lambda t: t.replace("青岛甲乙膜科技有限公司,", ",", 1), "企业名称为空"),
}


@pytest.mark.parametrize("fault", list(BAD))
def test_bad_files_are_rejected_whole(tmp_path, matchmaker_cmd, small_set, fault):
    db_path = tmp_path / "m.db"
    assert run(matchmaker_cmd, "load", "--db", db_path, small_set["firms"]).returncode == 0
    before = dump(db_path)
    kind, edit, expect = BAD[fault]
    small_set[kind].write_text(edit(small_set[kind].read_text(encoding="utf-8")), encoding="utf-8")
    proc = run(matchmaker_cmd, "load", "--db", db_path, *small_set.values())
    assert proc.returncode != 0
    assert expect in proc.stderr and "第" in proc.stderr and "行" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("错误：导入失败")
    assert dump(db_path) == before


def test_bytes_that_are_no_spreadsheet(tmp_path, matchmaker_cmd):
    junk = tmp_path / "photo.csv"
    junk.write_bytes(bytes(range(256)) * 4)
    proc = run(matchmaker_cmd, "load", "--db", tmp_path / "m.db", junk)
    assert proc.returncode == 1 and "photo.csv" in proc.stderr and "Traceback" not in proc.stderr


def test_no_progress_bar_in_a_pipe(tmp_path, matchmaker_cmd, small_set):
    proc = run(matchmaker_cmd, "load", "--db", tmp_path / "m.db", *small_set.values())
    assert proc.returncode == 0 and proc.stderr == ""


def test_user_and_token(tmp_path, matchmaker_cmd, small_set):
    db_path = tmp_path / "m.db"
    run(matchmaker_cmd, "load", "--db", db_path, *small_set.values())
    proc = run(matchmaker_cmd, "user", "add", "--db", db_path, "--username", "lead", "--role",
               "leader", "--firm", CODES["leader"], stdin="s3cret-pass\n")
    assert proc.returncode == 0, proc.stderr
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT password_hash FROM users").fetchone()[0].startswith("$argon2id$")
    proc = run(matchmaker_cmd, "token", "create", "--db", db_path, "--username", "lead")
    token = proc.stdout.strip()
    assert proc.returncode == 0 and len(token) > 30 and "\n" not in token
    assert token not in str(conn.execute("SELECT * FROM api_tokens").fetchall())
    bad = run(matchmaker_cmd, "user", "add", "--db", db_path, "--username", "x", "--role", "sme",
              "--firm", "不存在", stdin="s3cret-pass\n")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "不在企业名录中" in bad.stderr


def test_rank_formats_and_errors(tmp_path, matchmaker_cmd, small_set):
    import json

    db_path = tmp_path / "m.db"
    assert run(matchmaker_cmd, "load", "--db", db_path, *small_set.values()).returncode == 0
    trec = run(matchmaker_cmd, "rank", "--db", db_path, "--all", "--format", "trec")
    assert trec.returncode == 0, trec.stderr
    lines = [line.split() for line in trec.stdout.splitlines()]
    assert lines and all(len(p) == 6 and p[1] == "Q0" and p[5] == "matchmaker" for p in lines)
    assert {p[0] for p in lines} <= {"T-1", "T-2"} and CODES["leader"] not in {p[2] for p in lines}
    assert [int(p[3]) for p in lines if p[0] == "T-1"][:2] == [1, 2]
    first = [p for p in lines if p[0] == "T-1"][0]
    assert first[2] == CODES["sme1"]  # the membrane maker for the membrane demand
    js = json.loads(run(matchmaker_cmd, "rank", "--db", db_path, "--demand", "T-1", "--format", "json").stdout)
    assert js[0]["matches"][0]["reasons"]["terms"] and js[0]["matches"][0]["reasons"]["path"]
    firm = run(matchmaker_cmd, "rank", "--db", db_path, "--firm", "青岛甲乙膜科技有限公司", "--format", "trec")
    assert firm.stdout.split()[:3] == [CODES["sme1"], "Q0", "T-1"]
    table = run(matchmaker_cmd, "rank", "--db", db_path, "--demand", "T-1")
    assert "青岛甲乙膜科技有限公司" in table.stdout
    for args, msg in ((["--demand", "NOPE"], "不存在"), (["--firm", "青岛示例家电集团有限公司"], "链主企业"),
                      (["--all", "--demand", "T-1"], "只指定一个")):
        bad = run(matchmaker_cmd, "rank", "--db", db_path, *args)
        assert bad.returncode == 1 and msg in bad.stderr and "Traceback" not in bad.stderr
