"""Event reading and the same-happening decision (bot/stories/): pure, with the shipped rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.match.matching import match_item
from bot.match.rules import load_watchlists
from bot.stories.events import StoryProfile, _weighted, choose_event, same_event
from bot.stories.forms import (
    EventForm,
    event_form,
    event_index_keys,
    event_key_strings,
    form_from_json,
    form_to_json,
)
from bot.stories.keys import story_keys
from bot.stories.lexicon import Lexicon, build_lexicon

RULES = Path(__file__).resolve().parents[1] / "rules"
T0 = int(datetime(2026, 3, 16, 8, 0, tzinfo=UTC).timestamp())
HOUR = 3600


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return build_lexicon(load_watchlists(RULES))


@pytest.fixture(scope="module")
def read(lexicon: Lexicon):
    watchlists = load_watchlists(RULES)

    def form(title: str, summary: str = "", lang: str = "en", at: int = T0) -> EventForm:
        return event_form(title, summary, lang, match_item(title, summary, watchlists), at,
                          lexicon)

    return form


def test_a_title_is_read_as_subject_product_version_and_what_happened(read) -> None:
    form = read("Baidu unveils Ernie 5.0, its most capable model yet")
    assert form.subjects == ("baidu",)
    assert ("baidu", "5") in form.products
    assert form.primary == "launch" and form.primary_in_title


def test_a_rival_named_in_the_title_is_not_its_subject(read) -> None:
    form = read("Baidu's new Ernie X1 takes aim at DeepSeek with half the price")
    assert form.subjects == ("baidu",)
    assert "deepseek" in form.entities  # still a candidate key, but weaker evidence


def test_reports_of_one_launch_in_english_and_chinese_are_one_event(read) -> None:
    story = StoryProfile.of([read("Baidu unveils Ernie 5.0, its most capable model yet",
                                  "Baidu released Ernie 5.0, a multimodal foundation model.")])
    chinese = read("百度正式发布文心大模型5.0，原生全模态", "百度发布文心大模型5.0。", lang="zh",
                   at=T0 + 2 * HOUR)
    verdict = same_event(chinese, story)
    assert verdict.same, verdict.evidence
    assert "baidu|5" in verdict.evidence["shared_products"]


def test_another_version_of_the_same_product_is_another_event(read) -> None:
    story = StoryProfile.of([read("Baidu launches Ernie 5.0 with multimodal reasoning")])
    verdict = same_event(read("Baidu launches Ernie 4.5 with multimodal reasoning",
                              at=T0 + 3 * HOUR), story)
    assert not verdict.same
    assert any(c.startswith("version baidu") for c in verdict.evidence["conflicts"])


def test_a_price_cut_the_next_day_is_another_event(read) -> None:
    story = StoryProfile.of([read("Baidu unveils Ernie 5.0, its most capable model yet")])
    verdict = same_event(read("Baidu cuts Ernie 5.0 API prices by half", at=T0 + 26 * HOUR),
                         story)
    assert not verdict.same
    assert "action price_cut vs launch" in verdict.evidence["conflicts"]


def test_nothing_joins_a_story_older_than_48_hours(read) -> None:
    story = StoryProfile.of([read("Baidu unveils Ernie 5.0, its most capable model yet")])
    verdict = same_event(read("Baidu unveils Ernie 5.0, its most capable model yet",
                              at=T0 + 49 * HOUR), story)
    assert not verdict.same and verdict.evidence["conflicts"] == ["window"]


def test_choose_event_picks_the_story_the_item_reports_among_candidates(read) -> None:
    launch = StoryProfile.of([read("Zhipu releases GLM-5, claims parity with top models")])
    listing = StoryProfile.of([read("Zhipu starts IPO process in Shanghai")])
    story, verdict, verdicts = choose_event(
        read("Zhipu's GLM-5 model is out: open weights and a cheaper API", at=T0 + HOUR),
        {1: launch, 2: listing})
    assert story == 1 and verdict is not None and verdict.same
    assert not verdicts[2].same


def test_event_keys_name_entities_versions_and_topic_like_actions(read) -> None:
    keys = event_key_strings(read("Italy's privacy regulator blocks DeepSeek"))
    assert "e:deepseek" in keys and "a:ban" in keys
    launch = event_key_strings(read("Baidu unveils Ernie 5.0"))
    assert "p:baidu|5" in launch
    assert not any(k.startswith("a:") for k in launch)  # every launch would be a candidate
    for key in event_index_keys(read("Baidu unveils Ernie 5.0")):
        assert 1 << 61 <= key < 1 << 62  # apart from band, one-row CJK and exact keys


def test_a_form_survives_its_json_round_trip(read) -> None:
    form = read("百度发布文心大模型5.0，API价格直降50%", "百度智能云宣布下调价格。", lang="zh")
    assert form_from_json(form_to_json(form)) == form


def test_the_same_language_similarity_kept_as_sums_equals_the_average_over_members(read) -> None:
    forms = [read(f"Moonshot releases Kimi K{n} with long context", at=T0 + n * HOUR)
             for n in range(2, 30)]  # more members than a profile keeps forms of
    profile = StoryProfile.of(forms)
    probe = _weighted(read("Moonshot's Kimi K2 goes open source").tf, None)
    direct = sum(sum(x * v.get(t, 0.0) for t, x in probe.items()) for v in profile.vectors)
    kept = profile.lang_sums["en"]
    assert sum(x * kept.get(t, 0.0) for t, x in probe.items()) == pytest.approx(direct)


def test_near_identical_short_chinese_titles_always_share_an_index_key() -> None:
    a = story_keys("智谱发布GLM-5大模型 性能对标国际一流")
    b = story_keys("智谱正式发布GLM-5大模型,性能对标国际一流")
    assert set(a.bands) & set(b.bands)


def test_the_same_happening_at_another_company_is_another_event(read) -> None:
    story = StoryProfile.of([read("Baidu raises 5 million dollars in new funding round")])
    verdict = same_event(read("阿里巴巴完成500万美元融资，加码大模型", lang="zh", at=T0 + HOUR),
                         story)
    assert not verdict.same
    assert any(c.startswith("subject alibaba") for c in verdict.evidence["conflicts"])


def test_a_rolled_back_record_leaves_no_event_form_and_no_cached_member(tmp_path, read) -> None:
    """The profile cache learns a member as it is placed; a failed write must unlearn it."""
    import sqlite3

    from bot.models import Feed, Hit, Item
    from bot.store import NewItem, Store

    store = Store(tmp_path / "events.db")
    at = datetime.fromtimestamp(T0, UTC)

    def new(key: str, title: str, hits: tuple[Hit, ...]) -> NewItem:
        item = Item(key=key, feed=key, title=title, summary="", link=None, published=at,
                    lang="en")
        return NewItem(item, hits, None, read(title))

    launch = "Baidu unveils Ernie 5.0, its most capable model yet"
    hit = Hit("baidu", "llm", "Baidu", "title", 0, 5)
    [first] = store.intake.record_items(Feed("A", "https://a.test/"),
                                        [new("a1", launch, (hit,))], at, backfill=False)
    story = first.stored.story_id
    other = "Baidu Unveils ERNIE 5.0 Model as Chinese AI Race Heats Up"
    broken = Hit("baidu", "llm", None, "title", 0, 5)  # alias NOT NULL: the write fails
    with pytest.raises(sqlite3.IntegrityError):
        store.intake.record_items(Feed("B", "https://b.test/"),
                                  [new("b1", other, (hit,)), new("b2", launch, (broken,))],
                                  at, backfill=False)
    assert store.db.rows("SELECT COUNT(*) AS n FROM item_events")[0]["n"] == 1
    with store.db.lock:
        profiles = store.events.profiles(store.db.conn, [story])
    assert profiles[story].n == 1  # not 2: the rolled-back member is not in the profile
    [joined] = store.intake.record_items(Feed("B", "https://b.test/"),
                                         [new("b1", other, (hit,))], at, backfill=False)
    assert joined.stored.story_id == story and joined.kind == "source"
    store.close()


def test_a_member_written_by_another_process_is_in_the_cached_profile(tmp_path, read) -> None:
    """Profiles are cached and kept up to date by this store's own writes; a member that
    another connection (a second `newsbot poll`) commits must still be counted."""
    from bot.models import Feed, Hit, Item
    from bot.store import NewItem, Store

    at = datetime.fromtimestamp(T0, UTC)
    hit = Hit("baidu", "llm", "Baidu", "title", 0, 5)

    def new(key: str, title: str) -> NewItem:
        item = Item(key=key, feed=key, title=title, summary="", link=None, published=at,
                    lang="en")
        return NewItem(item, (hit,), None, read(title))

    mine, theirs = Store(tmp_path / "events.db"), Store(tmp_path / "events.db")
    [first] = mine.intake.record_items(
        Feed("A", "https://a.test/"),
        [new("a1", "Baidu unveils Ernie 5.0, its most capable model yet")], at, backfill=False)
    story = first.stored.story_id
    with mine.db.lock:
        assert mine.events.profiles(mine.db.conn, [story])[story].n == 1  # now cached
    [other] = theirs.intake.record_items(
        Feed("B", "https://b.test/"),
        [new("b1", "Baidu Unveils ERNIE 5.0 Model as Chinese AI Race Heats Up")], at,
        backfill=False)
    assert other.stored.story_id == story
    with mine.db.lock:
        assert mine.events.profiles(mine.db.conn, [story])[story].n == 2
    mine.close()
    theirs.close()


def test_a_member_added_in_the_batch_is_in_a_profile_read_back_from_the_store(
        tmp_path, read) -> None:
    """Forms are written at the end of a batch; a profile rebuilt from the table before then
    (its story not cached: evicted, or after a restart) must still count them."""
    from bot.models import Feed, Hit, Item
    from bot.store import NewItem, Store

    at = datetime.fromtimestamp(T0, UTC)
    title = "Baidu unveils Ernie 5.0, its most capable model yet"
    item = Item(key="a1", feed="A", title=title, summary="", link=None, published=at, lang="en")
    store = Store(tmp_path / "events.db")
    [first] = store.intake.record_items(
        Feed("A", "https://a.test/"),
        [NewItem(item, (Hit("baidu", "llm", "Baidu", "title", 0, 5),), None, read(title))],
        at, backfill=False)
    story = first.stored.story_id
    store.events.forget()  # nothing cached: the next read rebuilds from item_events
    with store.db.tx() as conn:
        store.events.idf(conn)  # read before the add, as in a running bot
        store.events.add(conn, 99, story, read("Baidu Unveils ERNIE 5.0 Model"), False)
        assert store.events.profiles(conn, [story])[story].n == 2
    assert store.db.rows("SELECT COUNT(*) AS n FROM item_events")[0]["n"] == 2
    store.close()


def test_a_probe_is_its_doers_act_another_doers_probe_is_another_story(read) -> None:
    """One regulator's probe of a company and a rival's are two happenings, though they share
    the company and the kind of act; reports of the one probe join however they are worded."""
    story = StoryProfile.of([
        read("Tokyo regulator seeks answers from Zhipu on chatbot data use",
             "Japan's privacy commission said it had sent Zhipu questions about personal data.",
             at=T0),
        read("Japanese watchdog gives Zhipu 20 days to explain data practices",
             "The Tokyo regulator wrote to Zhipu about how users' data is handled.",
             at=T0 + HOUR),
    ])
    rival = read("Anthropic probes whether Zhipu copied its models to build a cheaper rival",
                 "Anthropic says it has seen signs Zhipu used its outputs for training.",
                 at=T0 + 3 * HOUR)
    assert rival.actor == frozenset({"anthropic"})
    verdict = same_event(rival, story)
    assert not verdict.same
    assert any(c.startswith("actor anthropic") for c in verdict.evidence["conflicts"])
    again = read("Tokyo regulator probes Zhipu over chatbot data use",
                 "The Japanese privacy watchdog opened an inquiry into Zhipu's data use.",
                 at=T0 + 4 * HOUR)
    assert again.actor and same_event(again, story).same


def test_forms_stored_before_a_field_existed_still_read(read) -> None:
    data = form_to_json(read("Italy regulator probes DeepSeek over data use"))
    del data["actor"]
    assert form_from_json(data).actor == frozenset()


def test_the_stores_quick_decision_is_the_explained_one(read) -> None:
    """same_event(explain=False) skips work (titles when the act conflicts, members whose
    numbers differ, evidence): over every labeled item of events_check against every event's
    profile, it must decide as the explained call does, with the same score when "same"."""
    import json

    rows = [json.loads(line) for line in
            (Path(__file__).parent / "data" / "events_check.jsonl").read_text().splitlines()]
    forms = [(r["event"], read(r["title"], r.get("summary", ""), r["lang"],
                               int(datetime.fromisoformat(r["published"]).timestamp())))
             for r in rows]
    by_event: dict[str, list[EventForm]] = {}
    for event, form in forms:
        by_event.setdefault(event, []).append(form)
    profiles = {e: StoryProfile.of(fs) for e, fs in by_event.items()}
    decided = 0
    for _, form in forms:
        if not form.entities:
            continue
        for profile in profiles.values():
            quick = same_event(form, profile, explain=False)
            full = same_event(form, profile)
            assert quick.same == full.same, (form.title, full.evidence)
            if full.same:
                assert quick.score == full.score
            decided += 1
    assert decided > 1000


def test_a_form_serialized_in_the_worker_is_stored_with_the_time_the_store_gives_it(
        tmp_path) -> None:
    """A parse worker reads a matched item at its published time and hands over the form as
    JSON; an item without one is placed at first seen, and its stored form must say so."""
    from bot.ingest.pipeline import new_items
    from bot.ingest.reader import Reader, read_body
    from bot.models import Feed
    from bot.store import Store

    feed = Feed("A", "https://a.test/feed")
    body = ("<rss version='2.0'><channel><title>A</title>"
            "<item><title>Baidu unveils Ernie 5.0, its most capable model yet</title>"
            "<link>https://a.test/1</link><pubDate>Mon, 16 Mar 2026 06:00:00 GMT</pubDate></item>"
            "<item><title>Alibaba releases Qwen 3 open-weight models</title>"
            "<link>https://a.test/2</link></item></channel></rss>").encode()
    read = read_body(body, feed=feed, reader=Reader.of(load_watchlists(RULES)))
    now = datetime.fromtimestamp(T0, UTC)
    store = Store(tmp_path / "events.db")
    recorded = store.intake.record_items(feed, new_items(read), now, backfill=False)
    ats = {r.stored.title: store.events.form(r.stored.id)[1].at for r in recorded}
    assert ats == {
        "Baidu unveils Ernie 5.0, its most capable model yet":
            int(datetime(2026, 3, 16, 6, tzinfo=UTC).timestamp()),
        "Alibaba releases Qwen 3 open-weight models": T0,  # first seen
    }
    store.close()
