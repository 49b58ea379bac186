"""Unified social credit code (统一社会信用代码), GB 32100-2015.

18 characters: registration authority (1), organisation type (1), administrative division (6),
organisation code (9), check character (1). Only the check character is verified here: it is
what catches typing errors, and the first 17 characters are not otherwise checkable offline.
"""

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VALUE = {c: i for i, c in enumerate(CHARSET)}


def normalize(code: str) -> str:
    """Upper-case, half-width, without spaces: how users paste codes from documents."""
    import unicodedata

    return unicodedata.normalize("NFKC", code or "").strip().replace(" ", "").upper()


def check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters."""
    if len(first17) != 17 or any(c not in _VALUE for c in first17):
        raise ValueError("需要17位由数字和大写字母（不含I、O、S、V、Z）组成的前缀")
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS))
    return CHARSET[(31 - total % 31) % 31]


def problem(code: str) -> str | None:
    """Why `code` is not a valid credit code (in Chinese), or None when it is."""
    if len(code) != 18:
        return f"统一社会信用代码应为18位，实际为{len(code)}位"
    bad = [c for c in code if c not in _VALUE]
    if bad:
        return f"统一社会信用代码含非法字符“{bad[0]}”（只允许数字和除I、O、S、V、Z外的大写字母）"
    expected = check_char(code[:17])
    if code[17] != expected:
        return f"统一社会信用代码校验位错误：末位应为“{expected}”，实际为“{code[17]}”"
    return None


def is_valid(code: str) -> bool:
    return problem(code) is None
