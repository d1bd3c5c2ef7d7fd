"""Pure "same event?" clustering of matched news items. No I/O; stdlib + rapidfuzz only.

WHY this exists: `bot.stories` joins near-identical *titles*. The product rule is wider: a story
is one *happening* (a launch, a ban, a funding round …) reported within 48 hours of its first
report, however differently worded, in Chinese or English; and a new happening about the same
company or even the same model (a price cut, a share move, an outage) is a new story. A generic
text clusterer cannot do both: Chinese and English reports of one launch share almost no
tokens, while "Baidu launches Ernie 4.5" and "Baidu stock climbs on cheaper Ernie" share many.
So the decision leans on what newsbot knows and a generic clusterer does not:

* **subject entities** — the watched entities a title is *about* (a rival after "rivals",
  "对标", "beats" … is demoted), from the matcher's hits;
* **model versions** — "Ernie 4.5" / "文心4.5" → (baidu, "4.5"), product families taken from
  the watchlists' product aliases, so versions compare across languages and "4.5" ≠ "5";
* **what happened** — a small bilingual lexicon of action classes (launch, open-source, price
  cut, ban, probe, funding, listing, lawsuit, earnings, share up/down, filing batch, rule,
  incident, integration, meeting, investment, controversy); the headline's class is the story's
  kind, and two incompatible kinds are two stories;
* **places and dates** in titles ("Italy" vs "Taiwan" bans, "from April 1" vs "from June 30");
* **text** — TF-IDF cosine over title (×2) and summary: Latin word stems, CJK character
  bigrams, unit-normalised numbers ("671B" = "6710亿", "HK$200 million" = "2亿"), product and
  action/place concept ids, so Chinese and English reports still share features.

A new item is compared with a story *as a whole* (`StoryProfile`: counts and a centroid over
its members), never chained through one member, which is what made single-link joining drift.

Incremental and pure: `event_form` is computed once per item (cheap, no state);
`event_index_keys` gives the integer keys the store indexes; `StoryProfile.add` folds a member
in; `same_event` decides and returns the evidence that `newsbot explain` prints.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from bot.stories.forms import EventForm
from bot.stories.lexicon import COMPATIBLE, TOPIC_ACTIONS

# Tunables. Chosen by reasoning about the rule, then checked on ../shared/eval/events_dev.jsonl
# and on tests/data/events_check.jsonl (written by hand to the same rules before any tuning);
# not fitted per item. bench/events.py scores both through the store.
WINDOW_S = 48 * 3600          # a story is its first report + 48 h
THRESHOLD = 0.60              # score at or above which an item joins a story (middle of the
                              # plateau 0.58–0.62 where both sets score best)
W_SUBJECT, W_PRODUCT, W_ACTION, W_TEXT = 0.40, 0.20, 0.25, 0.60
MIN_SAME_LANG_TEXT = 0.08     # average-link cosine with same-language members below → no
MAX_MEMBERS = 20              # a profile keeps counts of all, forms of the 20 latest
NEAR_CJK_DICE = 80.0          # near-identical titles: always candidates and always "same"
NEAR_LATIN_TSR = 96.0


class DocFreq:
    """Document frequencies of text features over what is *stored* (not over a labelled set).

    IDF = log((N + 1) / (df + 1)) + 1. The bot keeps these counts (a small table, or an
    in-memory Counter rebuilt from the last weeks of items at start-up)."""

    __slots__ = ("n", "df")

    def __init__(self) -> None:
        self.n = 0
        self.df: Counter[str] = Counter()

    def add(self, form: EventForm) -> None:
        self.n += 1
        self.df.update(form.tf.keys())

    def weights(self, tokens: Iterable[str]) -> Iterator[float]:
        """The IDF of each token, in order: log(N + 1) - log(df + 1) + 1, iterated in C (a
        template-heavy cycle weights thousands of forms of ~100 features, and there every
        add changes the counts of most tokens, so a cache of logarithms never stays valid)."""
        log_n = math.log(self.n + 1) + 1.0
        counts = map(operator.add, map(self.df.get, tokens, repeat(0)), repeat(1))
        return map(operator.sub, repeat(log_n), map(math.log, counts))


def _weighted(tf: Mapping[str, float], idf: DocFreq | None) -> dict[str, float]:
    # √tf · idf per feature, then divided by the norm: the same operations, in the same
    # order, as the comprehensions they replace, but iterated in C (once per stored form)
    values = list(map(math.sqrt, tf.values()))
    if idf is not None:
        values = list(map(operator.mul, values, idf.weights(tf)))
    norm = math.sqrt(sum(map(operator.mul, values, values))) or 1.0
    return dict(zip(tf, map(operator.truediv, values, repeat(norm))))


def weighted(form: EventForm, idf: DocFreq | None = None) -> dict[str, float]:
    """A form's text features as a unit vector, idf-weighted: what a profile sums and a
    candidate story's centroid is compared with (computed once per item)."""
    return _weighted(form.tf, idf)


@dataclass
class StoryProfile:
    """A story as a whole: counts over all members, the forms of the latest MAX_MEMBERS.

    WHY a profile: comparing with the best single member (single link) lets a story drift
    from launch → price-cut → share-move one link at a time; comparing with counts and a
    centroid asks "is this like the *story*"."""

    first_at: int = 0
    last_at: int = 0
    n: int = 0
    members: list[EventForm] = field(default_factory=list)
    vectors: list[dict[str, float]] = field(default_factory=list)  # idf-weighted, per member
    # per language: the sum of its members' vectors (of `members`) and how many: the average
    # similarity to the same-language members is one dot product with the sum, not one per member
    lang_sums: dict[str, dict[str, float]] = field(default_factory=dict)
    lang_counts: Counter[str] = field(default_factory=Counter)
    subjects: Counter[str] = field(default_factory=Counter)
    entities: Counter[str] = field(default_factory=Counter)   # members naming it (any field)
    products: Counter[tuple[str, str]] = field(default_factory=Counter)
    product_ids: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    products_all: Counter[tuple[str, str]] = field(default_factory=Counter)
    families: Counter[tuple[str, str]] = field(default_factory=Counter)
    families_all: Counter[tuple[str, str]] = field(default_factory=Counter)
    primaries: Counter[str] = field(default_factory=Counter)      # from titles
    weak_primaries: Counter[str] = field(default_factory=Counter)  # from summaries
    places: Counter[str] = field(default_factory=Counter)
    dates: Counter[str] = field(default_factory=Counter)
    langs: Counter[str] = field(default_factory=Counter)
    # the sum of every member's vector: the centroid up to a factor, which a cosine ignores;
    # kept as a sum (and its squared norm) so that adding a member costs its own size only
    centroid: dict[str, float] = field(default_factory=dict)
    centroid_sq: float = 0.0
    # distinct_titles(), kept until the members change
    _distinct: list[EventForm] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, forms: Iterable[EventForm], idf: DocFreq | None = None) -> StoryProfile:
        p = cls()
        for f in sorted(forms, key=lambda f: f.at):
            p.add(f, idf)
        return p

    def add(self, form: EventForm, idf: DocFreq | None = None, *,
            vector: dict[str, float] | None = None) -> None:
        """Fold a member in (`vector`: its weighted(), when the caller has it already)."""
        if self.n == 0 or form.at < self.first_at:
            self.first_at = form.at
        self.last_at = max(self.last_at, form.at)
        self.n += 1
        vec = vector if vector is not None else _weighted(form.tf, idf)
        self.members.append(form)
        self._distinct = None
        self.vectors.append(vec)
        _accumulate(self.lang_sums.setdefault(form.lang, {}), vec, 1.0)
        self.lang_counts[form.lang] += 1
        if len(self.members) > MAX_MEMBERS:
            gone, gone_vec = self.members.pop(0), self.vectors.pop(0)
            _accumulate(self.lang_sums[gone.lang], gone_vec, -1.0)
            self.lang_counts[gone.lang] -= 1
        for counts, values in ((self.subjects, form.subjects), (self.entities, form.entities),
                               (self.products, form.products),
                               (self.product_ids, form.product_ids),
                               (self.products_all, form.products_all),
                               (self.families, form.families),
                               (self.families_all, form.families_all),
                               (self.places, form.places), (self.dates, form.dates)):
            if values:  # most are empty; Counter.update is a Python call even then
                counts.update(iter(values))  # an entity's count, not its weight
        if form.primary:
            (self.primaries if form.primary_in_title else self.weak_primaries)[form.primary] += 1
        self.langs[form.lang] += 1
        # cen[t] += x, and |cen|² += 2·old·x + x² term by term, in this order (sum() adds
        # floats left to right from its start): the loop it replaces, iterated in C
        cen = self.centroid
        olds, xs = list(map(cen.get, vec, repeat(0.0))), list(vec.values())
        self.centroid_sq = sum(map(operator.add,
                                   map(operator.mul, map(operator.mul, repeat(2.0), olds), xs),
                                   map(operator.mul, xs, xs)), self.centroid_sq)
        cen.update(zip(vec, map(operator.add, olds, xs)))

    def distinct_titles(self) -> list[EventForm]:
        """The latest members, one per distinct (title, numbers), first first: a syndicated
        or templated story repeats its titles, and each is compared once."""
        if self._distinct is None:
            seen: set[tuple[str, frozenset[str]]] = set()
            self._distinct = []
            for m in self.members:
                if (m.title, m.numbers) not in seen:
                    seen.add((m.title, m.numbers))
                    self._distinct.append(m)
        return self._distinct

    def kinds(self) -> set[str]:
        """The story's kind(s): headline actions carried by at least a third of the members
        whose headline names one (summary-only actions when no headline does)."""
        counts = self.primaries or self.weak_primaries
        total = sum(counts.values())
        return {a for a, c in counts.items() if c * 3 >= total} if total else set()

    def major_entities(self) -> set[str]:
        return {e for e, c in self.entities.items() if c * 3 >= self.n}


def _dot(vec: Mapping[str, float], other: Mapping[str, float]) -> float:
    """Σ vec[t]·other[t], iterated in C: a template-heavy cycle computes tens of thousands
    of these (the same sum, in the same order, as a generator over vec.items())."""
    return sum(map(operator.mul, vec.values(), map(other.get, vec, repeat(0.0))))


def _accumulate(total: dict[str, float], vec: Mapping[str, float], sign: float) -> None:
    """total += sign · vec (sign ±1), iterated in C."""
    op = operator.add if sign > 0 else operator.sub
    total.update(zip(vec, map(op, map(total.get, vec, repeat(0.0)), vec.values())))


@dataclass(frozen=True, slots=True)
class Verdict:
    same: bool
    score: float
    evidence: dict[str, Any]


def _same_product(a: str, b: str) -> bool:
    """Two product ids name one product: a shared reference group, or one name contains the
    other ("erniebot" / "ernie")."""
    if not a or not b:
        return True
    if "|" in a or a.startswith("g") or "|" in b or b.startswith("g"):
        return bool(set(a.split("|")) & set(b.split("|"))) or a in b or b in a
    return a in b or b in a


def _compatible(a: str, b: str) -> bool:
    return a == b or frozenset((a, b)) in COMPATIBLE


def _versions_compatible(a: str, b: str) -> bool:
    """"4.5" ~ "4.5turbo" (a variant named more fully), but "4.5" ≠ "5", "2.5max" ≠ "2.5vl"."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return long_.startswith(short) and not long_[len(short)].isdigit() and long_[len(short)] != "."


def _near_duplicate(form: EventForm, other: EventForm, cutoff: float = 0.0) -> float:
    """Title similarity as bot.stories measures it (Dice of CJK bigrams / token_set_ratio);
    0 for a Latin pair below `cutoff` (rapidfuzz stops early)."""
    if form.cjk_title or other.cjk_title:
        a, b = form.title_tokens, other.title_tokens
        if not a or not b:
            return 0.0
        return 200.0 * len(a & b) / (len(a) + len(b))
    from rapidfuzz import fuzz
    return fuzz.token_set_ratio(form.title, other.title, score_cutoff=cutoff)


def same_event(form: EventForm, profile: StoryProfile, idf: DocFreq | None = None,
               threshold: float | None = None, *,
               vector: Mapping[str, float] | None = None, explain: bool = True) -> Verdict:
    """Is this item a report of the story's happening? Pure; returns the evidence.

    Order: outside the window → no. A near-identical title to a member (and numbers agree)
    → yes. Otherwise hard conflicts → no: incompatible headline actions (only an action read
    from the *title* can conflict), different versions / product names of a shared subject,
    different places or dates in the titles, or — for a same-language story — no shared
    wording at all. Else a weighted score must reach `threshold`:
    subject agreement (or, for topic-like kinds and subject-less items, entity-set overlap),
    a shared product version, action agreement (topic-like kinds count 1.5: rules, filings,
    bans are rarer than launches, so agreeing on one says more), and text cosine with the
    story centroid.

    `explain=False` decides only (the store's path): a verdict that is not "same" may then
    carry less evidence and no score, since nothing compares it."""
    threshold = THRESHOLD if threshold is None else threshold
    ev: dict[str, Any] = {}
    gap = form.at - profile.first_at
    ev["gap_h"] = round(gap / 3600, 1)
    if gap > WINDOW_S or gap < -WINDOW_S:
        return Verdict(False, 0.0, {**ev, "conflicts": ["window"]})
    kinds = profile.kinds()
    # a near-identical title is the same story, unless its headline names another happening
    # ("shares rise" / "shares fall" differ by one word)
    title_kind_ok = not (form.primary_in_title and kinds and
                         not any(_compatible(form.primary, k) for k in kinds))
    if not title_kind_ok and not explain:
        # that is the action conflict below, whatever the titles: no need to compare them
        return Verdict(False, 0.0, {**ev, "conflicts": ["action"]})
    limit = NEAR_CJK_DICE if form.cjk_title else NEAR_LATIN_TSR
    # only the near-identical decide; below the limit a similarity is evidence for explain
    cutoff = 0.0 if explain else limit
    best_dup, near = 0.0, False  # the most similar title; a near-identical one, numbers agreeing
    numbers = form.numbers
    for m in profile.distinct_titles():
        numbers_agree = not numbers or not m.numbers or not numbers.isdisjoint(m.numbers)
        if not numbers_agree and not explain:
            continue  # cannot make it a copy ("… 4.5" / "… 5"): not worth comparing
        sim = _near_duplicate(form, m, cutoff)
        best_dup = max(best_dup, sim)
        if sim >= limit and numbers_agree:
            near = True
            if not explain:
                break
    ev["title_sim"] = round(best_dup, 1)
    if near and title_kind_ok:
        return Verdict(True, 1.0, {**ev, "near_duplicate": True})

    conflicts: list[str] = []
    ev["action"] = form.primary if form.primary_in_title else (
        f"({form.primary})" if form.primary else None)
    ev["story_kinds"] = sorted(kinds)
    act = 0.0
    if form.primary and kinds:
        if form.primary in kinds:
            act = 1.0
        elif any(_compatible(form.primary, k) for k in kinds):
            act = 0.6
        elif form.primary_in_title:
            conflicts.append(f"action {form.primary} vs {'/'.join(sorted(kinds))}")
        if not form.primary_in_title:
            act *= 0.6
        if act and (kinds & TOPIC_ACTIONS) and form.primary in TOPIC_ACTIONS:
            act *= 1.5
    # subjects
    subj_share = {e: c / profile.n for e, c in profile.subjects.items()}
    shared_subj = [e for e in form.subjects if e in subj_share]
    subj = 0.0
    if form.subjects and subj_share:
        subj = min(1.0, 1.5 * max((subj_share[e] for e in shared_subj), default=0.0))
    if not form.entities and not profile.entities:
        # no watched entity on either side: places and distinctive numbers stand in
        mine_a = set(form.anchors)
        theirs_a = {a for m in profile.members for a in m.anchors}
        if mine_a and theirs_a:
            inter = len(mine_a & theirs_a)
            subj = 0.5 * (inter / len(mine_a | theirs_a) + inter / min(len(mine_a), len(theirs_a)))
            ev["shared_anchors"] = sorted(mine_a & theirs_a)
    elif not form.subjects or not subj_share or (kinds & TOPIC_ACTIONS):
        mine, theirs = set(form.entities), profile.major_entities()
        if mine and theirs:
            inter = len(mine & theirs)
            overlap = 0.5 * (inter / len(mine | theirs) + inter / min(len(mine), len(theirs)))
            subj = max(subj, overlap)
    ev["subjects"] = list(form.subjects)
    ev["shared_subjects"] = shared_subj
    # "A new happening about the same company is a new story": the company is part of the
    # happening. Headlines about wholly different companies report different happenings,
    # unless the story is about a topic (a rule, a filing batch, a ban, a probe, an incident,
    # a lawsuit) that names several companies, one here and another there.
    if (form.subjects and profile.subjects and not shared_subj
            and not (kinds & TOPIC_ACTIONS) and form.primary not in TOPIC_ACTIONS):
        conflicts.append(f"subject {'/'.join(form.subjects)} vs "
                         f"{'/'.join(sorted(profile.subjects))}")
    # versions / product names of a shared subject must agree
    for e in set(form.subjects) & set(profile.subjects):
        mine_v = {v for ent, v in form.products if ent == e}
        theirs_v = {v for (ent, v) in profile.products if ent == e}
        if mine_v and theirs_v:
            # same version and, where both names are known, the same product ("Ling-1T" is
            # not "Ring-1T"; "Ernie X1" and "文心X1" agree because "文心" is not known)
            mine_p = [(v, p) for ent, v, p in form.product_ids if ent == e]
            theirs_p = [(v, p) for (ent, v, p) in profile.product_ids if ent == e]
            if not any(_versions_compatible(a, b) and _same_product(pa, pb)
                       for a, pa in mine_p for b, pb in theirs_p):
                conflicts.append(f"version {e}: {'/'.join(sorted(mine_v))} vs {'/'.join(sorted(theirs_v))}")
            continue
        # no version on one side: the products named must be one product
        fam_mine = {f for ent, f in form.families if ent == e and bool(f)}
        fam_theirs = {f for (ent, f) in profile.families if ent == e and bool(f)}
        if (mine_v or theirs_v) and fam_mine and fam_theirs and not any(
                _same_product(a, b) for a in fam_mine for b in fam_theirs):
            conflicts.append(f"product {e}: {'/'.join(sorted(fam_mine))} vs {'/'.join(sorted(fam_theirs))}")
    shared_products = sorted(f"{e}|{v}" for e, v in form.products_all
                             if any(ent == e and _versions_compatible(v, pv)
                                    for ent, pv in profile.products_all))
    shared_fams = sorted(f"{e}|{f}" for e, f in form.families_all
                         if any(e == pe and _same_product(f, pf) for pe, pf in profile.families_all))
    prod = 1.0 if shared_products else 0.5 if shared_fams else 0.0
    ev["shared_products"] = shared_products or shared_fams
    if form.places and profile.places and not form.places & set(profile.places):
        conflicts.append(f"place {'/'.join(sorted(form.places))} vs {'/'.join(sorted(profile.places))}")
    if form.dates and profile.dates and not form.dates & set(profile.dates):
        conflicts.append(f"date {'/'.join(sorted(form.dates))} vs {'/'.join(sorted(profile.dates))}")
    if form.actor and form.primary in kinds:
        # the same kind of act by another doer: the same-language reports name theirs, and
        # neither side's text names the other's ("OpenAI probes …" / "Italy regulator …")
        same_lang = [m for m in profile.members if m.lang == form.lang]
        theirs = frozenset().union(*(m.actor for m in same_lang))
        if (theirs and not form.actor & theirs
                and not any(t in m.tf for m in same_lang for t in form.actor)
                and not any(t in form.tf for t in theirs)):
            conflicts.append(f"actor {' '.join(sorted(form.actor))} vs "
                             f"{' '.join(sorted(theirs))}")
    if conflicts and not explain:
        return Verdict(False, 0.0, {**ev, "conflicts": conflicts})
    # text: cosine with the centroid; and with same-language members (average link)
    vec = vector if vector is not None else _weighted(form.tf, idf)
    cen = profile.centroid
    cnorm = math.sqrt(profile.centroid_sq) or 1.0
    text = _dot(vec, cen) / cnorm
    same_lang = profile.lang_counts.get(form.lang, 0)
    if same_lang:
        lang_sum = profile.lang_sums[form.lang]
        sl = _dot(vec, lang_sum) / same_lang
        ev["text_same_lang"] = round(sl, 3)
        if sl < MIN_SAME_LANG_TEXT:
            conflicts.append(f"wording {sl:.2f} with same-language reports")
    ev["text_cos"] = round(text, 3)
    if explain:
        ev["shared_numbers"] = sorted(n for n in form.numbers
                                      if any(n in m.numbers for m in profile.members))[:8]
    score = W_SUBJECT * subj + W_PRODUCT * prod + W_ACTION * act + W_TEXT * text
    ev["parts"] = {"subject": round(subj, 2), "product": prod, "action": round(act, 2),
                   "text": round(text, 3)}
    ev["conflicts"] = conflicts
    if conflicts:
        return Verdict(False, round(score, 3), ev)
    return Verdict(score >= threshold, round(score, 3), ev)


def choose_event(form: EventForm, candidates: Mapping[int, StoryProfile],
                 idf: DocFreq | None = None, *, vector: Mapping[str, float] | None = None,
                 explain: bool = True) -> tuple[int | None, Verdict | None, dict[int, Verdict]]:
    """The best qualifying candidate story (highest score), or None to start a new one.
    `vector`: the form's weighted(), when the caller has it; `explain`: see same_event."""
    if vector is None:
        vector = _weighted(form.tf, idf)  # once, not once per candidate
    verdicts = {sid: same_event(form, prof, idf, vector=vector, explain=explain)
                for sid, prof in candidates.items()}
    best = max(((v.score, sid) for sid, v in verdicts.items() if v.same), default=None)
    if best is None:
        return None, None, verdicts
    return best[1], verdicts[best[1]], verdicts
