"""Story keys and the same-story decision (pure: no store, no clock)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.stories.keys import (
    StoryCandidate,
    band_keys,
    choose_story,
    exact_keys,
    fold_title,
    pack_form,
    same_story,
    story_keys,
    title_form,
    unpack_form,
)

NOON = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[1]


def keys(title: str, link: str | None = None, guid: str | None = None,
         at: datetime = NOON) -> object:
    return story_keys(title, link=link, guid=guid, published=at, seen=at)


def assert_same(a: str, b: str) -> None:
    assert same_story(keys(a), keys(b)), f"{a!r} and {b!r} should be one story"


def assert_apart(a: str, b: str) -> None:
    assert not same_story(keys(a), keys(b)), f"{a!r} and {b!r} should be two stories"


# ---- exact keys -----------------------------------------------------------------------------


def test_utm_amp_mobile_and_www_links_share_one_url_key() -> None:
    plain = exact_keys("https://www.reuters.com/technology/baidu-ernie-2023-10-17/", None)
    assert plain == ("u:https://reuters.com/technology/baidu-ernie-2023-10-17",)
    for variant in (
        "https://www.reuters.com/technology/baidu-ernie-2023-10-17/?utm_source=twitter",
        "https://amp.reuters.com/technology/baidu-ernie-2023-10-17/amp/",
        "https://m.reuters.com/technology/baidu-ernie-2023-10-17",
        "http://reuters.com/technology/baidu-ernie-2023-10-17",
    ):
        assert exact_keys(variant, None) == plain, variant


def test_short_numeric_guid_is_not_a_story_key() -> None:
    assert exact_keys(None, "12345") == ()
    assert exact_keys(None, "post-77") == ()


def test_url_uuid_urn_and_long_opaque_guids_are_story_keys() -> None:
    assert exact_keys(None, "https://36kr.com/p/2450001") == ("u:https://36kr.com/p/2450001",)
    uuid = "3f2b9c1e-8d4a-4f6b-9a7e-2c5d8e1f0a3b"
    assert exact_keys(None, uuid) == (f"g:{uuid}",)
    assert exact_keys(None, "urn:newsml:xinhua:20250301:abc") == (
        "g:urn:newsml:xinhua:20250301:abc",)
    assert exact_keys(None, "tag:example.com,2025:42") == ("g:tag:example.com,2025:42",)


def test_link_and_url_guid_give_both_keys_once() -> None:
    assert exact_keys("https://a.com/x", "https://a.com/x/") == ("u:https://a.com/x",)
    assert exact_keys("https://a.com/x", "https://a.com/p?id=9") == (
        "u:https://a.com/x", "u:https://a.com/p?id=9")


def test_home_page_link_is_not_a_story_key() -> None:
    # some feeds give every item the site's home page as its link
    assert exact_keys("https://www.example.com/", None) == ()


def test_shared_url_joins_a_chinese_and_an_english_title() -> None:
    zh = keys("百度发布文心大模型4.0", link="https://www.example.cn/news/ernie-4?from=timeline")
    en = keys("Baidu unveils Ernie 4.0", link="https://m.example.cn/news/ernie-4/")
    assert same_story(zh, en)
    # without the shared link their titles have nothing in common
    assert not same_story(keys("百度发布文心大模型4.0"), keys("Baidu unveils Ernie 4.0"))


def test_shared_url_joins_even_outside_the_time_window() -> None:
    a = keys("Baidu unveils Ernie 4.0", link="https://a.com/ernie", at=NOON)
    b = keys("Ernie 4.0 is here", link="https://a.com/ernie/", at=NOON + timedelta(days=30))
    assert same_story(a, b)


# ---- titles ---------------------------------------------------------------------------------


def test_reworded_latin_titles_are_the_same_story() -> None:
    base = "China approves new batch of generative AI services"
    assert_same(base, "New batch of generative AI services, China approves")  # word order
    assert_same(base, "China approves new batch of generative AI services - Reuters")
    assert_same(base, "CHINA APPROVES NEW BATCH OF GENERATIVE AI SERVICES")
    assert_same(base, "China Approves New Batch Of Generative AI Services | TechCrunch")
    assert_same(base, "Exclusive: China approves new batch of generative AI services!")
    assert_same(base, "China approves new batch of generative AI services for public use")


def test_ernie_versions_stay_apart() -> None:
    assert_apart("Baidu unveils Ernie 4.0", "Baidu unveils Ernie 4.5")
    assert_apart("Baidu unveils Ernie 4.0 model to rival GPT-4",
                 "Baidu unveils Ernie 4.5 model to rival GPT-4")


def test_different_amounts_stay_apart_and_equal_amounts_join() -> None:
    assert_apart("Zhipu raises $2 billion in new funding round",
                 "Zhipu raises $3 billion in new funding round")
    assert_same("Zhipu raises $1,000 million in new funding round",
                "Zhipu raises $1000 million in new funding round - Bloomberg")


def test_numbers_compare_by_value_not_spelling() -> None:
    assert title_form("Ernie 4.0 launch").numbers == title_form("Ernie 4 launch").numbers
    assert title_form("1,000 GPUs").numbers == ("1000",)
    assert title_form("Qwen 2.50 beats GPT-4 and GPT-4").numbers == ("2.5", "4", "4")


def test_a_swapped_name_in_a_sentence_case_title_stays_apart() -> None:
    assert_apart("Alibaba leads funding round in Moonshot AI startup",
                 "Alibaba leads funding round in Zhipu AI startup")
    assert_apart("Japan, France agree to start talks on defense supplies pact",
                 "Japan, Germany agree to start talks on defense supplies pact")


def test_unrelated_titles_stay_apart() -> None:
    assert_apart("China approves new batch of generative AI services",
                 "Tencent posts record quarterly profit on gaming rebound")


def test_chinese_titles_with_outlet_suffix_and_traditional_characters_are_one_story() -> None:
    base = "百度正式发布文心大模型4.0"
    assert_same(base, "百度正式发布文心大模型4.0_新浪科技")
    assert_same(base, "百度正式發佈文心大模型4.0")  # traditional characters
    assert_same(base, "百度今日正式发布文心大模型4.0｜36氪")


def test_different_chinese_stories_stay_apart() -> None:
    assert_apart("百度正式发布文心大模型4.0", "阿里巴巴正式发布通义千问2.5")
    assert_apart("百度正式发布文心大模型4.0", "百度正式发布文心大模型4.5")


def test_same_title_outside_the_window_is_another_story() -> None:
    title = "Weekly roundup of China AI policy news"
    assert same_story(keys(title, at=NOON), keys(title, at=NOON + timedelta(hours=71)))
    assert not same_story(keys(title, at=NOON), keys(title, at=NOON + timedelta(days=5)))


def test_title_without_any_time_never_joins_by_title() -> None:
    a = story_keys("China approves new batch of generative AI services")
    assert a.at is None
    assert not same_story(a, a)


def test_published_in_the_future_counts_as_first_seen() -> None:
    k = story_keys("x y z", published=NOON + timedelta(days=3), seen=NOON)
    assert k.at == NOON


# ---- LSH bands ------------------------------------------------------------------------------


def test_near_duplicate_titles_share_a_band_and_unrelated_ones_do_not() -> None:
    base = band_keys(title_form("China approves new batch of generative AI services").tokens)
    near = band_keys(title_form("China approves new batch of generative AI services - Reuters "
                                "report").tokens)
    other = band_keys(title_form("Tencent posts record quarterly profit on gaming").tokens)
    assert len(base) == len(near) == 10
    assert set(base) & set(near)
    assert not set(base) & set(other)


def test_band_keys_do_not_depend_on_the_python_hash_seed() -> None:
    # keys are stored: a restart (new PYTHONHASHSEED) must compute the same ones
    code = ("from bot.stories.keys import band_keys, title_form;"
            "print(','.join(map(str, band_keys(title_form('Baidu unveils Ernie 4.0 chatbot')"
            ".tokens))))")
    outputs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       cwd=REPO, env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
        for seed in ("1", "2")
    }
    here = ",".join(map(str, band_keys(title_form("Baidu unveils Ernie 4.0 chatbot").tokens)))
    assert outputs == {here}


# ---- choosing among candidates ---------------------------------------------------------------


def candidate(story_id: int, title: str, *, exact: bool = False, feed: str = "other",
              at: datetime = NOON) -> StoryCandidate:
    return StoryCandidate(story_id=story_id, item_id=story_id * 10, title=title, at=at,
                          exact=exact, feed=feed)


def test_choose_story_prefers_a_shared_url_over_a_similar_title() -> None:
    new = keys("Baidu unveils Ernie 4.0 chatbot - Reuters", link="https://r.com/ernie")
    chosen = choose_story(new, [candidate(1, "Baidu unveils Ernie 4.0 chatbot"),
                                candidate(2, "Something else entirely", exact=True)])
    assert chosen == 2


def test_choose_story_takes_the_closest_title_and_none_when_nothing_fits() -> None:
    new = keys("Baidu unveils Ernie 4.0 chatbot for enterprise customers")
    candidates = [candidate(1, "Baidu unveils Ernie 4.5 chatbot for enterprise customers"),
                  candidate(2, "Baidu unveils Ernie 4.0 chatbot for enterprise customers"),
                  candidate(3, "Tencent posts record profit")]
    assert choose_story(new, candidates) == 2
    assert choose_story(new, candidates[::2]) is None


def test_choose_story_never_joins_titles_of_the_same_feed() -> None:
    # a feed's daily "Morning briefing" is a new story every day
    new = keys("Morning briefing: China AI news")
    same_feed = [candidate(1, "Morning briefing: China AI news", feed="scmp")]
    assert choose_story(new, same_feed, feed="scmp") is None
    assert choose_story(new, same_feed, feed="caixin") == 1


@pytest.mark.parametrize("title", [
    "Baidu unveils Ernie 4.0 chatbot to rival ChatGPT - Reuters",
    "Qwen 2.50 beats GPT-4 and GPT-4", "智谱正式发布GLM-5大模型,性能对标国际一流",
    "BREAKING: ALL CAPS HEADLINE 2025", "Japan, France agree to talks", "A", "", "1,000 GPUs",
])
def test_a_packed_title_form_unpacks_to_the_same_form(title: str) -> None:
    """The store keeps each item's folded title packed (title_forms); a candidate read back
    must compare exactly as if its title had been folded again."""
    assert unpack_form(pack_form(fold_title(title))) == fold_title(title)
