"""Each role's main flow in a real browser (Debian's Chromium via Playwright) against a live
`matchmaker serve` on the demo dataset.

A chain leader posts a demand that passes the quality check and sees ranked SMEs with
reasons; an SME finds the demand among "为您推荐的需求" and asks for a meeting; the leader
accepts; the organizer creates an event, invites, pairs, publishes, downloads the sheets and
records an outcome; the SME sees its table. Assertions are on what a person sees.

MATCHMAKER_SCREENSHOTS=1 also writes the pages to docs/img/*.png (committed; CI leaves them).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from e2e_support import (DESKTOP, PHONE, browser_login, chromium_missing_reason, demo_server,
                         launch_chromium, shot, stop_demo_server)

_missing = chromium_missing_reason()
pytestmark = [pytest.mark.skipif(_missing is not None, reason=_missing or ""),
              pytest.mark.timeout(300)]

LEADER, SME, ORGANIZER = "leader1", "sme2", "admin"
# Written for sme2 of the demo (小型PLC、数控系统、直线电机) and leader1 (智能家电).
DEMAND = {
    "title": "冰箱总装线小型PLC与直线电机控制系统国产化",
    "description": ("我集团胶州冰箱工厂两条总装线目前使用进口小型PLC（可编程逻辑控制器）和直线电机驱动的"
                    "输送定位系统，备件到货周期长达半年，维护费用高。现征集能够提供国产小型PLC、数控系统和"
                    "直线电机整体方案的本地企业，完成两条总装线控制系统的替换，兼容现有工业以太网通讯，"
                    "停线切换时间不超过48小时。"),
    "specs": "定位精度≤0.05mm；PLC扫描周期≤1ms；支持Profinet与Modbus TCP；连续运行MTBF≥50000小时",
    "chains": "智能家电、智能制造装备",
}
MESSAGE = "我司自主研发小型PLC和直线电机，已在三家家电企业产线替换进口产品，可先行提供样机联调。"


@pytest.fixture(scope="module")
def server():
    yield demo_server("flows")
    stop_demo_server("flows")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch_chromium(pw)
        yield b
        b.close()


def expect(locator):
    from playwright.sync_api import expect as _expect

    return _expect(locator)


def new_page(browser, viewport=DESKTOP, **kwargs):
    context = browser.new_context(viewport=viewport, locale="zh-CN", accept_downloads=True,
                                  **kwargs)
    context.set_default_timeout(60_000)  # pairing and the PDF each take seconds on 2 cores
    page = context.new_page()
    # script errors and CSP refusals show up here and nowhere else
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.problems = problems
    return page


def close(*pages, allow: str | None = None) -> None:
    """Close the pages' contexts; none of them may have logged a script error (`allow`: a
    pattern for an expected one)."""
    problems = [p for page in pages for p in page.problems if not (allow and re.search(allow, p))]
    for page in pages:
        page.context.close()
    assert not problems, problems


def firm_name(page) -> str:
    """The signed-in firm's name, as the top bar shows it."""
    return page.get_by_test_id("account-link").evaluate("a => a.firstChild.textContent.trim()")


def demo_firms(server) -> dict[str, str]:
    """username -> firm name of the demo accounts (the generated names may change)."""
    from matchmaker import db as dbmod
    from matchmaker.demo import demo_accounts

    db = dbmod.connect(server.db_path)
    try:
        return {user: dbmod.get_firm(db, firm)["name"]
                for user, role, firm in demo_accounts(db) if firm}
    finally:
        db.conn.close()


def test_login_page_and_wrong_password(server, browser):
    page = new_page(browser)
    page.goto(server.url + "/")
    assert page.url.endswith("/login")
    assert page.get_by_role("heading", name="账号登录").is_visible()
    shot(page, "login")
    page.get_by_label("用户名").fill(LEADER)
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_test_id("login-error")).to_be_visible()
    assert page.url.endswith("/login")
    close(page, allow=r"status of 400")  # the refused login answers 400, as it should


def test_main_flow_leader_sme_organizer(server, browser, tmp_path):
    base = server.url
    # --- the chain leader posts a demand ---------------------------------------------------
    leader = new_page(browser)
    browser_login(leader, base, LEADER)
    assert leader.url.endswith("/demands")
    assert leader.get_by_role("heading", name="我的需求").is_visible()
    assert leader.get_by_test_id("demand-row").count() > 0
    leader_name = firm_name(leader)
    shot(leader, "leader-demands")

    leader.get_by_test_id("new-demand").click()
    leader.get_by_label("需求名称").fill("国产PLC")
    leader.get_by_label("需求描述").fill("需要PLC")
    # the check runs while typing: a two-word demand is flagged
    issues = leader.get_by_test_id("quality-issues")
    issues.wait_for()
    assert "过于简短" in issues.inner_text()
    leader.get_by_label("需求名称").fill(DEMAND["title"])
    leader.get_by_label("技术需求").check()
    leader.get_by_label("需求描述").fill(DEMAND["description"])
    leader.get_by_label("技术指标").fill(DEMAND["specs"])
    leader.get_by_label("所属产业链（多个用顿号分隔）").fill(DEMAND["chains"])
    leader.get_by_label("联合研发").check()
    leader.get_by_label("产品采购").check()
    leader.get_by_label("截止日期").fill((date.today() + timedelta(days=120)).isoformat())
    ok = leader.get_by_test_id("quality-ok")
    ok.wait_for()
    assert "需求信息完整" in ok.inner_text()
    reach = leader.get_by_test_id("reach")
    assert re.search(r"可匹配到\s*\d+\s*家", reach.inner_text())
    assert int(reach.locator("strong").inner_text()) > 0
    shot(leader, "leader-new-demand", full_page=True)

    leader.get_by_test_id("publish").click()
    leader.wait_for_url(re.compile(r"/demands/[^/]+$"))
    demand_id = leader.url.rsplit("/", 1)[1]
    expect(leader.get_by_test_id("flash")).to_contain_text("需求已发布")
    assert DEMAND["title"] in leader.get_by_test_id("demand-title").inner_text()
    assert "征集中" in leader.get_by_test_id("demand-title").inner_text()
    matches = leader.get_by_test_id("match")
    assert matches.count() >= 5
    assert re.search(r"\d+ 家.*显示前 \d+ 家", leader.get_by_test_id("match-count").inner_text())
    first = matches.first
    assert "产业链路径" in first.get_by_test_id("reasons").inner_text()
    assert "命中关键词" in first.get_by_test_id("reasons").inner_text()
    # the SME written for stands among the first ten, with its matched words highlighted
    firms = demo_firms(server)
    sme_card = matches.filter(has_text=firms[SME])
    assert sme_card.count() == 1
    assert int(sme_card.locator(".rank").inner_text()) <= 10
    assert any("PLC" in t for t in sme_card.locator("mark.term").all_inner_texts())
    leader.get_by_role("heading", name="推荐的中小企业").evaluate(
        "el => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 12)")
    shot(leader, "leader-matches")

    # the shortlist button swaps itself in place (htmx), and the count follows on reload
    button = sme_card.get_by_role("button", name=re.compile("加入意向名单"))
    button.click()
    sme_card.get_by_role("button", name=re.compile("已加入|移出")).wait_for()
    assert "/demands/" in leader.url and "shortlisted" not in leader.url

    # filters narrow the list without a page load (htmx)
    leader.get_by_label("资质").select_option("专精特新中小企业")
    leader.wait_for_url(re.compile(r"tier="))
    for tiers in leader.get_by_test_id("match").locator(".tag-tier").all_inner_texts()[:10]:
        assert tiers  # every firm left carries a tier tag
    assert leader.get_by_test_id("match").filter(has_text=firms[SME]).count() == 1

    # --- the SME finds it and asks for a meeting ------------------------------------------
    sme = new_page(browser)
    browser_login(sme, base, SME)
    assert sme.url.endswith("/recommended")
    assert sme.get_by_role("heading", name="为您推荐的需求").is_visible()
    sme_name = firm_name(sme)
    card = sme.locator(f'[data-testid=recommendation][data-demand-id="{demand_id}"]')
    assert card.count() == 1, "the new demand is not among the SME's recommendations"
    assert DEMAND["title"] in card.inner_text() and leader_name in card.inner_text()
    assert "命中关键词" in card.get_by_test_id("reasons").inner_text()
    card.scroll_into_view_if_needed()
    shot(sme, "sme-demands")

    # the type filter applies on change (app.js, no inline script under the CSP)
    sme.get_by_label("需求类型").select_option("场景需求")
    sme.wait_for_url(re.compile("kind="))
    kinds = sme.get_by_test_id("recommendation").locator(".match-title .muted").all_inner_texts()
    assert kinds and all("场景需求" in k for k in kinds)
    sme.get_by_label("需求类型").select_option("")
    sme.wait_for_url(re.compile(r"kind=$|/recommended$"))
    card = sme.locator(f'[data-testid=recommendation][data-demand-id="{demand_id}"]')
    card.get_by_role("link", name="申请对接").click()
    sme.wait_for_url(re.compile(rf"/opportunities/{re.escape(demand_id)}"))
    assert sme.get_by_role("heading", name=re.compile("为什么推荐给您")).is_visible()
    sme.get_by_label(re.compile("给链主企业的留言")).fill(MESSAGE)
    shot(sme, "sme-opportunity", full_page=True)
    sme.get_by_test_id("request-submit").click()
    sme.wait_for_url(re.compile(r"/requests$"))
    expect(sme.get_by_test_id("flash")).to_contain_text("对接申请已提交")
    row = sme.get_by_test_id("request-row").filter(has_text=DEMAND["title"])
    assert row.count() == 1 and "待答复" in row.inner_text()
    shot(sme, "sme-requests")

    # --- the leader accepts ---------------------------------------------------------------
    leader.get_by_test_id("nav-requests").click()
    leader.wait_for_url(re.compile(r"/requests"))
    req = leader.get_by_test_id("request-row").filter(has_text=sme_name).filter(has_text=DEMAND["title"])
    assert req.count() == 1 and MESSAGE in req.inner_text() and "待答复" in req.inner_text()
    req.get_by_role("button", name="接受").click()
    expect(leader.get_by_test_id("flash")).to_contain_text("已接受对接申请")
    req = leader.get_by_test_id("request-row").filter(has_text=sme_name).filter(has_text=DEMAND["title"])
    assert "已接受" in req.inner_text()
    shot(leader, "leader-requests")
    sme.reload()
    assert "已接受" in sme.get_by_test_id("request-row").filter(has_text=DEMAND["title"]).inner_text()

    # the leader opens the SME from the ranked list: why it was ranked, and the request
    leader.goto(f"{base}/demands/{demand_id}")
    leader.get_by_test_id("match").filter(has_text=sme_name).get_by_test_id("sme-link").click()
    expect(leader.get_by_test_id("firm-name")).to_have_text(sme_name)
    why = leader.get_by_test_id("why")
    expect(why).to_contain_text(re.compile(r"推荐理由 · 第 \d+ 名"))
    expect(why).to_contain_text("产业链路径")
    expect(why).to_contain_text("已接受")
    expect(why).to_contain_text(MESSAGE)
    shot(leader, "leader-sme", full_page=True)

    # --- the organizer runs an event --------------------------------------------------------
    org = new_page(browser)
    browser_login(org, base, ORGANIZER)
    assert org.url.endswith("/dashboard")
    assert org.get_by_role("heading", name="工作台").is_visible()
    stats = org.get_by_test_id("stats").inner_text()
    assert "链主企业" in stats and "征集中的需求" in stats

    org.goto(base + "/events")
    event_name = "智能家电产业链融链固链对接会"
    org.get_by_label("活动名称").fill(event_name)
    org.get_by_label("日期").fill((date.today() + timedelta(days=14)).isoformat())
    org.get_by_label("开始时间").fill("09:00")
    org.get_by_label("洽谈轮次").fill("6")
    org.get_by_label("每轮时长（分钟）").fill("20")
    org.get_by_label("洽谈桌数").fill("4")
    org.get_by_label("地点").fill("青岛国际会展中心B馆")
    org.get_by_test_id("create-event").click()
    org.wait_for_url(re.compile(r"/events/\d+"))
    event_url = org.url.split("?")[0]
    assert org.get_by_test_id("event-name").inner_text() == event_name
    expect(org.get_by_test_id("flash")).to_contain_text("活动已创建")

    org.get_by_test_id("tab-firms").click()
    invite = org.get_by_test_id("invite-firms")
    others = [firms["leader2"], firms["leader3"]]
    invite.get_by_role("textbox").fill("\n".join([leader_name, sme_name, *others]))
    invite.get_by_role("button", name="邀请").click()
    expect(org.get_by_test_id("flash")).to_contain_text(f"已邀请 {2 + len(others)} 家企业")
    by_match = org.get_by_test_id("invite-match")
    by_match.get_by_role("spinbutton").fill("2")
    by_match.get_by_role("button", name="邀请").click()
    expect(org.get_by_test_id("flash")).to_contain_text(re.compile(r"已邀请 \d+ 家企业"))
    participants = org.get_by_test_id("participant-table")
    assert participants.get_by_text(leader_name).count() == 1
    assert participants.get_by_text(sme_name).count() == 1
    assert participants.locator("tbody tr").count() > 5

    org.get_by_test_id("tab-schedule").click()
    org.get_by_test_id("run-pairing").click()
    org.wait_for_url(re.compile(rf"{re.escape(event_url)}$"))
    expect(org.get_by_test_id("flash")).to_contain_text(re.compile(r"配对完成：共安排 \d+ 场洽谈"))
    schedule = org.get_by_test_id("schedule")
    assert "第1轮" in schedule.inner_text() and "1号桌" in schedule.inner_text()
    meetings = schedule.get_by_test_id("meeting")
    assert meetings.count() >= 3
    # the accepted request is on the schedule
    ours = meetings.filter(has_text=leader_name).filter(has_text=sme_name)
    assert ours.count() == 1
    shot(org, "event-workspace", full_page=True)

    org.get_by_test_id("publish").click()
    expect(org.get_by_test_id("flash")).to_contain_text("日程已发布")
    assert "已发布" in org.locator(".pagehead .muted").first.inner_text()

    # the sheets, as files a person would download
    with org.expect_download() as dl:
        org.get_by_test_id("sheet-xlsx").click()
    xlsx = dl.value
    assert xlsx.suggested_filename.endswith(".xlsx")
    import openpyxl

    saved = tmp_path / xlsx.suggested_filename
    xlsx.save_as(saved)
    workbook = openpyxl.load_workbook(saved, read_only=True)
    cells = " ".join(str(v) for ws in workbook.worksheets
                     for r in ws.iter_rows(values_only=True) for v in r if v is not None)
    assert leader_name in cells and sme_name in cells
    pdf_href = org.get_by_test_id("sheet-pdf").get_attribute("href")
    pdf = org.context.request.get(base + pdf_href, timeout=120_000)
    assert pdf.ok and pdf.headers["content-type"].startswith("application/pdf")
    assert pdf.body()[:5] == b"%PDF-" and len(pdf.body()) > 5000

    # an outcome, recorded after the meeting
    org.get_by_test_id("tab-outcomes").click()
    outcome_row = org.get_by_test_id("outcome-table").locator("tbody tr") \
        .filter(has_text=leader_name).filter(has_text=sme_name)
    outcome_row.get_by_label("对接结果").select_option("达成意向")
    outcome_row.get_by_label("意向金额（万元）").fill("120")
    outcome_row.get_by_label("备注").fill("约定下月样机联调")
    outcome_row.get_by_role("button", name="保存").click()
    expect(org.get_by_test_id("flash")).to_contain_text("对接结果已记录")
    outcome_row = org.get_by_test_id("outcome-table").locator("tbody tr") \
        .filter(has_text=leader_name).filter(has_text=sme_name)
    assert "达成意向" in outcome_row.locator("td").nth(3).inner_text()

    # the day itself: check-in at the door (htmx, no reload), a no-show, re-pairing the rest
    org.goto(event_url)
    later = org.get_by_test_id("schedule").locator("tbody tr").nth(3) \
        .get_by_test_id("meeting").first.locator(".who span").inner_text().strip()
    assert later != sme_name
    org.get_by_test_id("checkin-link").click()
    org.wait_for_url(re.compile(r"/checkin"))
    checkin_url = org.url
    rows = org.get_by_test_id("checkin-row")
    assert rows.count() > 5
    ours = rows.filter(has_text=sme_name)
    ours.get_by_role("button", name="签到").click()
    rows.filter(has_text=sme_name).locator(".badge", has_text="已签到").wait_for()
    assert org.url == checkin_url
    absent = rows.filter(has=org.locator("td", has_text=re.compile(f"^{re.escape(later)}$")))
    absent.get_by_role("button", name="未到场").click()
    absent.locator(".badge", has_text="未到场").wait_for()
    org.evaluate("window.scrollTo(0, 0)")
    shot(org, "event-checkin")
    org.get_by_test_id("repair").click()
    # the absent firm's meetings from the next slot on are freed
    expect(org.get_by_test_id("flash")).to_contain_text(re.compile(r"释放 [1-9]\d* 场"))

    org.get_by_test_id("nav-dashboard").click()
    stats = org.get_by_test_id("stats").inner_text()
    assert int(org.get_by_test_id("stat-intents").inner_text()) >= 1, stats
    shot(org, "organizer-dashboard", full_page=True)

    # --- the SME sees where and when ----------------------------------------------------------
    sme.goto(base + "/agenda")
    agenda = sme.get_by_test_id("agenda-row").filter(has_text=leader_name)
    assert agenda.count() == 1
    text = agenda.inner_text()
    assert event_name in text and re.search(r"\d+号桌", text) and re.search(r"\d\d:\d\d", text)
    shot(sme, "sme-agenda")
    close(leader, sme, org)


def test_chain_map(server, browser):
    page = new_page(browser)
    browser_login(page, server.url, ORGANIZER)
    page.goto(server.url + "/chains")
    cards = page.get_by_test_id("chain-card")
    assert cards.count() >= 10
    shot(page, "chain-index")
    cards.filter(has_text="智能家电").first.click()
    page.wait_for_url(re.compile(r"/chains/"))
    assert page.get_by_role("heading", name="智能家电产业链").is_visible()
    svg = page.locator(".map-card svg")
    assert svg.count() == 1 and svg.bounding_box()["width"] > 300
    assert "上游" in svg.inner_html() or "上游" in page.inner_text("main")
    shot(page, "chain-map")
    close(page)


@pytest.mark.parametrize("username,path,name", [
    (None, "/login", "mobile-login"),
    (SME, "/recommended", "mobile-sme-demands"),
    (LEADER, "/demands", "mobile-leader-demands"),
    (ORGANIZER, "/dashboard", "mobile-organizer-dashboard"),
])
def test_phone_viewport(server, browser, username, path, name):
    page = new_page(browser, viewport=PHONE, is_mobile=True, has_touch=True,
                    device_scale_factor=2)
    if username:
        browser_login(page, server.url, username)
    page.goto(server.url + path)
    # nothing wider than the phone: no sideways scrolling of the page itself
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{path} is {overflow}px wider than a {PHONE['width']}px phone"
    assert page.locator("h1, h2").first.is_visible()
    shot(page, name)
    close(page)
