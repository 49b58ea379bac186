"""A small, complete database for web tests, browser tests and the web load benchmark.

Two chain leaders (A with two user accounts, B with one), four SMEs, an organizer, demands
in every state, a published event with a meeting, a meeting request and an API token per
user. Everything is real: valid credit codes, argon2 hashes, rows written through db.py.

    from matchmaker.web.sample import build_sample
    sample = build_sample("/tmp/web.db")
    sample.users["leader_a"]  -> {"username": ..., "password": ..., "token": ..., "firm": ...}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from matchmaker import db as dbmod
from matchmaker.creditcode import check_char
from matchmaker.users import create_token, create_user

PASSWORD = "sample-pass-2026"


def code(prefix17: str) -> str:
    return prefix17 + check_char(prefix17)


FIRMS = {
    "leader_a": {"name": "青岛海澜智能家电集团有限公司", "credit_code": code("91370212MA3W00001"),
                 "role": "leader", "tiers": [], "chains": ["智能家电"], "segments": ["整机制造"],
                 "products": "冰箱、空调、洗衣机、净水机", "technologies": "变频控制、智能互联",
                 "description": "智能家电整机制造链主企业", "district": "崂山区"},
    "leader_b": {"name": "青岛北岸轨道装备股份有限公司", "credit_code": code("91370211MA3W00002"),
                 "role": "leader", "tiers": [], "chains": ["轨道交通装备"], "segments": ["整车制造"],
                 "products": "高速动车组、城轨车辆", "technologies": "车体轻量化、牵引系统集成",
                 "description": "轨道交通整车制造链主企业", "district": "城阳区"},
    "sme_a": {"name": "青岛渗清膜材料科技有限公司", "credit_code": code("91370214MA3W00003"),
              "role": "sme", "tiers": ["专精特新中小企业"], "chains": ["智能家电"],
              "segments": ["水处理滤材与膜"], "products": "反渗透膜元件、纳滤膜、净水机滤芯",
              "technologies": "抗污染反渗透膜、卷式膜元件、脱盐率≥97%",
              "description": "专注净水膜材料研发生产", "district": "城阳区"},
    "sme_b": {"name": "青岛驰微电机科技有限公司", "credit_code": code("91370215MA3W00004"),
              "role": "sme", "tiers": ["专精特新“小巨人”"], "chains": ["智能家电"],
              "segments": ["压缩机与电机"], "products": "变频无刷直流电机、洗衣机直驱电机",
              "technologies": "永磁同步电机设计、FOC矢量控制", "description": "家电电机配套企业",
              "district": "即墨区"},
    "sme_c": {"name": "青岛轻研复合材料有限公司", "credit_code": code("91370281MA3W00005"),
              "role": "sme", "tiers": ["创新型中小企业"], "chains": ["轨道交通装备", "新材料与精细化工"],
              "segments": ["车体与材料"], "products": "碳纤维复合材料车体部件、轻量化内饰板",
              "technologies": "碳纤维预浸料成型、阻燃复合材料", "description": "轨道交通轻量化材料",
              "district": "胶州市"},
    "sme_d": {"name": "苏州远芯传感技术有限公司", "credit_code": code("91320500MA3W00006"),
              "role": "sme", "tiers": [], "chains": ["智能家电"], "segments": ["传感器"],
              "products": "温湿度传感器、水质TDS传感器", "technologies": "MEMS传感、低功耗采集",
              "description": "家电传感器供应商", "district": "江苏省苏州市"},
}

DEMANDS = {
    "a_open": {"demand_id": "WEB-A1", "leader": "leader_a", "kind": "技术需求",
               "title": "高硬度水质地区净水机膜元件抗污堵",
               "description": "净水机在高硬度水质地区使用三四个月后出水变小、废水变多，需要抗污堵、抗结垢的反渗透膜元件，延长滤芯更换周期。",
               "specs": "进水硬度400mg/L条件下元件寿命≥24个月；脱盐率≥95%", "chains": ["智能家电"],
               "cooperation": ["联合研发", "产品采购"], "deadline": "2027-06-30", "status": "open"},
    "a_draft": {"demand_id": "WEB-A2", "leader": "leader_a", "kind": "技术需求",
                "title": "洗衣机直驱电机降噪", "description": "需要低噪声直驱电机", "specs": "",
                "chains": ["智能家电"], "cooperation": [], "deadline": None, "status": "draft"},
    "a_closed": {"demand_id": "WEB-A3", "leader": "leader_a", "kind": "场景需求",
                 "title": "智能工厂质检场景开放", "description": "开放总装线视觉质检场景", "specs": "",
                 "chains": ["智能家电"], "cooperation": ["场景开放"], "deadline": None, "status": "closed"},
    "b_open": {"demand_id": "WEB-B1", "leader": "leader_b", "kind": "技术需求",
               "title": "城轨车辆碳纤维车体部件轻量化",
               "description": "城轨车辆司机室和设备舱需要碳纤维复合材料部件，在满足阻燃要求的前提下减重30%以上。",
               "specs": "满足EN45545-2 HL3阻燃等级；减重≥30%", "chains": ["轨道交通装备"],
               "cooperation": ["联合研发"], "deadline": "2027-03-31", "status": "open"},
}

USERS = {
    "organizer": ("org_admin", "organizer", None),
    "leader_a": ("leader_a1", "leader", "leader_a"),
    "leader_a2": ("leader_a2", "leader", "leader_a"),
    "leader_b": ("leader_b1", "leader", "leader_b"),
    "sme_a": ("sme_a1", "sme", "sme_a"),
    "sme_b": ("sme_b1", "sme", "sme_b"),
    "sme_c": ("sme_c1", "sme", "sme_c"),
    "outsider": ("sme_d1", "sme", "sme_d"),  # an SME invited to no event
    "toggle": ("toggle_me", "organizer", None),  # the account routes that change accounts act on
}


@dataclass
class Sample:
    path: str
    firms: dict = field(default_factory=dict)      # key -> credit code
    demands: dict = field(default_factory=dict)    # key -> demand_id
    users: dict = field(default_factory=dict)      # key -> {username, password, role, firm, id, token}
    event_id: int = 0
    draft_event_id: int = 0
    meeting_id: int = 0
    request_id: int = 0
    other_request_id: int = 0


def build_sample(path: str | Path) -> Sample:
    path = str(path)
    db = dbmod.open_db(path)
    sample = Sample(path=path)
    firms = [dict(f, extra={}) for f in FIRMS.values()]
    dbmod.upsert_firms(db, firms)
    sample.firms = {k: f["credit_code"] for k, f in FIRMS.items()}
    demands = []
    for key, d in DEMANDS.items():
        demands.append(dict(d, leader=sample.firms[d["leader"]], extra={}))
        sample.demands[key] = d["demand_id"]
    dbmod.upsert_demands(db, demands)
    dbmod.upsert_relations(db, [{"firm_a": sample.firms["sme_a"], "firm_b": sample.firms["leader_a"],
                                 "relation": "供应", "year": 2024}])
    for key, (username, role, firm) in USERS.items():
        user = create_user(db, username, PASSWORD, role, firm=sample.firms.get(firm) if firm else None)
        sample.users[key] = {"username": username, "password": PASSWORD, "role": role,
                             "firm": user.get("firm"), "id": user["id"],
                             "token": create_token(db, username, name="sample")}
    from matchmaker import events

    now = dbmod.now()
    sample.event_id = int(events.create_event(
        db, name="智能家电产业链融链固链对接会", date="2027-05-20", start="09:00", slots=4,
        slot_minutes=20, tables=3, venue="青岛国际会议中心"))
    sample.draft_event_id = int(events.create_event(
        db, name="轨道交通装备供需对接会", date="2027-06-10", start="14:00", slots=3,
        slot_minutes=30, tables=2))
    events.invite(db, sample.event_id, [sample.firms[k] for k in
                                        ("leader_a", "leader_b", "sme_a", "sme_b", "sme_c")])
    table_a = next(p["tables"][0] for p in events.participants(db, sample.event_id)
                   if p["credit_code"] == sample.firms["leader_a"])
    with db.atomic():
        db["events"].update(sample.event_id, {"status": "published"})
        sample.meeting_id = db["meetings"].insert({
            "event_id": sample.event_id, "slot": 1, "table_no": table_a, "leader": sample.firms["leader_a"],
            "sme": sample.firms["sme_a"], "demand_id": sample.demands["a_open"], "score": 0.8,
            "reasons": "{}", "locked": 0, "status": "scheduled", "source": "pairing"}).last_pk
        sample.request_id = db["meeting_requests"].insert({
            "event_id": sample.event_id, "sme": sample.firms["sme_b"], "leader": sample.firms["leader_a"],
            "demand_id": sample.demands["a_open"], "message": "我司可提供配套电机方案", "status": "pending",
            "created_at": now}).last_pk
        sample.other_request_id = db["meeting_requests"].insert({
            "event_id": None, "sme": sample.firms["sme_c"], "leader": sample.firms["leader_b"],
            "demand_id": sample.demands["b_open"], "message": "碳纤维车体部件已有装车业绩", "status": "pending",
            "created_at": now}).last_pk
    db.conn.close()
    return sample
