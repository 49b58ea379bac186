import csv

import pytest

from matchmaker import creditcode
from conftest import HANDWRITTEN, need_shared


def test_known_good_code_verifies():
    # the check character of a published code, computed by hand from GB 32100-2015
    assert creditcode.check_char("91350100M000100Y4") == "3"
    assert creditcode.is_valid("91350100M000100Y43")


def test_wrong_check_character_is_named():
    msg = creditcode.problem("91350100M000100Y44")
    assert "校验位" in msg and "“3”" in msg


@pytest.mark.parametrize("code,part", [("9135010", "18位"), ("91350100M000100YI3", "非法字符")])
def test_shape_faults(code, part):
    assert part in creditcode.problem(code)


def test_normalize_full_width_and_case():
    assert creditcode.normalize(" ９１３５０１００m000100y43 ") == "91350100M000100Y43"


def test_every_benchmark_code_verifies():
    path = need_shared(HANDWRITTEN) / "firms.csv"
    with open(path, encoding="utf-8-sig") as fh:
        codes = [r["统一社会信用代码"] for r in csv.DictReader(fh)]
    assert codes and all(creditcode.is_valid(c) for c in codes)
