"""The vocabulary of events: what happened (action classes), where, and which product.

A small bilingual lexicon of action classes ("what happened": launch, price cut, ban, probe,
funding, listing, lawsuit, earnings, share moves, filing batches, rules …), places, dates and
numbers, and the product families that `build_lexicon` derives from the compiled watchlists
(the rules already name every product: "ERNIE 4.5", "Qwen2.5", "DeepSeek-R1", "可灵"), so that
"Ernie 4.5" and "文心4.5" read as (baidu, "4.5"). Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.match.normalize import fold

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_ANY_CJK = re.compile(f"[{_CJK}]")


def fold_text(text: str) -> str:
    """Fold like the matcher (width, case, traditional → simplified) but keep "." and "-".

    Versions need them ("4.5", "R1-Lite"); the matcher's fold turns them into spaces, so its
    characters are taken only where it changed a CJK character."""
    base = unicodedata.normalize("NFKC", text).lower()
    if not _ANY_CJK.search(base):
        return base  # only CJK characters change beyond NFKC and case
    folded = fold(base)
    if len(folded) != len(base):
        return base
    return "".join(f if (o != f and "\u3400" <= o) else o for o, f in zip(base, folded))


# Action classes: a tiny bilingual lexicon of "what happened". Order = priority: when a
# headline names several (e.g. "shares slide despite Spark 4.0 launch"), the most specific,
# highest one is the news; ties go to the earliest in the title.
_ACTIONS: tuple[tuple[str, str], ...] = (
    ("share_down", r"shares? (?:fell|fall|falls|slide|slides|slid|slump|slumps|plunge|plunges|"
                   r"plunged|tumble|tumbles|drop|drops|dropped|sink|sinks)|stock (?:falls|fell|"
                   r"slides|slumps|plunges|drops|tumbles|sinks)|gives? back gains|"
                   r"(?:股价|股票|股|市值).{0,6}(?:下跌|大跌|暴跌|跳水|跌)|跌停"),
    ("share_up", r"shares? (?:rise|rises|rose|jump|jumps|jumped|surge|surges|surged|soar|soars|"
                 r"climb|climbs|rally|rallies|gain|gains|gained|rocket|rockets)|stocks? (?:rise|"
                 r"rises|jumps|surges|soars|climbs|rallies|rockets|gains)|soar|surge|rall(?:y|ies)|"
                 r"(?:股价|股票|股|市值).{0,6}(?:上涨|大涨|暴涨|飙升|涨)|涨停"),
    ("share_halt", r"halt(?:s|ed)?|suspend(?:s|ed)? trading|trading (?:halt|suspen)|停牌"),
    ("earnings", r"earnings|quarterly (?:results|revenue|profit)|revenue (?:jump|rise|grow|fell|"
                 r"up|down)|(?:first|second|third|fourth)[- ]quarter|net (?:profit|loss)|"
                 r"财报|季报|年报|一季报|营收|净利润|净亏损|季度.{0,6}(?:营收|利润)"),
    ("lawsuit", r"\bsues?\b|\bsued\b|lawsuit|litigation|court ruling|copyright (?:case|suit)|"
                r"起诉|诉讼|判决|侵权案|索赔|应诉"),
    ("ban", r"\bbans?\b|\bbanned\b|\bbars?\b|\bbarred\b|\bblocks?\b|\bblocked\b|pull(?:s|ed)? the plug|"
            r"prohibit|offline|removed? from app stores?|封禁|遭封|禁用|禁止|下架|限制.{0,8}处理|叫停"),
    ("probe", r"probes?\b|investigat|seeks? answers|request(?:s|ed)? (?:for )?information|"
              r"writes? to|wrote to|\bexplain\b|questions? over|scrutiny|"
              r"调查|问询|约谈|要求.{0,6}说明"),
    ("incident", r"outage|went down|goes down|crash|leak|leaked|expos(?:ed|es)|breach|unsecured|"
                 r"open to the internet|scam|fraud|\bcon\b|swindl|hack|"
                 r"宕机|故障|崩了|访问高峰|排队|扩容|响应.{0,2}慢|变慢|泄露|诈骗|被骗|骗局"),
    ("controversy", r"controvers|backlash|criticis|questioned|doubts?|disput|"
                    r"争议|质疑|翻车|道歉"),
    ("funding", r"rais(?:es|ed|ing) .{0,30}(?:yuan|dollars|\$|funding|round|million|billion)|"
                r"funding|valuation|investment round|fundrais|融资|领投|估值|战略投资|获投"),
    ("listing", r"\bipo\b|initial public offering|listing|go(?:es)? public|prospectus|"
                r"上市|辅导备案|上市辅导|招股|港股|科创板"),
    ("investment", r"capex|capital expenditure|earmark|\bspend(?:s|ing)?\b|invest(?:s|ing)? "
                   r"(?:\$|billion|heavily)|资本开支|投入.{0,4}亿"),
    ("filing", r"filing|filed|filers?|registered|registry|registration|batch|approv(?:ed|al)s?|"
               r"备案|名单|清单"),
    ("rule", r"\brules?\b|regulations?|measures|requir(?:e|es|ing)|mandat|deadline|draft law|"
             r"guideline|办法|规定|条例|征求意见|施行|新规|标准|必须"),
    ("meeting", r"symposium|meets? with|meeting|座谈会|主持召开|会见"),
    ("price_cut", r"price (?:cut|drop|reduction)s?|prices? cuts?|"
                  r"\b(?:cuts?|slash(?:es|ed)?|halv(?:es|ed)|lowers|lowered|reduc(?:es|ed)) "
                  r"(?:[^,;:]{0,40}? )?(?:api )?(?:prices?|fees?)\b|discount|"
                  r"goes free|free (?:for|to) (?:all|every)|made free|paywall|subscription fees?|"
                  r"stops? charging|scraps? (?:its |the )?(?:fees?|subscription|charges?)|"
                  r"降价|下调|直降|减半|腰斩|五折|折扣|打折|全面免费|起免费|将免费|不再收费|取消收费|"
                  r"限时.{0,2}折"),
    ("integrate", r"integrat|\badds? .{0,30} to\b|\btaps?\b|plugs? in|接入|集成|搭载|引入"),
    ("open_source", r"open[- ]sourc|open[- ]weight|openly licensed|open model|开源"),
    ("launch", r"launch|releas|unveil|roll(?:s|ed)? out|debut|introduc|\bdrops?\b|arriv|"
               r"goes live|go live|is here|puts? out|pushe[sd] out|touts?|shows? off|opens?\b|"
               r"new (?:ai )?model|upgraded|upgrade|joins .{0,20}race|enters .{0,20}race|"
               r"发布|推出|上线|亮相|登场|问世|来了|开放|升级|内测|公测|首秀|出炉|甩出|面世"),
    ("pricing", r"pric(?:e|es|ed|ing)|cost|定价|价格|白菜价|每百万"),
)
ACTION_CLASSES = tuple(name for name, _ in _ACTIONS)
_ACTION_RANK = {name: i for i, name in enumerate(ACTION_CLASSES)}
# Pairs of different classes that may still be one happening (a launch names its price, is
# open-sourced the same day, is the news behind a trading halt).
COMPATIBLE = frozenset(frozenset(p) for p in (
    ("launch", "open_source"), ("launch", "pricing"), ("open_source", "pricing"),
    ("share_up", "share_halt"), ("share_down", "share_halt"),
    ("filing", "rule"), ("listing", "filing"), ("launch", "integrate"),
))
# classes whose stories are about a topic more than a company: they get an index key of their
# own so that items without a watched subject (a rule, a filing batch, a scam) still meet
TOPIC_ACTIONS = frozenset({"rule", "filing", "ban", "probe", "incident", "lawsuit"})
# Happenings that are their doer's act: one regulator's probe of a company and another's (or
# a rival's) are two stories, whatever else they share (bot/stories/forms.py _actor).
ACTOR_ACTIONS = frozenset({"probe", "ban", "lawsuit"})
# An action word in these classes is weak evidence on its own: every launch report names a
# price, and "free" / "open" are common words.
WEAK_ACTIONS = frozenset({"pricing"})

# Rival cues: an entity right after these is a comparison, not the subject.
# "TikTok rival Kuaishou", "DeepSeek 对手": the entity before "rival" is the comparison
RIVAL_AFTER = re.compile(r"^\W{0,3}(?:'s )?(?:rivals?|competitors?|challengers?|对手|劲敌)\b")
RIVAL_BEFORE = re.compile(
    r"(?:rival(?:s|ing)?|vs\.?|versus|against|challenge[sd]?|take[sn]? (?:aim at|on)|"
    r"counters?|edge over|beats?|outperform[s]?|match(?:es)?|than|like|pressure from|"
    r"对标|比肩|超越|超过|叫板|挑战|媲美|仅为|同日|对手|追平|优于|击败|接入|加入)\W{0,3}$")

# Places (a small generic gazetteer, both languages): the same action in another country is
# another happening ("Italy blocks DeepSeek" vs "Taiwan bars DeepSeek").
_PLACES: dict[str, tuple[str, ...]] = {
    "italy": ("italy", "italian", "意大利"), "ireland": ("ireland", "irish", "爱尔兰"),
    "taiwan": ("taiwan", "台湾"), "us": ("united states", "u.s.", "america", "美国"),
    "korea": ("south korea", "korea", "korean", "韩国"), "japan": ("japan", "japanese", "日本"),
    "germany": ("germany", "german", "德国"), "france": ("france", "french", "法国"),
    "uk": ("britain", "british", "united kingdom", "u.k.", "英国"),
    "eu": ("european union", "eu", "brussels", "欧盟"), "india": ("india", "indian", "印度"),
    "australia": ("australia", "australian", "澳大利亚"), "canada": ("canada", "加拿大"),
    "netherlands": ("netherlands", "dutch", "荷兰"), "singapore": ("singapore", "新加坡"),
    "hong_kong": ("hong kong", "香港"), "russia": ("russia", "russian", "俄罗斯"),
    "spain": ("spain", "spanish", "西班牙"), "belgium": ("belgium", "比利时"),
    "texas": ("texas", "德州", "得克萨斯"), "new_york": ("new york", "纽约"),
}
PLACE_RE = re.compile("|".join(
    (rf"\b{re.escape(a)}\b" if a.isascii() else re.escape(a))
    for names in _PLACES.values() for a in sorted(names, key=len, reverse=True)))
PLACE_OF = {a: pid for pid, names in _PLACES.items() for a in names}
# The alternation above costs ~0.1 ms over a summary; most texts name no place. A place name
# is found only where one of its distinctive pieces occurs, which `in` tells far faster.
_PLACE_PIECES = tuple(sorted({a.split()[0].rstrip(".") for a in PLACE_OF}))


def find_places(text: str) -> set[str]:
    """The place ids named in folded text ("italy", "hong_kong", "us" …)."""
    if not any(piece in text for piece in _PLACE_PIECES):
        return set()
    return {PLACE_OF.get(m.group(0), m.group(0)) for m in PLACE_RE.finditer(text)}

_MONTHS = {m: i + 1 for i, m in enumerate(
    "january february march april may june july august september october november december".split())}
MONTH_ABBR = {m[:3]: i for m, i in _MONTHS.items()}
EN_DATE = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? (\d{1,2})\b")
ZH_DATE = re.compile(r"(\d{1,2})月(\d{1,2})日")
NUMBER = re.compile(
    r"(?:hk\$|us\$|\$|rmb|¥)?\s?(\d+(?:[.,]\d+)*)\s?"
    r"(trillion|billion|million|thousand|bn|mn|[kmbt]\b|万亿|千亿|百亿|亿|万|%| per ?cent)?")
UNITS = {"trillion": 1e12, "万亿": 1e12, "t": 1e12, "billion": 1e9, "bn": 1e9, "b": 1e9,
         "千亿": 1e11, "百亿": 1e10, "亿": 1e8, "million": 1e6, "mn": 1e6, "m": 1e6, "万": 1e4,
         "thousand": 1e3, "k": 1e3}


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Product families derived from the watchlists' product (and name) aliases.

    `families` maps a folded family name ("ernie", "文心", "qwen", "deepseek") to its entity;
    `product_family` marks families that come from a product alias (not a company name);
    `canon` gives a product family its identity (see build_lexicon): only families with one
    may contradict each other by name ("UI-TARS" vs "Doubao")."""

    families: Mapping[str, str]
    product_family: frozenset[str]
    by_prefix: Mapping[str, tuple[str, ...]]  # first two chars → families, longest first
    canon: Mapping[str, str] = field(default_factory=dict)  # product family → product id


_VERSION_TAIL = re.compile(
    r"^(?P<base>.+?)(?:[\s\-_]*v?\d+(?:\.\d+)*[a-z]{0,2}|(?:[\s\-_]+|(?<=[\u3400-\u9fff]))[a-z]{1,2}\d+(?:\.\d+)*)"
    r"(?:[\s\-_]+[a-z0-9.]+)*$")
_SUFFIX_WORDS = ("pro|max|turbo|air|vl|lite|plus|mini|flash|ultra|omni|coder|thinking|instruct|"
                 "base|large|lightning|preview|chat|hd|turbos|terminus|air|reasoner|v")
_GENERIC_FAMILY = frozenset({"ai", "app", "chat", "model", "models", "the", "tech", "group"})


def _family_of(text: str) -> str | None:
    """A product alias without its version tail: "ERNIE 4.5 Turbo" → "ernie"."""
    text = re.sub(r"\(.*?\)|（.*?）", " ", text).strip()
    m = _VERSION_TAIL.match(text)
    name = (m.group("base") if m else text).strip(" -_/")
    if not name or name in _GENERIC_FAMILY or name.isdigit() or len(name) < 2:
        return None
    if name.endswith((" inc", " group", " co", ".com", "有限公司")):
        return None
    return name


def build_lexicon(watchlists: Any,
                  product_groups: Iterable[tuple[str, Iterable[str]]] | None = None) -> Lexicon:
    """Derive product families from compiled watchlists (`watchlists.tables.alias_of`).

    WHY derived: a hand-written list would be tuned to the labelled set; the rules already
    list every product ("ERNIE 4.5", "Qwen2.5", "DeepSeek-R1", "盘古大模型"). A family is an
    alias with its version tail removed ("ERNIE 4.5 Turbo" → "ernie"); company names count as
    families too ("DeepSeek-V3", "MiniMax-01", "Baichuan4").

    `product_groups` — (entity, names) pairs, one per product; by default the rules' own
    `product_groups` (AliasSpec.group, rules/README.md). A family's identity is the set of
    groups it is named in, so "可灵" and "Kling", "豆包" and "Doubao" are one product (evidence
    across languages) and "UI-TARS" vs "豆包" two (a conflict). Names the rules put in no
    group never contradict another name: a sibling left ungrouped is a blind spot."""
    fold = fold_text
    if product_groups is None:
        product_groups = rules_product_groups(watchlists)
    families: dict[str, str] = {}
    product_family: set[str] = set()
    canon: dict[str, str] = {}

    def ascii_id(name: str) -> str:
        return re.sub(r"[\s\-_.]+", "", name)

    specs = getattr(getattr(watchlists, "tables", None), "alias_of", {}) or {}
    for spec in specs.values():
        name = _family_of(fold(spec.text).strip())
        if name is None:
            continue
        families.setdefault(name, spec.entity)
        if spec.product:
            product_family.add(name)
    # A product's identity is the set of reference product groups its name appears in: "可灵"
    # and "Kling" share one, so do "Ernie Bot", "Wenxin Yiyan" and "文心一言". A Latin name
    # in no group is its own product; a Chinese name in no group is unknown (a nickname such
    # as "文心" may be any of the maker's models) and never contradicts another name.
    groups: dict[str, set[str]] = {}
    for gi, (entity, names) in enumerate(product_groups):
        fams = [f for f in (_family_of(fold(n).strip()) for n in names if n) if f]
        for f in fams:
            if families.get(f, entity) != entity:
                continue
            families.setdefault(f, entity)
            product_family.add(f)
            groups.setdefault(f, set()).add(f"g{gi}")
    for f in product_family:
        if f in groups:
            canon[f] = "|".join(sorted(groups[f]))
        elif f.isascii():
            canon[f] = ascii_id(f)
        else:
            canon[f] = ""
    if not families:
        return Lexicon({}, frozenset(), {})
    by_prefix: dict[str, list[str]] = {}
    for name in families:
        by_prefix.setdefault(scan_key(name)[:2], []).append(scan_key(name))
    scan_families = {scan_key(f): f for f in families}
    families.update({k: families[f] for k, f in scan_families.items()})
    for k, f in scan_families.items():
        if f in product_family:
            product_family.add(k)
            canon[k] = canon.get(f, "")
    return Lexicon(families, frozenset(product_family),
                   {k: tuple(sorted(set(v), key=len, reverse=True)) for k, v in by_prefix.items()},
                   canon)


def find_actions(text: str) -> list[tuple[int, str]]:
    found = []
    for name, rx in _COMPILED_ACTIONS:
        m = rx.search(text)
        if m:
            found.append((m.start(), name))
    return found


_COMPILED_ACTIONS = tuple((n, re.compile(p)) for n, p in _ACTIONS)


def primary_action(found: list[tuple[int, str]]) -> str | None:
    strong = [(_ACTION_RANK[n], pos, n) for pos, n in found if n not in WEAK_ACTIONS]
    if not strong:
        strong = [(_ACTION_RANK[n], pos, n) for pos, n in found]
    if not strong:
        return None
    # share_up/share_down/halt are one tier: the earliest in the title wins
    strong.sort()
    best = strong[0]
    if best[2] in ("share_down", "share_up", "share_halt"):
        tier = [s for s in strong if s[2] in ("share_down", "share_up", "share_halt")]
        tier.sort(key=lambda s: s[1])
        directional = [s for s in tier if s[2] != "share_halt"]
        return (directional or tier)[0][2]
    return best[2]


def scan_key(text: str) -> str:
    """Hyphens and underscores as spaces: "UI-TARS" = "ui tars", "DeepSeek-R1" = "deepseek r1"."""
    return text.replace("-", " ").replace("_", " ")


_VER_AFTER = re.compile(
    r"(?:['’]s)?(?:\s*(?:大模型|模型|model))?\s*"
    r"(?:(?P<pre>(?:vl|coder|math|omni|audio|text|vision|video)\s?)?"
    r"(?P<ver>v?\d+(?:\.\d+)*(?![\d.])[a-z]{0,2}(?![a-z])|[a-z]{1,2}\d+(?:\.\d+)*(?![\d.]))"
    rf"(?P<suf>(?:\s+(?:{_SUFFIX_WORDS})(?![a-z0-9]))*)"
    r"|\s+(?P<word>lightning|large|linear|tars|pro|max|turbo|thinking|flash)(?![a-z0-9]))")
_SCAN_START = re.compile(f"(?<![a-z0-9])[a-z0-9]|[{_CJK}]")


def scan_products(text: str, lexicon: Lexicon) -> list[tuple[str, str, str | None]]:
    """(entity, family, version or None) for every product family named in folded text.

    A prefix-indexed scan (not one regex of ~1,000 alternatives, which cost ~5 ms an item):
    at each word start (Latin) or character (CJK), the families sharing the next two
    characters are tried longest first; a Latin family must end at a word boundary or a
    digit ("Qwen3"); then one anchored regex reads the version after it."""
    out: list[tuple[str, str, str | None]] = []
    if not lexicon.by_prefix:
        return out
    s = scan_key(text)
    pos, n = 0, len(s)
    while pos < n:
        m = _SCAN_START.search(s, pos)
        if m is None:
            break
        i = m.start()
        hit = None
        for fam in lexicon.by_prefix.get(s[i:i + 2], ()):
            if s.startswith(fam, i):
                end = i + len(fam)
                if fam[-1].isascii() and end < n and s[end].isascii() and s[end].isalpha():
                    continue
                hit = (fam, end)
                break
        if hit is None:
            pos = i + 1
            continue
        fam, end = hit
        entity = lexicon.families.get(fam)
        vm = _VER_AFTER.match(s, end)
        version = None
        if vm and vm.group("ver"):
            v = vm.group("ver")
            if re.fullmatch(r"v\d+(?:\.\d+)*", v):
                v = v[1:]
            if re.fullmatch(r"\d+\.0+", v):
                v = v.split(".")[0]
            version = (re.sub(r"\s+", "", vm.group("pre") or "") + v +
                       re.sub(r"\s+", "", vm.group("suf") or ""))
            end = vm.end()
        elif vm and vm.group("word"):
            version = vm.group("word")
            end = vm.end()
        if entity:
            out.append((entity, fam, version))
        pos = max(end, i + 1)
    return out


def versioned_products(scanned: list[tuple[str, str, str | None]]) -> list[tuple[str, str, str]]:
    """(entity, version, family) for every "family + version"."""
    return [(e, v, f) for e, f, v in scanned if v]


def known_product_id(lexicon: Lexicon, family: str) -> str:
    """The product id of a family if it may contradict others by name, else ""."""
    return lexicon.canon.get(family) or ""


def named_products(scanned: list[tuple[str, str, str | None]],
                    lexicon: Lexicon) -> set[tuple[str, str]]:
    """(entity, product id) for every product family named ("UI-TARS", "可灵", "Doubao-1.5")."""
    return {(e, lexicon.canon[f]) for e, f, _ in scanned if lexicon.canon.get(f)}


def rules_product_groups(watchlists: Any) -> list[tuple[str, list[str]]]:
    """(entity, names) per product group the rules declare (AliasSpec.group): the names that
    name one product, in either language ("Kling", "可灵", "Kling AI")."""
    groups: dict[str, tuple[str, list[str]]] = {}
    specs = getattr(getattr(watchlists, "tables", None), "alias_of", {}) or {}
    for spec in specs.values():
        group = getattr(spec, "group", None)
        if group:
            groups.setdefault(group, (spec.entity, []))[1].append(spec.text)
    return [groups[g] for g in sorted(groups)]
