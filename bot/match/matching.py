"""Match an item's title and summary against the compiled watchlists. Pure: no I/O.

How an item is decided, in order:

1. Both fields are folded (`bot.match.normalize`) and scanned once with the Aho-Corasick automaton
   of every alias. Latin-script patterns must sit on word boundaries ("Yi" never matches
   inside "Yield"; a version digit may follow: "Qwen3"); CJK patterns match as substrings.
   Latin tokens that are no exact alias are checked for typos against long aliases (see
   `bot.match.rules.FUZZY_LEN_1`), memoized per token. Only when an alias occurs (about one item
   in ten) is the text scanned a second time, for context words, topic terms and exclusions,
   and only then are offsets mapped back to the original text when folding moved them.
2. An alias occurrence is dropped when a case-sensitive alias is spelled in another case
   (unless the whole field is in capitals, as some headlines are), or
   when one of its exclusion phrases (alias, entity or list level) overlaps it.
3. An ambiguous alias (one with `context:`) counts only if one of its context words occurs in
   the item, or another, unambiguous alias of the same entity does, and none of its
   exclusion phrases occurs anywhere in the item.
4. An entity with a surviving alias is *mentioned*. A list applies to the item when one of
   its topic terms occurs, or a product alias declared in that list occurs, or an entity
   marked `implies_topic` in that list is mentioned. A list with no `topic` terms applies
   whenever one of its entities is mentioned.

Representation: each mentioned entity yields one Hit per (list, field) for every list that
contains it and applies, with the best alias occurrence in that field. A mentioned entity
for which no list applies (company news without a generative-AI angle) yields Hits with
`list == ""`: it is reported in `entities` but never in `lists`, and the pipeline only
alerts on hits whose list is non-empty. Spans are offsets in the original field text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from bot.match.normalize import (
    WORD_CHARS,
    char_offset,
    fold_aligned,
    fold_keep_case,
    offset_map,
    scan_form,
)
from bot.match.watchlists import FUZZY_LEN_1, FUZZY_LEN_2, AliasSpec, Tables, Watchlists
from bot.models import Hit

_ENGLISH_ENDINGS = ("ing", "ed", "er", "ers", "ly", "tion", "s")


@dataclass(slots=True)  # not frozen: a frozen __init__ is several times slower
class _Occurrence:
    sid: int
    spec: AliasSpec
    field: str
    start: int  # in the original field text
    end: int
    score: float
    at: int  # start in the folded combined text, for overlap tests
    to: int


class _Folded:
    """Title and summary folded as one text, with the way back to original offsets."""

    __slots__ = ("title", "summary", "split", "text", "scanned", "aligned", "_map")

    def __init__(self, title: str, summary: str) -> None:
        self.title, self.summary = title, summary
        self.split = len(title) + 1  # original offset where the summary starts
        self.text, self.aligned = fold_aligned(title + "\n" + summary)
        self.scanned = scan_form(self.text)  # what the automata read (bytes as characters)
        self._map: tuple[list[int], list[int]] | None = None

    def original(self, start: int, end: int) -> tuple[str, int, int]:
        """Map a folded [start, end) to (field, start, end) in the original field text."""
        if not self.aligned:
            if self._map is None:  # built on the first hit only: most items have none
                self._map = offset_map(self.title + "\n" + self.summary)
            starts, ends = self._map
            start, end = starts[start], ends[end - 1]
        if start >= self.split:
            return "summary", start - self.split, end - self.split
        return "title", start, end

    def source(self, field: str) -> str:
        return self.title if field == "title" else self.summary


Found = dict[int, list[tuple[int, int, float]]]


def _is_shouting(text: str) -> bool:
    """True for a field written all in capitals (at least a few words' worth of letters)."""
    letters = [c for c in text if c.isalpha() and c.isascii()]
    return len(letters) >= 8 and not any(c.islower() for c in letters)


def _scan(folded: _Folded, automaton: Any, found: Found) -> bool:
    """Add every term of `automaton` found in the folded text to `found`; True if any was."""
    if automaton is None:
        return False
    text, scanned = folded.text, folded.scanned
    size = len(text)
    seen = False
    for last, (sid, length, left, right, alpha_end, _) in automaton.iter(scanned):
        start = last - length + 1
        if scanned is not text:  # byte offsets → character offsets
            start = char_offset(scanned, start)
            last = char_offset(scanned, last + 1) - 1
        if left and start and text[start - 1] in WORD_CHARS:
            continue
        if right and last + 1 < size:
            nxt = text[last + 1]
            if nxt in WORD_CHARS and not (alpha_end and nxt.isdigit()):
                continue
        seen = True
        if sid in found:
            found[sid].append((start, last + 1, 100.0))
        else:
            found[sid] = [(start, last + 1, 100.0)]
    return seen


# Necessary for a typo check: a whitespace-separated ASCII token of FUZZY_LEN_1 characters or
# more that starts with a letter (the folded text is lower case).
_LATIN_RUN = re.compile("[a-z][\x00-\x08\x0e-\x1b\x21-\x7f]{%d}" % (FUZZY_LEN_1 - 1))
_MAX_MISSES = 200_000


def _scan_typos(text: str, t: Tables, found: Found) -> bool:
    """Add typo matches of long aliases to `found`; most tokens are known misses (a C-speed set
    difference), so only a new token costs a lookup."""
    if not text.isascii() and _LATIN_RUN.search(text) is None:
        return False  # e.g. Chinese text: no Latin word long enough for a typo check
    misses = t.fuzzy_misses
    if len(misses) > _MAX_MISSES:  # a memo, not a leak: unique words keep arriving
        misses.clear()
    words = text.split()  # folded text: punctuation is space already
    if misses.issuperset(words):  # the usual case once the memo is warm
        return False
    tokens = set(words)
    tokens -= misses
    seen = False
    for token in tokens:
        result = t.fuzzy_memo.get(token)
        if result is None:
            if len(token) >= FUZZY_LEN_1 and token.isascii() and token[0].isalpha():
                result = _closest_alias(token, t)
            if result is None:
                misses.add(token)
                continue
            t.fuzzy_memo[token] = result
        sid, score = result
        seen = True
        at = text.find(token)
        while at != -1:
            end = at + len(token)
            if (not at or text[at - 1] not in WORD_CHARS) and (
                    end == len(text) or text[end] not in WORD_CHARS):
                found.setdefault(sid, []).append((at, end, score))
            at = text.find(token, end)
    return seen


def _closest_alias(token: str, t: Tables) -> tuple[int, float] | None:
    """The alias a Latin token is a typo of, if any (OSA distance 1, or 2 for long aliases)."""
    best: tuple[int, float] | None = None
    for variant in (token, *(token[:i] + token[i + 1:] for i in range(len(token)))):
        for key, sid in t.fuzzy_index.get(variant, ()):
            if key == token or key[0] != token[0]:
                continue
            # an inflected English word ("dreaming" vs "Dreamina") is no typo
            if any(token.endswith(x) and not key.endswith(x) for x in _ENGLISH_ENDINGS):
                continue
            from rapidfuzz import fuzz  # imported on first use: most runs never need it
            from rapidfuzz.distance import OSA

            limit = 2 if len(key) >= FUZZY_LEN_2 else 1
            if OSA.distance(token, key, score_cutoff=limit) <= limit:
                score = round(fuzz.ratio(token, key), 1)
                if best is None or score > best[1]:
                    best = (sid, score)
    return best


Trace = Callable[[str], None]


def _where(occ: _Occurrence, kind: str = "") -> str:
    return f"{occ.spec.entity} via {kind}{occ.spec.text!r} ({occ.field} {occ.start}-{occ.end})"


def _all_unconfirmed(found: Found, t: Tables) -> bool:
    """True when every alias found is ambiguous, its context words are all aliases, and none
    of them occurs: then nothing can be kept, and the second scan is skipped ("源" in "能源")."""
    ctx_ok = t.context_in_aliases
    alias_of = t.alias_of
    for sid in found:
        if sid not in ctx_ok:
            return False
        if any(c in found for c in alias_of[sid].context):
            return False
    return True


def _decide(title: str, summary: str, wl: Watchlists, trace: Trace | None = None) -> list[Hit]:
    t = wl.tables
    folded = _Folded(title, summary)
    found: Found = {}
    alias_seen = _scan(folded, t.automaton, found)
    if t.fuzzy_index:
        alias_seen = _scan_typos(folded.text, t, found) or alias_seen
    if not alias_seen:
        if trace:
            trace("no alias of any watched entity occurs")
        return []
    if trace is None and _all_unconfirmed(found, t):
        return []
    _scan(folded, t.term_automaton, found)
    terms = t.terms

    def occurs_over(sids: Iterable[int], at: int, to: int) -> int | None:
        for x in sids:
            for s, e, _ in found.get(x, ()):
                if s < to and at < e:
                    return x
        return None

    kept: list[_Occurrence] = []
    pending: list[_Occurrence] = []
    for sid, spans in found.items():
        spec = t.alias_of.get(sid)
        if spec is None:
            continue
        for at, to, score in spans:
            field, start, end = folded.original(at, to)
            occ = _Occurrence(sid, spec, field, start, end, score, at, to)
            if spec.case_form is not None:
                source = folded.source(field)
                written = fold_keep_case(source[start:end]).strip()
                # An all-caps headline cannot tell MiniMax from minimax: then any case will do.
                shouting = _is_shouting(source)
                if written != spec.case_form and not (
                    shouting and written.upper() == spec.case_form.upper()
                ):
                    if trace:
                        trace(f"stopped {_where(occ)}: case-sensitive alias written {written!r}")
                    continue
            x = occurs_over(spec.exclude, at, to) if spec.exclude else None
            if x is not None:
                if trace:
                    trace(f"stopped {_where(occ)}: inside exclusion {terms[x]!r}")
                continue
            (pending if spec.context else kept).append(occ)
    confirmed = {o.spec.entity for o in kept}
    for occ in pending:
        spec = occ.spec
        where = _where(occ, "ambiguous ") if trace else ""
        excl = next((x for x in spec.exclude if x in found), None)
        if excl is not None:
            trace and trace(f"stopped {where}: exclusion {terms[excl]!r} occurs in the item")
            continue
        ctx = next((c for c in spec.context if c in found), None)
        if ctx is not None:
            trace and trace(f"kept {where}: context word {terms[ctx]!r} occurs")
        elif spec.entity in confirmed:
            trace and trace(f"kept {where}: {spec.entity} is named unambiguously too")
        else:
            if trace:
                words = ", ".join(repr(terms[c]) for c in spec.context)
                trace(f"stopped {where}: no context word ({words})")
            continue
        kept.append(occ)
    mentioned = {o.spec.entity for o in kept}

    applies: dict[str, str] = {}
    by_product: set[str] = set()
    topic_found: dict[str, int] = {}
    for sid in found.keys() & t.topic_of.keys():
        for list_id in t.topic_of[sid]:
            topic_found.setdefault(list_id, sid)
    for list_id in t.list_topic:
        product = next((o for o in kept if list_id in o.spec.implies), None)
        term = topic_found.get(list_id)
        implied = t.list_implied_by[list_id]
        maker = (next((e for e in implied if e in mentioned), None)
                 if not implied.isdisjoint(mentioned) else None)
        if product is not None:
            applies[list_id] = f"product {product.spec.text!r} implies it"
            by_product.add(list_id)
        elif term is not None:
            applies[list_id] = f"topic term {terms[term]!r}"
        elif maker is not None:
            applies[list_id] = f"{maker} is marked implies_topic"
        elif not t.list_topic[list_id] and any(list_id in t.entity_lists[e] for e in mentioned):
            # An operator's list without `topic:` (the simplest list) is about its entities.
            applies[list_id] = "the list states no topic: any mention applies"
        elif trace and any(list_id in t.entity_lists[e] for e in mentioned):
            trace(f"list {list_id}: not applied, no topic term, product or implies_topic entity")
    for list_id, other in t.list_yields_to.items():
        # e.g. llm yields to deepfake: a labelling-rule story that names DeepSeek or says
        # "generative AI" in passing is a deepfake story; only a product keeps it in llm
        winner = next((o for o in other if o in applies), None)
        if winner and list_id in applies and list_id not in by_product:
            trace and trace(f"list {list_id}: yields to {winner} ({applies[list_id]} only)")
            del applies[list_id]
    for list_id, why in applies.items():
        trace and trace(f"list {list_id}: applies ({why})")

    best: dict[tuple[str, str], _Occurrence] = {}
    for occ in kept:
        k = (occ.spec.entity, occ.field)
        cur = best.get(k)
        if cur is None or (occ.score, -occ.start) > (cur.score, -cur.start):
            best[k] = occ
    hits = []
    for (entity, field), occ in best.items():
        lists = [li for li in t.entity_lists[entity] if li in applies] or [""]
        for list_id in lists:
            hits.append(Hit(entity, list_id, occ.spec.text, field, occ.start, occ.end,
                            occ.score))
    hits.sort(key=lambda h: (h.list, h.entity, h.field, h.start))
    return hits


def match_item(title: str, summary: str, watchlists: Watchlists) -> list[Hit]:
    """Return the hits of one item, sorted by (list, entity, field, start); see module doc."""
    return _decide(title, summary, watchlists)


_NO_HITS = '{"id": %s, "entities": [], "lists": [], "hits": []}'
# what json.dumps(x, ensure_ascii=False) writes, without building an encoder on every call
_to_json = json.JSONEncoder(ensure_ascii=False).encode


def match_jsonl(lines: Iterable[str], watchlists: Watchlists) -> Iterator[str]:
    """`newsbot match`: one JSON output line per JSON input line {"id","title","summary"}."""
    for n, line in enumerate(lines, 1):
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("expected a JSON object")
            title, summary = obj.get("title") or "", obj.get("summary") or ""
            if not isinstance(title, str) or not isinstance(summary, str):
                raise ValueError("title and summary must be strings")
        except ValueError as exc:
            yield json.dumps({"id": None, "error": f"line {n}: {exc}"}, ensure_ascii=False)
            continue
        hits = _decide(title, summary, watchlists)
        if not hits:  # most items: the same text json.dumps would write, without building it
            yield _NO_HITS % _to_json(obj.get("id"))
            continue
        entities = sorted({h.entity for h in hits})
        lists = sorted({h.list for h in hits if h.list})
        yield _to_json({"id": obj.get("id"), "entities": entities, "lists": lists,
                        "hits": [h.as_dict() for h in hits]})


def explain(text: str, watchlists: Watchlists) -> str:
    """Explain, line by line, which aliases matched TEXT and why, and which guard stopped others."""
    lines: list[str] = []
    hits = _decide(text, "", watchlists, lines.append)
    for h in hits:
        where = f"{h.field} {h.start}-{h.end} {text[h.start:h.end]!r}"
        lines.append(f"hit {h.entity} list={h.list or '-'} alias={h.alias!r} at {where} "
                     f"score={h.score:g}")
    if not lines:
        lines.append("no alias of any watched entity occurs in the text")
    return "\n".join(lines)
