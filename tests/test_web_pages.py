"""The pages of chain leaders, SMEs and organizers, driven as a browser would (forms, CSRF)."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook
from starlette.testclient import TestClient

from matchmaker import db as dbmod
from matchmaker.web.app import create_app
from matchmaker.web.sample import build_sample

from e2e_support import as_user


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    sample = build_sample(tmp_path_factory.mktemp("pages") / "web.db")
    app = create_app(sample.path, secret="pages-test-secret")
    with TestClient(app) as client:
        yield sample, app, client


GOOD_DEMAND = {"title": "变频空调压缩机电机降噪", "kind": "技术需求",
               "description": "现有变频空调室外机压缩机电机在低频运行时噪声偏大，用户投诉集中。希望与电机企业联合研发低噪声永磁同步电机，优化FOC矢量控制算法，降低低频电磁噪声。",
               "specs": "额定功率1.5kW；低频运行噪声≤45dB(A)；效率≥IE4", "chains": "智能家电",
               "cooperation": ["联合研发"], "deadline": "2027-09-30"}


def test_leader_posts_a_demand_and_sees_ranked_smes_with_reasons(env):
    sample, app, client = env
    csrf = as_user(client, sample, "leader_a")
    # a bad form comes back with Chinese messages and the typed values
    bad = client.post("/demands/new", data={"title": "", "kind": "别的", "description": "",
                                            "deadline": "2027-02-30", "csrf_token": csrf})
    assert bad.status_code == 422
    for message in ("请填写需求名称", "请选择需求类型", "请填写需求描述", "截止日期不是有效日期"):
        assert message in bad.text
    resp = client.post("/demands/new", data={**GOOD_DEMAND, "action": "publish", "csrf_token": csrf},
                       follow_redirects=False)
    assert resp.status_code == 303
    url = resp.headers["location"]
    demand_id = url.rsplit("/", 1)[1]
    page = client.get(url)
    assert page.status_code == 200 and "变频空调压缩机电机降噪" in page.text
    # the motor maker ranks first, with its matched terms highlighted and the chain path shown
    first = re.search(r'data-testid="match" data-credit-code="([^"]+)"', page.text).group(1)
    assert first == sample.firms["sme_b"]
    assert '<mark class="term">' in page.text and 'data-testid="chain-path"' in page.text
    # the SME's own page, seen from this demand: full profile and the reasons
    sme_page = client.get(f"{url}/smes/{first}")
    assert sme_page.status_code == 200 and "青岛驰微电机科技有限公司" in sme_page.text
    assert "第 1 名" in sme_page.text and '<mark class="term">' in sme_page.text
    assert client.get(f"{url}/smes/{sample.firms['leader_b']}").status_code == 404  # leaders are not ranked
    db = dbmod.connect(sample.path)
    saved = dbmod.get_demand(db, demand_id)
    assert saved["leader"] == sample.firms["leader_a"] and saved["status"] == "open"
    assert saved["cooperation"] == ["联合研发"] and saved["chains"] == ["智能家电"]
    # the other leader of the same firm sees it too; the SME sees it among its recommendations
    as_user(client, sample, "leader_a2")
    assert client.get(url).status_code == 200
    as_user(client, sample, "sme_b")
    recs = client.get("/recommended").text
    assert demand_id in recs


def test_quality_check_points_out_what_makes_a_demand_hard_to_match(env):
    sample, app, client = env
    csrf = as_user(client, sample, "leader_a")
    vague = client.post("/demands/check", data={"title": "先进技术合作", "kind": "技术需求",
                                                "description": "寻求相关先进技术"},
                        headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert vague.status_code == 200
    text = vague.text
    for message in ("未填写技术指标", "过于简短", "笼统", "未选择合作方式", "未填写截止日期"):
        assert message in text
    assert 'data-testid="reach"' in text
    good = client.post("/demands/check", data={**GOOD_DEMAND}, headers={"X-CSRF-Token": csrf})
    assert "未填写技术指标" not in good.text and "未选择合作方式" not in good.text
    reach = int(re.search(r"<strong>(\d+)</strong>", good.text).group(1))
    assert reach >= 1


def test_matches_filter_by_tier_district_and_segment(env):
    sample, app, client = env
    as_user(client, sample, "leader_a")
    did = sample.demands["a_open"]
    all_ = client.get(f"/demands/{did}/matches", headers={"HX-Request": "true"}).text
    codes = re.findall(r'data-credit-code="([^"]+)"', all_)
    assert sample.firms["sme_a"] in codes
    tier = client.get(f"/demands/{did}/matches", params={"tier": "专精特新“小巨人”"}).text
    assert re.findall(r'data-credit-code="([^"]+)"', tier) == [c for c in codes if c == sample.firms["sme_b"]]
    district = client.get(f"/demands/{did}/matches", params={"district": "城阳区"}).text
    assert set(re.findall(r'data-credit-code="([^"]+)"', district)) <= {sample.firms["sme_a"]}
    seg = client.get(f"/demands/{did}/matches", params={"segment": "不存在的环节"}).text
    assert re.findall(r'data-credit-code="([^"]+)"', seg) == []
    assert client.get(f"/demands/{did}/matches", params={"top": "abc"}).status_code == 200


def test_shortlist_toggles_by_htmx(env):
    sample, app, client = env
    csrf = as_user(client, sample, "leader_a")
    did = sample.demands["a_open"]
    h = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    on = client.post(f"/demands/{did}/shortlist", data={"sme": sample.firms["sme_a"]}, headers=h)
    assert on.status_code == 200 and "已加入意向" in on.text
    db = dbmod.connect(sample.path)
    assert db.execute("SELECT COUNT(*) FROM shortlists WHERE demand_id = ?", [did]).fetchone()[0] == 1
    off = client.post(f"/demands/{did}/shortlist", data={"sme": sample.firms["sme_a"]}, headers=h)
    assert "加入意向名单" in off.text
    assert db.execute("SELECT COUNT(*) FROM shortlists WHERE demand_id = ?", [did]).fetchone()[0] == 0


def test_edit_close_and_reopen(env):
    sample, app, client = env
    csrf = as_user(client, sample, "leader_b")
    did = sample.demands["b_open"]
    form = client.get(f"/demands/{did}/edit")
    assert "城轨车辆碳纤维车体部件轻量化" in form.text
    resp = client.post(f"/demands/{did}/edit", data={**GOOD_DEMAND, "title": "城轨车辆碳纤维部件减重",
                                                      "chains": "轨道交通装备", "action": "save",
                                                      "csrf_token": csrf}, follow_redirects=False)
    assert resp.status_code == 303
    db = dbmod.connect(sample.path)
    assert dbmod.get_demand(db, did)["title"] == "城轨车辆碳纤维部件减重"
    client.post(f"/demands/{did}/status", data={"status": "closed", "csrf_token": csrf})
    assert dbmod.get_demand(db, did)["status"] == "closed"
    # a closed demand is no longer offered to SMEs
    app.state.matching  # the model was updated in place, no refit
    as_user(client, sample, "sme_c")
    assert client.get(f"/opportunities/{did}").status_code == 404
    csrf = as_user(client, sample, "leader_b")
    client.post(f"/demands/{did}/status", data={"status": "open", "csrf_token": csrf})
    assert dbmod.get_demand(db, did)["status"] == "open"


def _xlsx(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


HEADER = ["需求编号", "链主企业", "需求类型", "需求名称", "需求描述", "技术指标", "所属产业链", "合作方式", "截止日期"]


def test_upload_shows_row_errors_and_changes_nothing(env):
    sample, app, client = env
    csrf = as_user(client, sample, "leader_a")
    leader = "青岛海澜智能家电集团有限公司"
    data = _xlsx([HEADER,
                  ["UP-1", leader, "技术需求", "冰箱门封条抗老化", "门封条老化开裂", "", "智能家电", "产品采购", "2027-01-01"],
                  ["UP-2", leader, "采购需求", "洗碗机水泵", "水泵噪声大", "", "智能家电", "", ""],
                  ["UP-3", "不存在的企业", "技术需求", "标题", "描述", "", "", "", "2027年13月1日"]])
    resp = client.post("/demands/upload", data={"csrf_token": csrf},
                       files={"file": ("需求清单.xlsx", data, "application/octet-stream")})
    assert resp.status_code == 422
    assert 'data-testid="fault-table"' in resp.text
    assert "需求类型" in resp.text and "<td>3</td>" in resp.text and "<td>4</td>" in resp.text
    db = dbmod.connect(sample.path)
    assert dbmod.get_demand(db, "UP-1") is None
    # a CSV in GB18030 with this leader's demands goes in
    csv_text = ",".join(HEADER) + "\n" + f"UP-1,{leader},技术需求,冰箱门封条抗老化,门封条老化开裂需要耐候材料,耐低温-30℃,智能家电,产品采购,2027-01-01\n"
    ok = client.post("/demands/upload", data={"csrf_token": csrf},
                     files={"file": ("需求.csv", csv_text.encode("gb18030"), "text/csv")},
                     follow_redirects=False)
    assert ok.status_code == 303
    assert dbmod.get_demand(db, "UP-1")["leader"] == sample.firms["leader_a"]
    # the new demand is rankable at once (incremental update, no refit)
    assert client.get("/demands/UP-1").status_code == 200
    # another firm's demand in the file is refused
    other = ",".join(HEADER) + "\nUP-9,青岛北岸轨道装备股份有限公司,技术需求,标题,描述,,,,\n"
    refused = client.post("/demands/upload", data={"csrf_token": csrf},
                          files={"file": ("x.csv", other.encode("utf-8"), "text/csv")})
    assert refused.status_code == 422 and "不属于本企业" in refused.text
    # rubbish is an error message, not a crash
    junk = client.post("/demands/upload", data={"csrf_token": csrf},
                       files={"file": ("x.xlsx", b"PK\x03\x04 not really a zip", "application/octet-stream")})
    assert junk.status_code == 422
    empty = client.post("/demands/upload", data={"csrf_token": csrf})
    assert empty.status_code == 422 and "请选择" in empty.text


def test_sme_profile_edit_updates_its_recommendations(env):
    sample, app, client = env
    csrf = as_user(client, sample, "sme_c")
    before = client.get("/recommended").text
    assert sample.demands["b_open"] in before
    bad = client.post("/profile", data={"products": "", "technologies": "", "csrf_token": csrf})
    assert bad.status_code == 422 and "请至少填写主营产品或核心技术" in bad.text
    resp = client.post("/profile", data={"district": "胶州市", "tiers": ["专精特新中小企业", "伪造资质"],
                                         "chains": "智能家电", "segments": "水处理滤材与膜",
                                         "products": "反渗透膜元件、净水机滤芯", "technologies": "抗污染膜、卷式膜元件",
                                         "description": "", "csrf_token": csrf}, follow_redirects=False)
    assert resp.status_code == 303
    db = dbmod.connect(sample.path)
    firm = dbmod.get_firm(db, sample.firms["sme_c"])
    assert firm["tiers"] == ["专精特新中小企业"] and firm["products"].startswith("反渗透膜")
    after = client.get("/recommended").text
    ids = re.findall(r'data-testid="recommendation" data-demand-id="([^"]+)"', after)
    assert ids[0] == sample.demands["a_open"]


def test_sme_requests_a_meeting_and_the_leader_answers(env):
    sample, app, client = env
    csrf = as_user(client, sample, "sme_a")
    did = sample.demands["a_open"]
    page = client.get(f"/opportunities/{did}")
    assert page.status_code == 200 and "为什么推荐给您" in page.text
    empty = client.post(f"/opportunities/{did}/request", data={"message": "", "csrf_token": csrf})
    assert empty.status_code == 422 and "请用一两句话" in empty.text
    resp = client.post(f"/opportunities/{did}/request",
                       data={"message": "我司抗污染RO膜已在多家净水机企业批量应用", "csrf_token": csrf},
                       follow_redirects=False)
    assert resp.status_code == 303
    again = client.post(f"/opportunities/{did}/request", data={"message": "再次申请", "csrf_token": csrf})
    assert again.status_code == 409
    mine = client.get("/requests").text
    assert "我司抗污染RO膜" in mine and "待答复" in mine
    csrf = as_user(client, sample, "leader_a")
    listing = client.get("/requests?status=pending").text
    rid = re.search(r'data-request-id="(\d+)"[^>]*>(?:(?!</tr>).)*我司抗污染RO膜', listing, re.S).group(1)
    client.post(f"/requests/{rid}/answer", data={"answer": "accepted", "csrf_token": csrf})
    db = dbmod.connect(sample.path)
    assert db.execute("SELECT status FROM meeting_requests WHERE id = ?", [rid]).fetchone()[0] == "accepted"
    # leader_b may not answer it
    csrf_b = as_user(client, sample, "leader_b")
    assert client.post(f"/requests/{rid}/answer", data={"answer": "declined", "csrf_token": csrf_b}).status_code == 403


def test_agenda_shows_published_meetings_only(env):
    sample, app, client = env
    as_user(client, sample, "sme_a")
    page = client.get("/agenda").text
    assert 'data-testid="agenda-row"' in page and "09:00–09:20" in page and "青岛海澜智能家电集团有限公司" in page
    as_user(client, sample, "sme_c")
    assert 'data-testid="agenda-row"' not in client.get("/agenda").text


def test_organizer_dashboard_directory_and_chain_map(env):
    sample, app, client = env
    as_user(client, sample, "organizer")
    dash = client.get("/dashboard").text
    assert 'data-testid="chart-chains"' in dash and "<svg" in dash
    firms = client.get("/firms", params={"q": "膜"}).text
    assert "青岛渗清膜材料科技有限公司" in firms and "青岛驰微电机科技有限公司" not in firms
    partial = client.get("/firms", params={"role": "leader"}, headers={"HX-Request": "true"})
    assert "<html" not in partial.text and "青岛北岸轨道装备股份有限公司" in partial.text
    chains = client.get("/chains").text
    assert "智能家电" in chains
    page = client.get("/chains/智能家电")
    assert page.status_code == 200
    assert 'data-testid="chain-map"' in page.text
    segments = dict(re.findall(r'data-segment="([^"]+)" data-gap="(\d)"', page.text))
    assert {"水处理滤材与膜", "压缩机与电机", "空调"} <= set(segments)
    svg = client.get("/chains/智能家电/map.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and svg.text.startswith("<svg")


def test_chain_map_marks_a_segment_with_demand_but_no_local_smes_as_a_gap(env):
    sample, app, client = env
    csrf = as_user(client, sample, "leader_a")
    client.post("/demands/new", data={"title": "商用冷柜风幕柜节能改造", "kind": "技术需求",
                                      "description": "超市商用冷柜风幕柜能耗高，需要展示柜风幕优化和冷链设备节能技术。",
                                      "specs": "能耗降低20%", "chains": "智能家电", "cooperation": ["联合研发"],
                                      "deadline": "2027-12-31", "action": "publish", "csrf_token": csrf})
    as_user(client, sample, "organizer")
    page = client.get("/chains/智能家电").text
    segments = dict(re.findall(r'data-segment="([^"]+)" data-gap="(\d)"', page))
    assert segments["商用冷链设备"] == "1"
    assert 'data-testid="gap-row"' in page


def test_chain_map_is_computed_once_per_version_of_the_data(env):
    """A repeat view of a chain map renders the kept layout; an SME's profile edit expires
    it, and the map then shows the firm in its new district."""
    sample, app, client = env
    key = ("chain_map", "智能家电")
    as_user(client, sample, "organizer")
    first = client.get("/chains/智能家电").text
    kept = app.state.page_cache[key]
    assert client.get("/chains/智能家电").text == first
    assert client.get("/chains/智能家电/map.svg").status_code == 200
    assert app.state.page_cache[key] is kept  # not recomputed
    csrf = as_user(client, sample, "outsider")  # sme_d, 苏州: not local to the chain map until it moves
    firm = dbmod.get_firm(dbmod.connect(sample.path), sample.firms["sme_d"])
    resp = client.post("/profile", data={"district": "城阳区", "chains": "智能家电", "segments": "",
                                         "products": firm["products"], "technologies": firm["technologies"],
                                         "description": firm["description"], "csrf_token": csrf},
                       follow_redirects=False)
    assert resp.status_code == 303
    as_user(client, sample, "organizer")
    assert client.get("/chains/智能家电").status_code == 200
    assert app.state.page_cache[key] is not kept
    assert app.state.page_cache[key][1][0]["local_sme_count"] == kept[1][0]["local_sme_count"] + 1


def test_organizer_imports_firms_with_errors_reported(env):
    sample, app, client = env
    csrf = as_user(client, sample, "organizer")
    bad = "企业名称,统一社会信用代码,企业类型\n青岛错码有限公司,91370200MA3W00009X,中小企业\n"
    resp = client.post("/firms/import", data={"csrf_token": csrf},
                       files=[("files", ("企业.csv", bad.encode("utf-8"), "text/csv"))])
    assert resp.status_code == 422 and "统一社会信用代码" in resp.text and "<td>2</td>" in resp.text
    from matchmaker.web.sample import code

    good = f"企业名称,统一社会信用代码,企业类型,产品\n青岛新导入科技有限公司,{code('91370200MA3W00010')},中小企业,伺服驱动器\n"
    ok = client.post("/firms/import", data={"csrf_token": csrf},
                     files=[("files", ("企业.csv", good.encode("utf-8-sig"), "text/csv"))],
                     follow_redirects=False)
    assert ok.status_code == 303
    db = dbmod.connect(sample.path)
    assert dbmod.get_firm(db, "青岛新导入科技有限公司")["role"] == "sme"
