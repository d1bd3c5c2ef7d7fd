"""Pure story keys: which stored item, if any, is the same news as a new one.

An item gets `StoryKeys` (computed once, no I/O):

- **exact keys** — `u:<story_url>` of its link (and of its GUID when the GUID is a URL), and
  `g:<guid>` when the GUID looks globally unique (URL, URN, tag: URI, UUID, long opaque id).
  Short per-feed ids such as "12345" are ignored: two feeds' item 12345 are different news.
  Exact keys join regardless of time.
- **band keys** — MinHash-LSH bands over the title's tokens (words for Latin/Cyrillic/…
  text, character bigrams for CJK), so that near-identical titles collide in an index
  lookup without scanning stored titles. A collision is only a *candidate*.

`same_story` then decides on a candidate: exact keys shared → same; otherwise the titles
must be similar (rapidfuzz `token_set_ratio` for Latin text, character-bigram Dice for CJK
text, both measured by `bench/story_dedup.py`), agree on their numbers ("Ernie 4.0" is not
"Ernie 4.5", "$2 billion" is not "$3 billion"), not swap a name ("Japan, France agree" is
not "Japan, Germany agree") and be published within `WINDOW`; `choose_story` also joins
titles only across feeds.

A Chinese and an English title of the same news share no tokens: they join only through a
shared canonical URL or GUID, never through their titles.
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from bot.match.normalize import fold
from bot.models import Item
from bot.stories.identity import story_url

# LSH shape. A band collides when its ROWS MinHash values are all equal; the probability that
# two titles with token Jaccard s share at least one of BANDS bands is 1 - (1 - s**ROWS)**BANDS:
# s=0.75 → 0.99, s=0.6 → 0.91, s=0.5 → 0.74, but s=0.1 → 0.01, which keeps the candidates of
# an unrelated title few even with a million stored items (see bench/story_dedup.py).
BANDS = 10
ROWS = 3  # band_keys mixes exactly three values
_PERMS = BANDS * ROWS
_PERM_BYTES = 4 * _PERMS
_UNPACK = struct.Struct(f"<{_PERMS}I").unpack

# Similarity (0–100) at or above which two titles are the same story; chosen on the labeled
# set of bench/story_dedup.py (its threshold table), not guessed. CJK was 60 while the title
# bands missed 2 % of its CJK pairs; with the one-row keys (cjk_row_keys) they miss 0.4 %,
# more near-misses become candidates, and the table's best F1 moved to 65 (0.950 vs 0.943).
LATIN_THRESHOLD = 96.0
CJK_THRESHOLD = 65.0
# Titles of the same news published further apart than this are different stories (a weekly
# "wellness calendar" keeps its title); exact URL/GUID keys ignore the window.
WINDOW = timedelta(hours=72)

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_CJK_CHAR = re.compile(f"[{_CJK}]")
# digits with decimal/thousands separators, read before folding (fold turns "." into space)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# "Title - Reuters", "Title | TechCrunch", "标题_新浪科技": a short trailing outlet name
_OUTLET_SUFFIX = re.compile(r"\s+[-–—|]\s+[^-–—|]{1,40}$|\s*[|_｜]\s*[^|_｜]{1,12}$")
_SUFFIX_MARKS = ("-", "–", "—", "|", "_", "｜")
# wire-service and headline prefixes that one outlet adds and another does not
_PREFIX_STARTS = frozenset("ubaefxlwv")  # their first letters: skip the regex for the rest
_PREFIX = re.compile(r"^(?:update \d+[-:]|exclusive:|breaking:|analysis:|factbox:|"
                     r"explainer:|live:|watch:|video:)\s*", re.IGNORECASE)
_STOPWORDS = frozenset(
    "a an and are as at be by for from has have in into is it its of on or over says said "
    "than that the their this to up was will with after amid s".split()
)
# A GUID is treated as globally unique when it is a URI or an opaque id this long.
_GUID_MIN_OPAQUE = 16
_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)


@dataclass(frozen=True, slots=True)
class TitleForm:
    """A title made comparable: folded text, its tokens, its numbers, its script."""

    text: str  # folded, outlet suffix and wire prefix removed, tokens joined by spaces
    tokens: frozenset[str]
    numbers: tuple[str, ...]  # sorted, repeats kept: "Ernie 4.0 vs GPT-4" has 4 twice
    cjk: bool
    # folded words capitalized inside a sentence-case title (names: "Baidu", "France");
    # None when the case says nothing (Title Case, ALL CAPS, CJK)
    names: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class StoryKeys:
    """What the store indexes for an item (exact + band keys) and what same_story compares."""

    exact: tuple[str, ...]
    bands: tuple[int, ...]
    title: str
    at: datetime | None  # publication time, else first seen
    # the folded title, packed (pack_form), carried from where the keys were computed (a
    # parse worker folds it for the bands anyway): the writer stores it, compares it with
    # candidates and remembers it for later items; folding again there would cost the one
    # serial stage. Packed: one string crosses from the worker and waits for the writer,
    # not a form's dozen objects
    packed: str | None = field(default=None, compare=False, repr=False)

    @property
    def form(self) -> TitleForm:
        """The folded title, for comparing with candidates (unpacked at each call)."""
        return unpack_form(self.packed) if self.packed is not None else title_form(self.title)

    @property
    def index(self) -> tuple[int, ...]:
        """Every key as the store indexes it, exact first."""
        return tuple(exact_index(key) for key in self.exact) + self.bands


class StoryCandidate:
    """A stored item that shares a key with a new one (as returned by Store.find_story).

    Not a frozen dataclass: a template-heavy batch makes ~15 per item and choose_story drops
    most on their numbers, so a stored one keeps its time as Unix seconds (`epoch`) until
    its datetime is read, and reads its numbers off the packed form once."""

    __slots__ = ("story_id", "item_id", "title", "exact", "feed", "packed", "_at", "_epoch",
                 "_numbers")

    def __init__(self, story_id: int, item_id: int, title: str | None, at: datetime | None,
                 exact: bool, feed: str | None = None, packed: str | None = None, *,
                 epoch: int | None = None) -> None:
        self.story_id = story_id
        self.item_id = item_id
        self.title = title  # None: read without it (Stories.lookup titles=False), packed set
        self.exact = exact  # shares a URL/GUID key, not only a band
        self.feed, self.packed = feed, packed  # packed: its pack_form()
        self._at, self._epoch = at, epoch
        self._numbers: tuple[str, ...] | None = None

    @property
    def at(self) -> datetime | None:
        """Publication time, else first seen."""
        if self._at is None and self._epoch is not None:
            self._at = datetime.fromtimestamp(self._epoch, UTC)
        return self._at

    def as_exact(self) -> StoryCandidate:
        """The same candidate, found by an exact key."""
        return StoryCandidate(self.story_id, self.item_id, self.title, self._at, True,
                              self.feed, self.packed, epoch=self._epoch)

    def __repr__(self) -> str:
        return (f"StoryCandidate(story_id={self.story_id}, item_id={self.item_id}, "
                f"title={self.title!r}, at={self.at!r}, exact={self.exact}, feed={self.feed!r})")

    @property
    def folded(self) -> TitleForm:
        """The folded title (unpacked, or folded for an item stored without its form)."""
        if self.packed is not None:
            return unpack_form(self.packed)
        if self.title is None:
            raise ValueError(f"candidate {self.item_id}: neither a folded title nor a title")
        return title_form(self.title)

    @property
    def numbers(self) -> tuple[str, ...]:
        """The folded title's numbers (read off a packed form without unpacking it)."""
        if self._numbers is None:
            self._numbers = (tuple(self.packed.split(_FIELD)[2].split())
                             if self.packed is not None else self.folded.numbers)
        return self._numbers


def story_keys(
    title: str,
    *,
    link: str | None = None,
    guid: str | None = None,
    published: datetime | None = None,
    seen: datetime | None = None,
) -> StoryKeys:
    """Compute an item's story keys (exact URL/GUID keys and LSH band keys of its title)."""
    form = fold_title(title)
    bands = band_keys(form.tokens)
    if form.cjk:
        bands += cjk_row_keys(form.tokens)
    else:
        bands += head_keys(form)
    return StoryKeys(
        exact=exact_keys(link, guid),
        bands=bands,
        title=title,
        at=story_time(published, seen),
        packed=pack_form(form),
    )


def item_story_keys(item: Item, seen: datetime | None = None) -> StoryKeys:
    """story_keys for a parsed Item; `seen` is when newsbot first saw it."""
    return story_keys(item.title, link=item.link, guid=item.guid, published=item.published,
                      seen=seen)


def story_time(published: datetime | None, seen: datetime | None) -> datetime | None:
    """The time a story item counts as: published, but never later than first seen."""
    if published is None:
        return seen
    if seen is not None and published > seen:  # a feed's clock in the future
        return seen
    return published


def exact_keys(link: str | None, guid: str | None) -> tuple[str, ...]:
    """`u:` keys for the link and a URL GUID, `g:` for another globally unique GUID."""
    keys: list[str] = []
    for url in (link, guid):
        key = _url_key(url)
        if key and key not in keys:
            keys.append(key)
    guid = (guid or "").strip()
    if guid and not guid.lower().startswith(("http://", "https://")) and _globally_unique(guid):
        keys.append(f"g:{guid}")
    return tuple(keys)


def _url_key(url: str | None) -> str | None:
    if not url or not url.strip().lower().startswith(("http://", "https://")):
        return None
    loose = story_url(url)
    if loose is None:
        return None
    parts = urlsplit(loose)
    if parts.path in ("", "/") and not parts.query:
        return None  # a site's home page is every item's link in some feeds: not a story
    return f"u:{loose}"


def _globally_unique(guid: str) -> bool:
    lowered = guid.lower()
    if lowered.startswith(("urn:", "tag:")):
        return True
    if _UUID.match(guid):
        return True
    # a bare number or a short slug is a per-feed counter; a long opaque id is not
    return len(guid) >= _GUID_MIN_OPAQUE and not guid.isdigit() and " " not in guid


@functools.lru_cache(maxsize=1024)  # ~1.3 kB each
def title_form(title: str) -> TitleForm:
    """fold_title, memoized: for titles without a stored form (items stored before m015,
    keys made in this process), which are compared again and again while recent."""
    return fold_title(title)


def fold_title(title: str) -> TitleForm:
    """Fold a title for comparison: drop outlet suffix and wire prefix, tokenize, read numbers.

    Not memoized: keying a new item folds its title once, in a parse worker, where a cache
    of thousands of forms (~2 kB each) would only cost memory.
    """
    text = unicodedata.normalize("NFKC", title).strip()
    has_cjk = _CJK_CHAR.search(text) is not None
    if any(mark in text for mark in _SUFFIX_MARKS):  # the regex is slow; most titles lack them
        stripped = _OUTLET_SUFFIX.sub("", text)
        if len(stripped.split()) >= 3 or (has_cjk and len(_CJK_CHAR.findall(stripped)) >= 6):
            text = stripped  # only when enough title is left for the suffix to be an outlet
    if text[:1].lower() in _PREFIX_STARTS:
        text = _PREFIX.sub("", text)
    numbers = tuple(sorted(_normal_number(n) for n in _NUMBER.findall(text)))
    words = fold(text).split()
    tokens: list[str] = []
    if has_cjk:
        cjk_chars = sum(len(run) for run in _CJK_RUN.findall(text))
        cjk = cjk_chars * 2 >= len(text.replace(" ", ""))
        for word in words:
            tokens.extend(_word_tokens(word))
    else:
        cjk = False
        tokens = [_stem(w) for w in words if not w.isdigit()]
    tokens.extend(dict.fromkeys(numbers))
    content = frozenset(t for t in tokens if t not in _STOPWORDS) or frozenset(tokens)
    names = None if cjk else _names(text)
    return TitleForm(text=" ".join(tokens), tokens=content, numbers=numbers, cjk=cjk,
                     names=names)


# pack_form's separators: neither occurs in a folded title (fold() turns control characters
# into spaces, and tokens are split on spaces)
_FIELD, _NONE = "\x1f", "\x00"


def pack_form(form: TitleForm) -> str:
    """A folded title as a short string (what the store keeps per item, ~1/10 of the
    object's memory): unpack_form rebuilds it several times faster than folding again."""
    names = _NONE if form.names is None else " ".join(sorted(form.names))
    return _FIELD.join(("1" if form.cjk else "0", form.text, " ".join(form.numbers), names))


def unpack_form(packed: str) -> TitleForm:
    """pack_form's inverse; raises ValueError on a string it did not write."""
    cjk, text, numbers, names = packed.split(_FIELD)
    tokens = text.split()
    content = frozenset(t for t in tokens if t not in _STOPWORDS) or frozenset(tokens)
    return TitleForm(text=text, tokens=content, numbers=tuple(numbers.split()), cjk=cjk == "1",
                     names=None if names == _NONE else frozenset(names.split()))


def _names(text: str) -> frozenset[str] | None:
    """Folded words capitalized after the first word, if the title is in sentence case."""
    words = [w for w in text.split() if w[:1].isalpha()]
    if len(words) < 3:
        return None
    capitalized = [w for w in words[1:] if w[0].isupper()]
    if len(capitalized) * 2 > len(words) - 1 or text.isupper():
        return None  # Title Case or ALL CAPS: every word looks like a name
    return frozenset(_stem(t) for w in capitalized for t in fold(w).split())


_SUFFIXES = ("ing", "ed", "es", "s")


def _stem(word: str) -> str:
    """Strip one English inflection ("unveils", "unveiled" → "unveil"): outlets differ in tense."""
    if len(word) > 4 and word.isascii():
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                return word[: -len(suffix)]
    return word


def _word_tokens(word: str) -> Iterable[str]:
    """A Latin word as is; a CJK run as its character bigrams (one character alone as itself)."""
    pos = 0
    for m in _CJK_RUN.finditer(word):
        if m.start() > pos and not word[pos : m.start()].isdigit():
            yield word[pos : m.start()]
        run = m.group()
        if len(run) == 1:
            yield run
        else:
            yield from (run[i : i + 2] for i in range(len(run) - 1))
        pos = m.end()
    if pos < len(word) and not word[pos:].isdigit():  # numbers are added whole, not split
        yield word[pos:]


def _normal_number(text: str) -> str:
    """'1,000' → '1000', '4.0' → '4', '4.50' → '4.5' (a comma with 3 digits after is thousands)."""
    text = re.sub(r",(?=\d{3}(?!\d))", "", text).replace(",", ".")
    if "." in text:
        whole, _, frac = text.partition(".")
        frac = frac.rstrip("0")
        text = f"{whole}.{frac}" if frac else whole
    return text.lstrip("0") or "0"


def band_keys(tokens: Iterable[str]) -> tuple[int, ...]:
    """LSH band keys of the MinHash signature of these tokens (none if empty).

    A key is the band's number above 48 bits that mix its three 32-bit values: small
    integer keys keep the stored index small, and a rare chance collision only costs one
    extra candidate check. Band keys are >= 0; stored exact keys (exact_index) are < 0.
    """
    signature = minhash(tokens)
    if signature is None:
        return ()
    rows = zip(*[iter(signature)] * ROWS, strict=True)
    return tuple((band << 48) | (((x * _MIX_X) ^ (y * _MIX_Y) ^ z) & _MASK_48)
                 for band, (x, y, z) in enumerate(rows))


# One-row keys for CJK titles (below). Bigrams that most Chinese AI headlines share say
# nothing about which story a title tells; they are left out of these keys only.
CJK_ROW_KEYS = 3
COMMON_BIGRAMS = frozenset(
    "大模 模型 人工 工智 智能 发布 宣布 推出 上线 正式 公司 科技 中国 国内 今日 首个 全球 "
    "开源 技术 能力 用户 平台 行业 企业 最新 推理 生成 视频 新一 一代 百万 万亿 亿元 亿参 参数 "
    "消息 报道 记者 新浪 之家".split())
_CJK_ROW_TAG = 1 << 62  # above every band key (< 2**52): the two kinds never collide
_CJK_ROW = struct.Struct(f"<{CJK_ROW_KEYS}I")


def cjk_row_keys(tokens: Iterable[str]) -> tuple[int, ...]:
    """CJK_ROW_KEYS one-row MinHash keys of a CJK title's bigrams, so that near-identical short
    CJK titles are always candidates of each other.

    A short CJK title has 10–20 bigrams, and small edits (正式, punctuation, an outlet suffix)
    change several at once: with the 10 bands of 3 rows, two titles with bigram Dice 80
    (Jaccard 0.67) miss every band with probability (1 - 0.67**3)**10 ≈ 3 %. A one-row key is
    shared with probability J, so six of them all miss with (1 - 0.67)**6 ≈ 1e-3 more, for a
    total miss of ~3e-6 (bench/events.py measures it). The price is candidates: unrelated CJK
    titles share a one-row key more often (~2 % of pairs, 0.2 % with bands alone), each one
    title comparison.
    """
    kept = [t for t in tokens if t not in COMMON_BIGRAMS and _CJK_CHAR.match(t)]
    if not kept:
        return ()
    sigs = [_cjk_digest(t) for t in kept]
    mins = sigs[0] if len(sigs) == 1 else tuple(map(min, zip(*sigs)))
    return tuple(_CJK_ROW_TAG | (i << 40) | v for i, v in enumerate(mins))


@functools.lru_cache(maxsize=8192)
def _cjk_digest(token: str) -> tuple[int, ...]:
    # BLAKE2b personalised: permutations independent of the bands' SHAKE-128 ones
    return _CJK_ROW.unpack(hashlib.blake2b(token.encode("utf-8"), digest_size=_CJK_ROW.size,
                                           person=b"cjk1row").digest())


# A Latin title's first words as one key. token_set_ratio scores a title and its own
# truncation, or the title with an outlet-looking tail cut off ("…, plans to" / " - plans
# to"), as near-identical (one token set contains the other), but their token sets, hence
# their MinHash bands, can share little: bench/near_dup.py found such copies among its
# misses. Cut or extended, a copy keeps its head. Templates and wire headlines share heads,
# so a head key is hot: the store reads only its HEAD_ROWS most recent rows.
HEAD_WORDS = 4
HEAD_ROWS = 2
_HEAD_TAG = 1 << 60  # above band keys (< 2**52), below event keys (bot/stories/forms.py)


def is_head_key(key: int) -> bool:
    """Whether a band-range key is a head key (head_keys)."""
    return _HEAD_TAG <= key < _HEAD_TAG << 1


def head_keys(form: TitleForm) -> tuple[int, ...]:
    """The key of a Latin title's first HEAD_WORDS folded words (none for a shorter title)."""
    words = form.text.split()
    if len(words) < HEAD_WORDS:
        return ()
    digest = hashlib.blake2b(" ".join(words[:HEAD_WORDS]).encode("utf-8"), digest_size=6,
                             person=b"head").digest()
    return (_HEAD_TAG | int.from_bytes(digest, "big"),)


def exact_index(key: str) -> int:
    """An exact key (`u:`/`g:`) as the negative 64-bit integer the store indexes it by.

    63 bits of BLAKE2b: two different URLs share one with a chance of about 1e-19 per pair,
    while the index rows stay as small as the band keys'.
    """
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return -1 - (int.from_bytes(digest, "big") >> 1)


# fixed odd multipliers (never Python's hash(): it may change between versions, and the keys
# are stored)
_MIX_X = 0x9E3779B97F4A7C15
_MIX_Y = 0xC2B2AE3D27D4EB4F
_MASK_48 = (1 << 48) - 1


def minhash(tokens: Iterable[str]) -> tuple[int, ...] | None:
    """MinHash signature of a token set: per permutation, the least 32-bit hash of a token."""
    sigs = [_UNPACK(_token_digest(t)) for t in tokens]
    if not sigs:
        return None
    if len(sigs) == 1:
        return sigs[0]
    return tuple(map(min, zip(*sigs)))  # per permutation, over the tokens


@functools.lru_cache(maxsize=8192)  # ~150 bytes each (as ints they would be ~1.1 kB)
def _token_digest(token: str) -> bytes:
    """All permutations' 32-bit hashes of one token, packed (SHAKE-128: one C call for all).

    Cached: news titles reuse a small vocabulary, so most tokens were hashed before.
    """
    return hashlib.shake_128(token.encode("utf-8")).digest(_PERM_BYTES)


def title_similarity(a: TitleForm, b: TitleForm) -> float:
    """0–100: token_set_ratio for Latin titles, character-bigram Dice for CJK ones."""
    if a.cjk or b.cjk:
        return _dice(a.tokens, b.tokens)
    # imported here: parse workers key titles but never compare them (~3 MB each)
    from rapidfuzz import fuzz

    return fuzz.token_set_ratio(a.text, b.text)


def _dice(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return 200.0 * len(a & b) / (len(a) + len(b))


def numbers_agree(a: TitleForm, b: TitleForm) -> bool:
    """True unless both titles name numbers and neither's numbers contain the other's.

    Counted with repeats: "Ernie 4.0 to rival GPT-4" vs "Ernie 4.5 to rival GPT-4" differ.
    """
    return _numbers_agree(a.numbers, b.numbers)


def _numbers_agree(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    if not a or not b or a == b:
        return True
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return _sub_multiset(small, large)


def _sub_multiset(small: tuple[str, ...], large: tuple[str, ...]) -> bool:
    """True when every element of `small` is in `large`, counting repeats (both sorted)."""
    i = 0
    for x in large:
        if i < len(small) and small[i] == x:
            i += 1
    return i == len(small)


def names_agree(a: TitleForm, b: TitleForm) -> bool:
    """False when one title names something the other lacks while saying something else.

    "Japan, France agree to talks" vs "Japan, Germany agree to talks": a one-word swap that
    text similarity cannot see, but a name present on one side only gives it away. A word
    only added or only dropped is not a swap.
    """
    only_a, only_b = a.tokens - b.tokens, b.tokens - a.tokens
    if not only_a or not only_b:
        return True
    return not ((a.names and only_a & a.names) or (b.names and only_b & b.names))


def within_window(a: datetime | None, b: datetime | None, window: timedelta = WINDOW) -> bool:
    """True when both times are known and at most `window` apart (unknown time: no title join)."""
    if a is None or b is None:
        return False
    return abs(a - b) <= window


def threshold_for(a: TitleForm, b: TitleForm) -> float:
    """The similarity threshold that applies to this pair (CJK if either title is CJK)."""
    return CJK_THRESHOLD if a.cjk or b.cjk else LATIN_THRESHOLD


def same_title_story(
    a: TitleForm,
    b: TitleForm,
    a_at: datetime | None,
    b_at: datetime | None,
    *,
    threshold: float | None = None,
    window: timedelta = WINDOW,
) -> bool:
    """The title rule alone: similar titles, agreeing numbers, published within the window."""
    if not within_window(a_at, b_at, window) or not numbers_agree(a, b):
        return False
    if not names_agree(a, b):
        return False
    if len(a.tokens) < 2 or len(b.tokens) < 2:
        return a.text == b.text and bool(a.text)  # one-word titles: too little to be fuzzy
    limit = threshold_for(a, b) if threshold is None else threshold
    return title_similarity(a, b) >= limit


def same_story(
    a: StoryKeys, b: StoryKeys, *, threshold: float | None = None, window: timedelta = WINDOW
) -> bool:
    """Decide whether two items are the same news: a shared URL/GUID key, or the title rule."""
    if set(a.exact) & set(b.exact):
        return True
    return same_title_story(a.form, b.form, a.at, b.at, threshold=threshold, window=window)


def choose_story(
    keys: StoryKeys,
    candidates: Sequence[StoryCandidate],
    *,
    feed: str | None = None,
    window: timedelta = WINDOW,
) -> int | None:
    """The story a new item joins: an exact-key candidate first, else the best title match.

    Titles only join items of *other* feeds: one feed's "Morning briefing" every day, or its
    "wellness calendar" every week, is a new story each time.
    """
    exact = [c for c in candidates if c.exact]
    if exact:
        # the oldest story wins, so that two stories merged by a late URL stay stable
        return min(exact, key=lambda c: c.story_id).story_id
    if not candidates:
        return None
    mine = keys.form
    best: tuple[float, int] | None = None
    for c in candidates:
        if feed is not None and c.feed == feed:
            continue
        if not _numbers_agree(mine.numbers, c.numbers):
            continue  # first: template titles share words, not their numbers
        if not within_window(keys.at, c.at, window):
            continue  # before folding: most candidates of a busy band are too old or too new
        form = c.folded
        if not same_title_story(mine, form, keys.at, c.at, window=window):
            continue
        score = title_similarity(mine, form)
        if best is None or (score, -c.story_id) > (best[0], -best[1]):
            best = (score, c.story_id)
    return None if best is None else best[1]
