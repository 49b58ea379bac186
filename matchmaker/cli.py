"""The `matchmaker` command: parse, call one library function, print.

The verbs and their options are a contract (../shared/INTERCHANGE.md): add, never rename.
Every error a user can cause ends in a one-line message and a non-zero exit.
"""

from __future__ import annotations

import sys

import click

from . import db as store
from .errors import UserError

DB_OPTION = click.option("--db", "db_path", default=store.DEFAULT_PATH, show_default=True,
                         type=click.Path(dir_okay=False), help="SQLite 数据库文件")


def fail(message: str) -> None:
    click.echo(f"错误：{message}", err=True)
    sys.exit(1)


class Group(click.Group):
    """Turns a UserError anywhere below into the one-line message the contract promises."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            faults = getattr(exc, "faults", None)
            if faults and len(faults) > 1:
                for fault in faults:
                    click.echo(str(fault), err=True)
            fail(exc.message)


@click.group(cls=Group)
@click.version_option(package_name="matchmaker")
def main():
    """matchmaker：产业链供需对接（融链固链）撮合平台。"""


@main.command()
@DB_OPTION
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def load(db_path, files):
    """导入企业名录、需求清单、合作关系表（CSV 或 XLSX，可一次多个文件）。"""
    db = store.open_db(db_path)
    counts = store.load_files(db, files)
    click.echo(f"已导入：企业 {counts['firms']} 家，需求 {counts['demands']} 条，"
               f"合作关系 {counts['relations']} 条")


@main.command()
@DB_OPTION
@click.option("--demand", "demand_id", help="需求编号")
@click.option("--all", "all_demands", is_flag=True, help="为每条需求排序")
@click.option("--firm", help="企业名称或统一社会信用代码：为该中小企业推荐需求")
@click.option("--all-firms", is_flag=True, help="为每家中小企业推荐需求")
@click.option("--top", default=20, show_default=True, type=click.IntRange(1, 100000))
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "json", "trec"]))
def rank(db_path, demand_id, all_demands, firm, all_firms, top, fmt):
    """为需求排序中小企业，或为中小企业推荐需求。"""
    from .service import rank_report

    chosen = [x for x in (demand_id, all_demands, firm, all_firms) if x]
    if len(chosen) != 1:
        raise UserError("请指定且只指定一个：--demand、--all、--firm 或 --all-firms")
    db = store.open_db(db_path)
    text = rank_report(store.fetch_firms(db), store.fetch_demands(db), store.fetch_relations(db),
                       demand_id=demand_id, all_demands=all_demands, firm=firm,
                       all_firms=all_firms, top=top, fmt=fmt)
    click.echo(text, nl=not text.endswith("\n"))


@main.group(cls=Group)
def event():
    """对接会：创建与邀请。"""


@event.command("create")
@DB_OPTION
@click.option("--name", required=True)
@click.option("--date", "date_", required=True, help="YYYY-MM-DD")
@click.option("--start", required=True, help="HH:MM")
@click.option("--slots", required=True, type=click.IntRange(1, 100))
@click.option("--slot-minutes", required=True, type=click.IntRange(5, 240))
@click.option("--tables", required=True, type=click.IntRange(1, 1000))
@click.option("--venue", default=None)
def event_create(db_path, name, date_, start, slots, slot_minutes, tables, venue):
    """创建对接会，输出其编号。"""
    from .events import create_event

    db = store.open_db(db_path)
    click.echo(create_event(db, name=name, date=date_, start=start, slots=slots,
                            slot_minutes=slot_minutes, tables=tables, venue=venue))


@event.command("invite")
@DB_OPTION
@click.option("--event", "event_id", required=True, type=int)
@click.argument("firms", nargs=-1, required=True)
def event_invite(db_path, event_id, firms):
    """邀请企业（企业名称或统一社会信用代码）参加对接会。"""
    from .events import invite

    db = store.open_db(db_path)
    codes = invite(db, event_id, list(firms))
    click.echo(f"已邀请 {len(codes)} 家企业")


@main.command()
@DB_OPTION
@click.option("--event", "event_id", required=True, type=int)
@click.option("--max-per-sme", type=click.IntRange(1, 100), default=None)
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "json", "csv", "xlsx", "html", "pdf"]))
@click.option("--out", type=click.Path(dir_okay=False), default=None)
def pair(db_path, event_id, max_per_sme, fmt, out):
    """为对接会排定洽谈（谁、何时、几号桌），输出对接表。"""
    from .events import run_pairing
    from .sheets import write

    db = store.open_db(db_path)
    result = run_pairing(db, event_id, max_per_sme=max_per_sme)
    write(result, fmt, out, db=db)


@main.group(cls=Group)
def user():
    """用户管理。"""


@user.command("add")
@DB_OPTION
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(["organizer", "leader", "sme"]))
@click.option("--firm", default=None, help="链主企业或中小企业用户所属企业")
def user_add(db_path, username, role, firm):
    """添加用户（密码从标准输入读取）。"""
    from .users import create_user

    password = sys.stdin.readline().rstrip("\r\n")
    db = store.open_db(db_path)
    created = create_user(db, username, password, role, firm=firm)
    click.echo(f"已创建用户 {created['username']}（{role}）")


@main.group(cls=Group)
def token():
    """API 令牌。"""


@token.command("create")
@DB_OPTION
@click.option("--username", required=True)
def token_create(db_path, username):
    """创建 API 令牌（只显示这一次）。"""
    from .users import create_token

    db = store.open_db(db_path)
    click.echo(create_token(db, username))


@main.command()
@DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(db_path, host, port):
    """启动网站与 API。"""
    import uvicorn

    from .web.app import create_app

    store.open_db(db_path).close()
    uvicorn.run(create_app(db_path), host=host, port=port, log_level="info")


@main.command()
@DB_OPTION
@click.option("--if-empty", is_flag=True, help="数据库已有企业时不做任何事")
def demo(db_path, if_empty):
    """导入演示数据集（青岛，虚构）并创建演示账号。"""
    from .demo import load_demo

    db = store.open_db(db_path)
    summary = load_demo(db, if_empty=if_empty)
    click.echo(summary)


if __name__ == "__main__":  # pragma: no cover
    main()
