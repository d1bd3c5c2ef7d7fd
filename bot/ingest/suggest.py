"""Filers the registry names again and again that no watchlist names: suggested entities.

Pure: the store's filer counts and the current watchlists in, `Suggestion`s out, for
`newsbot filings suggest` (bot/render/filings.py writes them as YAML to paste into rules/).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.ingest.filings import clean_cell
from bot.match.matching import match_item
from bot.match.normalize import fold
from bot.match.watchlists import Watchlists


@dataclass(frozen=True, slots=True)
class Suggestion:
    """An entity to add: an id, a display name (the trade name when it is distinctive), the
    filer's legal name as an alias, and what it filed."""

    id: str
    name: str
    legal_name: str
    filings: int
    algorithms: tuple[str, ...]
_PLACES = ("北京", "上海", "天津", "重庆", "深圳", "杭州", "广州", "南京", "苏州", "成都", "武汉",
           "西安", "合肥", "厦门", "长沙", "青岛", "济南", "郑州", "宁波", "无锡", "福州", "珠海",
           "东莞", "佛山", "海南", "浙江", "江苏", "广东", "四川", "湖北", "湖南", "山东", "福建",
           "安徽", "河南", "河北", "贵州", "贵阳", "云南", "江西", "辽宁", "吉林", "黑龙江", "陕西",
           "山西", "广西", "香港", "中国")
_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团", "科技", "技术", "信息", "网络",
             "智能", "人工智能", "数字", "数码", "互动", "软件", "服务", "发展", "文化", "传媒",
             "电子", "商务", "研究院", "控股")


def short_name(filer: str) -> str:
    """A filer's trade name, for a suggested entity: 杭州星云智绘科技有限公司 → 星云智绘.
    The legal name when nothing of two characters or more is left."""
    name = re.sub(r"\([^)]*\)", "", clean_cell(filer))
    for place in _PLACES:
        for form in (place + "市", place + "省", place):
            if name.startswith(form):
                name = name[len(form):]
                break
        else:
            continue
        break
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                name = name[: -len(suffix)]
                changed = True
    return name if len(name) >= 2 and name != filer else clean_cell(filer)


def suggest_entities(counts: Iterable[tuple[str, int, tuple[str, ...]]], watchlists: Watchlists,
                     *, min_filings: int = 2) -> list[Suggestion]:
    """Filers with at least `min_filings` filings whose names no watched entity's alias
    matches, most filings first. Spellings of one name (width, traditional characters,
    spaces) are one filer. A trade name shorter than three characters, or shared by two
    suggestions, is no display name: the legal name is."""
    groups: dict[str, list[tuple[str, int, tuple[str, ...]]]] = {}
    for filer, n, algorithms in counts:
        groups.setdefault("".join(fold(filer).split()), []).append((filer, n, algorithms))
    picked = []
    for key, variants in groups.items():
        total = sum(n for _, n, _ in variants)
        legal = max(variants, key=lambda v: v[1])[0]
        if total < min_filings or match_item(legal, "", watchlists):
            continue
        algorithms = tuple(dict.fromkeys(a for _, _, names in variants for a in names))
        digest = hashlib.sha1(key.encode()).hexdigest()[:8]
        picked.append((legal, total, algorithms, f"filer_{digest}"))
    names = [short_name(legal) for legal, _, _, _ in picked]
    out = []
    for (legal, total, algorithms, entity_id), name in zip(picked, names, strict=True):
        if len(name) < 3 or names.count(name) > 1:
            name = legal
        out.append(Suggestion(entity_id, name, legal, total, algorithms))
    return sorted(out, key=lambda s: (-s.filings, s.legal_name))
