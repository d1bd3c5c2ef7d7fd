"""An item read as an event: `EventForm`, computed once, and the index keys it is found by.

`event_form` reads a matched item (title, summary, the matcher's hits, time) into what the
decision compares: subject entities (a rival after "rivals", "对标" … is not the subject),
products and versions, the headline's action class, places, dates, numbers, and a text
vector (Latin word stems, CJK character bigrams, concept ids shared across languages).
`event_key_strings` are the keys the store indexes so that reports of one happening meet.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.stories.lexicon import (
    ACTOR_ACTIONS,
    EN_DATE,
    MONTH_ABBR,
    NUMBER,
    RIVAL_AFTER,
    RIVAL_BEFORE,
    TOPIC_ACTIONS,
    UNITS,
    ZH_DATE,
    Lexicon,
    find_actions,
    find_places,
    fold_text,
    known_product_id,
    named_products,
    primary_action,
    scan_products,
    versioned_products,
)

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_LATIN_TOKEN = re.compile(r"[a-z0-9]+(?:[.\-_][a-z0-9]+)*")
_STOP = frozenset(
    "a an and are as at be by for from has have in into is it its of on or over says said "
    "than that the their this to up was will with after amid s new its it's says company "
    "chinese china china's ai model models large language start up startup firm firms tech "
    "giant based beijing shanghai hangzhou shenzhen what how why who which more most".split())
_CJK_STOP_BIGRAMS = frozenset("大模 模型 人工 工智 智能 公司 发布 宣布 今日 表示 称其 其在 中国 国内".split())


@dataclass(frozen=True, slots=True)
class EventForm:
    """One item made comparable as an *event*. Computed once; everything else reads this."""

    at: int                                   # unix seconds (published, else first seen)
    lang: str
    title: str                                # folded title (near-duplicate check)
    subjects: tuple[str, ...]                 # title entities that are the subject, first first
    entities: Mapping[str, float]             # every matched entity → weight
    products: frozenset[tuple[str, str]]      # (entity, version) in the title
    product_ids: frozenset[tuple[str, str, str]]  # (entity, version, product id or "") in title
    products_all: frozenset[tuple[str, str]]  # … in title or summary
    families: frozenset[tuple[str, str]]      # (entity, product id) named in the title
    families_all: frozenset[tuple[str, str]]  # … in title or summary
    primary: str | None                       # the headline's action class
    primary_in_title: bool                    # False: read from the summary (weak: no conflicts)
    title_actions: tuple[str, ...]
    summary_actions: tuple[str, ...]
    actor: frozenset[str]                     # who probes, bans or sues (title words before it)
    places: frozenset[str]                    # title places
    anchors: frozenset[str]                   # places anywhere + distinctive numbers
    dates: frozenset[str]                     # title dates "m-d"
    numbers: frozenset[str]                   # normalised numbers (title + summary)
    tf: Mapping[str, float]                   # text features (title ×2), L2-normalised later
    title_tokens: frozenset[str]              # for the near-duplicate test
    cjk_title: bool

    @property
    def matched(self) -> bool:
        return bool(self.entities)


def _norm_number(raw: str, unit: str | None) -> str | None:
    text = raw.replace(",", "") if re.fullmatch(r"\d{1,3}(?:,\d{3})+", raw) else raw.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        return None
    unit = (unit or "").strip()
    if unit in ("%", "per cent", "percent", "percent"):
        return f"{_sig(value)}%"
    if unit in UNITS:
        value *= UNITS[unit]
    elif unit == "" and 1900 <= value <= 2100 and "." not in text:
        return None  # a year
    return _sig(value)


def _sig(value: float) -> str:
    """Two significant digits: "31.15%" = "31%", "557.6万美元" = "US$5.6 million"."""
    if value == 0:
        return "0"
    digits = 2 - int(math.floor(math.log10(abs(value)))) - 1
    rounded = round(value, digits)
    return f"{rounded:.6g}"


def _distinctive(n: str) -> bool:
    """A number that identifies a happening: an amount (≥ 1,000 after units), or a percentage
    or decimal that is not a small round count ("31%", "0.99", not "2" or "10")."""
    if n.endswith("%"):
        return True
    try:
        v = float(n)
    except ValueError:
        return False
    return v >= 1000 or (v != int(v) and v > 1)


def _stem(word: str) -> str:
    if len(word) > 4 and word.isalpha():
        for suffix in ("ing", "ed", "es", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                return word[: -len(suffix)]
    return word


_ZH_MONTH = re.compile(r"(?<!\d)(\d{1,2})月")
_EN_MONTH = re.compile(r"\b(january|february|march|april|may|june|july|august|september|"
                       r"october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\b\.?")


def _months(text: str) -> set[str]:
    out = {str(int(m)) for m in _ZH_MONTH.findall(text) if 1 <= int(m) <= 12}
    for m in _EN_MONTH.findall(text):
        if m == "may" and not re.search(r"\bmay \d", text):
            continue  # the verb
        out.add(str(MONTH_ABBR[m[:3]]))
    return out


def _tokens(text: str) -> list[str]:
    """Latin stems (and hyphen parts) + CJK character bigrams of folded text."""
    toks: list[str] = []
    for run in _CJK_RUN.findall(text):
        if len(run) == 1:
            toks.append(run)
        else:
            toks.extend(b for b in (run[i:i + 2] for i in range(len(run) - 1))
                        if b not in _CJK_STOP_BIGRAMS)
    for w in _LATIN_TOKEN.findall(text):
        if w in _STOP or w.isdigit():
            continue
        parts = re.split(r"[.\-_]", w)
        if len(parts) > 1:
            toks.append(w.replace("_", "-"))
            toks.extend(_stem(p) for p in parts if p and not p.isdigit() and p not in _STOP)
        else:
            toks.append(_stem(w))
    return toks


def _numbers(text: str) -> set[str]:
    out = set()
    for m in NUMBER.finditer(text):
        n = _norm_number(m.group(1), m.group(2))
        if n is not None:
            out.add(n)
    return out


def _dates(text: str) -> set[str]:
    out = {f"{int(a)}-{int(b)}" for a, b in ZH_DATE.findall(text)}
    for mon, day in EN_DATE.findall(text):
        out.add(f"{MONTH_ABBR[mon[:3]]}-{int(day)}")
    return out


def event_form(title: str, summary: str, lang: str | None, hits: Iterable[Any], at: int,
               lexicon: Lexicon) -> EventForm:
    """Read one item as an event (pure; ~0.1–0.3 ms).

    `hits` are `bot.models.Hit`s of `match_item` (entity, field, start …). Subjects are the
    title's entities in order, minus rivals (an entity right after "rivals", "对标" …); when
    the title names none, there is no subject (the summary's entities are usually examples,
    e.g. "platforms such as Douyin and WeChat") and only `entities` carries them, weakly."""
    t = fold_text(title)
    s = fold_text(summary or "")
    title_pos: dict[str, int] = {}
    rival: set[str] = set()
    ents: dict[str, float] = {}
    title_hits = [h for h in hits if h.field == "title"]
    for h in title_hits:
        if h.entity not in title_pos or h.start < title_pos[h.entity]:
            title_pos[h.entity] = h.start
        lo = max(0, h.start - 16)
        m = RIVAL_BEFORE.search(t[lo:h.start])
        if m and m.group(0).startswith("rival") and any(
                0 <= lo + m.start() - o.end <= 3 for o in title_hits if o.entity != h.entity):
            m = None  # "TikTok rival Kuaishou": the entity after "rival" is the subject
        if m or RIVAL_AFTER.search(t[h.end:h.end + 16]):
            rival.add(h.entity)
    for h in hits:
        w = 1.0 if h.entity in title_pos else 0.35
        if h.entity in rival:
            w = 0.35
        ents[h.entity] = max(ents.get(h.entity, 0.0), w)
    ordered = sorted(title_pos, key=title_pos.get)
    subjects = tuple(e for e in ordered if e not in rival) or tuple(
        e for e in ordered if e in rival and len(ordered) == 1)
    scan_t, scan_s = scan_products(t, lexicon), scan_products(s, lexicon)
    tp = versioned_products(scan_t)
    sp = versioned_products(scan_s)
    ta = find_actions(t)
    # the summary's actions decide only when the headline names none (then it is read, weakly)
    sa = find_actions(s) if not ta else []
    primary = primary_action(ta) or primary_action(sa)
    primary_in_title = bool(ta) and primary == primary_action(ta)
    actor = _actor(t, ta, primary, title_hits) if primary_in_title else frozenset()
    places = frozenset(find_places(t))
    places_s = find_places(s)
    dates = frozenset(_dates(t))
    nums_t = _numbers(t)
    nums = frozenset(nums_t | _numbers(s))
    tf: Counter[str] = Counter()
    ttoks = _tokens(t)
    for tok in ttoks:
        tf[tok] += 2.0
    for tok in _tokens(s):
        tf[tok] += 1.0
    for n in nums_t:
        tf["n:" + n] += 2.0
    for n in nums - nums_t:
        tf["n:" + n] += 1.0
    for ent, ver, _ in tp:
        tf[f"p:{ent}|{ver}"] += 2.0
    for ent, ver, _ in sp:
        tf[f"p:{ent}|{ver}"] += 1.0
    # months bridge languages ("from September" / "9月1日起"); lists say which beat it is
    for mo in _months(t):
        tf["mo:" + mo] += 2.0
    for mo in _months(s):
        tf["mo:" + mo] += 1.0
    for h in hits:
        if h.list:
            tf["l:" + h.list] = 1.0
    for p in places:
        tf["pl:" + p] += 2.0
    fam_t = frozenset(named_products(scan_t, lexicon))
    fam_s = named_products(scan_s, lexicon)
    for ent, fam in fam_t:
        for g in fam.split("|"):
            tf["f:" + g] += 2.0
    for ent, fam in fam_s - fam_t:
        for g in fam.split("|"):
            tf["f:" + g] += 1.0
    cjk_chars = sum(len(r) for r in _CJK_RUN.findall(t))
    return EventForm(
        at=int(at), lang=lang or "", title=t, subjects=subjects, entities=ents,
        products=frozenset((e, v) for e, v, _ in tp),
        product_ids=frozenset((e, v, known_product_id(lexicon, f)) for e, v, f in tp),
        products_all=frozenset((e, v) for e, v, _ in tp + sp),
        families=fam_t, families_all=fam_t | fam_s,
        primary=primary, primary_in_title=primary_in_title, title_actions=tuple(a for _, a in sorted(ta)),
        summary_actions=tuple(a for _, a in sorted(sa)), actor=actor, places=places, dates=dates,
        anchors=frozenset({"pl:" + p for p in places | places_s} |
                          {"n:" + n for n in nums if _distinctive(n)}),
        numbers=nums, tf=dict(tf), title_tokens=frozenset(ttoks),
        cjk_title=cjk_chars * 2 >= len(t.replace(" ", "")) and cjk_chars > 0)


def _actor(title: str, actions: list[tuple[int, str]], primary: str | None,
           title_hits: list[Any]) -> frozenset[str]:
    """Who does a probe, ban or lawsuit, as the headline says it: its words before the action
    ("Italy regulator seeks answers from …", "OpenAI probes whether …"), less the watched
    entities (the subject, or its rival). One regulator's probe and a rival's are two
    happenings about the same company; the doer is what tells them apart."""
    if primary not in ACTOR_ACTIONS:
        return frozenset()
    pos = min(p for p, name in actions if name == primary)
    text = list(title[:pos])
    for h in title_hits:
        text[h.start:min(h.end, pos)] = " " * max(0, min(h.end, pos) - h.start)
    return frozenset(_tokens("".join(text)))


# Event keys live in [2**61, 2**62): above every title band key (< 2**52), below the one-row
# CJK keys (>= 2**62), apart from the exact keys (< 0). One index, kinds that never collide.
_EVENT_TAG = 1 << 61


def key_hash(text: str) -> int:
    """A stable index key for an event key string (BLAKE2b; never Python's hash(): stored)."""
    digest = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")
    return _EVENT_TAG | (digest & (_EVENT_TAG - 1))


def event_key_strings(form: EventForm) -> tuple[str, ...]:
    """The keys before hashing (for `explain` and tests).

    * `e:<entity>` for every matched entity: a same-event report names the subject, and the
      rival/summary entities only widen the candidate set (the decision filters);
    * `p:<entity>|<version>` for every product version (title or summary);
    * `a:<action>` for topic-like happenings (rules, filing batches, bans, probes, incidents,
      lawsuits) and for any item whose title names no entity, so a regulator story without a
      watched company in the title still finds its story. Launches never get an `a:` key:
      every launch in 48 h would be a candidate.
    Near-identical titles have their own keys (bot/stories/keys.py: title bands and one-row
    CJK keys), stored beside these.
    """
    keys = [f"e:{e}" for e in sorted(form.entities)]
    keys += [f"p:{e}|{v}" for e, v in sorted(form.products_all)]
    if form.primary and (form.primary in TOPIC_ACTIONS or not form.subjects):
        keys.append(f"a:{form.primary}")
    if not form.entities:
        # nothing watched is named (a scam, a rule): the happening's numbers and places are
        # what its reports share across languages ("HK$200 million" = "2亿港元")
        keys += sorted(a for a in form.anchors if a.startswith("n:"))
    return tuple(dict.fromkeys(keys))


def event_index_keys(form: EventForm) -> tuple[int, ...]:
    """Integer index keys of an item (store: story_keys(key, at, item_id, story_id))."""
    return tuple(key_hash(k) for k in event_key_strings(form))


# Storage: the bot keeps each member's form (JSON) so that a candidate story's profile can be
# rebuilt after a restart without re-reading the watchlists' state of that day.
def form_to_json(form: EventForm) -> dict[str, Any]:
    """A JSON-able dict of a form (sets as sorted lists)."""
    out: dict[str, Any] = {}
    for name in EventForm.__slots__:  # type: ignore[attr-defined]
        value = getattr(form, name)
        if isinstance(value, frozenset):
            value = sorted(list(v) if isinstance(v, tuple) else v for v in value)
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        out[name] = value
    return out


def form_json(form: EventForm) -> str:
    """A form as the store keeps it (item_events.form): form_to_json as JSON text."""
    return json.dumps(form_to_json(form), ensure_ascii=False)


# fields that forms stored before them lack (read as empty)
_ADDED_LATER = frozenset({"actor"})


def form_from_json(data: Mapping[str, Any]) -> EventForm:
    """The inverse of form_to_json."""
    tuple_sets = {"products", "product_ids", "products_all", "families", "families_all"}
    kwargs: dict[str, Any] = {}
    for name in EventForm.__slots__:  # type: ignore[attr-defined]
        value = data.get(name, ()) if name in _ADDED_LATER else data[name]
        if name in tuple_sets:
            value = frozenset(tuple(v) for v in value)
        elif name in ("actor", "places", "anchors", "dates", "numbers", "title_tokens"):
            value = frozenset(value)
        elif name in ("subjects", "title_actions", "summary_actions"):
            value = tuple(value)
        kwargs[name] = value
    return EventForm(**kwargs)
