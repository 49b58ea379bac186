import pytest

from matchmaker.records import Records

FIRMS = [
    {"name": "青岛渗源膜科技有限公司", "credit_code": "S1", "role": "sme", "tiers": ["专精特新"],
     "chains": ["智能家电"], "segments": ["核心零部件"], "products": "反渗透膜元件", "technologies": "",
     "description": "专注净水膜材料", "district": "崂山区", "extra": {"注册资本": "500万"}},
    {"name": "青岛声澜智能科技有限公司", "credit_code": "S2", "role": "sme", "tiers": [], "chains": [],
     "segments": [], "products": "", "technologies": "波束形成", "description": "", "district": "",
     "extra": {}},
    {"credit_code": "L1", "name": "澜庭集团", "role": "leader", "year": None},  # other keys, other order
]


def test_records_read_back_equal_and_in_order():
    recs = Records(FIRMS)
    assert len(recs) == 3 and list(recs) == FIRMS and recs == FIRMS
    assert recs[2] == FIRMS[2] and list(recs[2]) == list(FIRMS[2])  # key order kept
    assert recs[-1] == FIRMS[-1] and recs[1:] == FIRMS[1:]
    with pytest.raises(IndexError):
        recs[3]


def test_a_record_read_is_a_copy_and_edits_go_through_setitem_and_append():
    recs = Records(FIRMS)
    got = recs[0]
    got["products"] = "改了"
    got["chains"].append("集成电路")
    assert recs[0] == FIRMS[0]
    recs[0] = got
    recs.append({"credit_code": "S9", "name": "新企业"})
    assert recs[0]["products"] == "改了" and recs[0]["chains"] == ["智能家电", "集成电路"]
    assert recs[3] == {"credit_code": "S9", "name": "新企业"} and len(recs) == 4
    assert recs[1] == FIRMS[1]


def test_records_take_less_memory_than_the_dicts():
    import sys
    many = [dict(FIRMS[0], credit_code=f"S{i}", description=f"第{i}家企业，" + FIRMS[0]["description"] * 5)
            for i in range(2000)]

    def deep(x):
        if isinstance(x, dict):
            return sys.getsizeof(x) + sum(deep(k) + deep(v) for k, v in x.items())
        if isinstance(x, list):
            return sys.getsizeof(x) + sum(deep(v) for v in x)
        return sys.getsizeof(x)
    recs = Records(many)
    assert recs.nbytes < 0.5 * sum(deep(f) for f in many)
    assert Records.of(recs) is recs and Records.of(many) == many


def test_grouped_lists_each_keys_records_in_order():
    from matchmaker.records import Grouped
    rels = Records([{"firm_a": "S1", "firm_b": "L1"}, {"firm_a": "S2", "firm_b": "S1"},
                    {"firm_a": "S1", "firm_b": "S1"}])
    pos = {"S1": 0, "S2": 1, "L1": 2}
    g = Grouped(rels, pos, [0, 2, 1, 0, 0, 0], [0, 0, 1, 1, 2, 2])
    assert g.get("S1") == [rels[0], rels[1], rels[2], rels[2]]
    assert g["L1"] == [rels[0]] and g.get("S2") == [rels[1]]
    pos["S9"] = 3  # a key added later has no records
    assert g.get("S9", []) == [] and g.get("nobody") is None and "S9" not in g and "S2" in g


def test_keys_find_positions_as_a_dict_built_in_order_would():
    import random

    from matchmaker.records import KeyMap, Keys
    rnd = random.Random(3)
    # repeats (the last position wins, as in {k: i for i, k in ...}), non-ASCII, enough
    # strings for CRC-32 collisions among them
    strs = [f"9137{rnd.randrange(10 ** 14):014d}" for _ in range(120_000)] + ["企业甲", "", "S1", "企业甲", "S1"]
    rnd.shuffle(strs)
    keys = Keys(strs)
    last = {k: i for i, k in enumerate(strs)}
    first: dict[str, int] = {}
    for i, k in enumerate(strs):
        first.setdefault(k, i)
    assert len(keys) == len(strs) and list(keys) == strs and keys[-1] == strs[-1]
    assert keys.find_many(strs).tolist() == [last[k] for k in strs]
    assert keys.find_many(strs, first=True).tolist() == [first[k] for k in strs]
    assert keys.first_positions().tolist() == [first[k] for k in strs]
    assert all(keys.find(k) == last[k] and keys.find(k, first=True) == first[k] for k in strs[:2000])
    assert keys.find("无此企业") is None and keys.find_many(["无此企业", None]).tolist() == [-1, -1]
    assert keys.nbytes < 45 * len(strs)  # a list and a dict of the same: ~250 bytes a string
    pos = keys.positions()
    assert pos["企业甲"] == last["企业甲"] and "S1" in pos and "S2" not in pos and pos.get("S2", -1) == -1
    # appended and replaced strings are found; items set on the map take precedence
    keys.append("S2")
    pos["S3"] = 7
    assert pos["S2"] == len(strs) and pos["S3"] == 7 and keys.find_many(["S2"]).tolist() == [len(strs)]
    i = last["企业甲"]
    keys[i] = "企业乙"
    assert keys.find("企业乙") == i and keys.find("企业甲") == strs.index("企业甲")
    names = KeyMap(Keys(["甲", "乙", "甲"]), ["C1", "C2", "C3"])
    assert names["甲"] == "C3" and names.get("丙") is None and list(names) == ["甲", "乙"]
    assert Keys(keys) == keys  # a copy
