"""The web's canned queries: each a page of its own, with a title, a description, a form for
its parameters, and CSV/JSON exports by Datasette. The dashboard draws from the same SQL.

Parameters are optional unless said: an empty `list` or `entity` means all, an empty `days`
means 30. Times in the store are ISO text in UTC, so a day is `substr(time, 1, 10)`.
Entity names and aliases come from the rules files through SQL functions that
bot/web/privacy.py registers (newsbot_entities(), newsbot_entity_name()).
"""

from __future__ import annotations

from typing import Any

_SINCE = "date('now', '-' || COALESCE(NULLIF(:days, ''), '30') || ' days')"
# Matched items of the period: the (matched, first_seen) index finds them.
_PERIOD_ITEMS = f"SELECT story_id FROM items WHERE matched = 1 AND first_seen >= {_SINCE}"
# A story belongs to a list (or names an entity) when one of its items of the period matched
# it. Uncorrelated IN lists: SQLite builds each set once per query (a correlated EXISTS per
# story took minutes over a million items), and not at all when the filter is empty.
_STORY_FILTER = f"""
  AND (:list = '' OR s.id IN (SELECT x.story_id FROM items x JOIN hits h ON h.item_id = x.id
                              WHERE x.matched = 1 AND x.first_seen >= {_SINCE}
                                AND h.list = :list))
  AND (:entity = '' OR s.id IN (SELECT x.story_id FROM items x JOIN hits h ON h.item_id = x.id
                                WHERE x.matched = 1 AND x.first_seen >= {_SINCE}
                                  AND h.entity = :entity AND h.list != ''))"""

STORIES_PER_DAY = f"""
SELECT substr(s.created, 1, 10) AS day, h.list AS list, COUNT(DISTINCT s.id) AS stories
FROM stories s JOIN items i ON i.story_id = s.id JOIN hits h ON h.item_id = i.id
WHERE s.id IN ({_PERIOD_ITEMS}) AND s.created >= {_SINCE} AND h.list != ''
  AND (:list = '' OR h.list = :list)
  AND (:entity = '' OR s.id IN (SELECT x.story_id FROM items x JOIN hits e ON e.item_id = x.id
                                WHERE x.matched = 1 AND x.first_seen >= {_SINCE}
                                  AND e.entity = :entity AND e.list != ''))
GROUP BY day, h.list ORDER BY day, h.list"""

TOP_ENTITIES = """
SELECT h.entity AS entity, newsbot_entity_name(h.entity) AS name,
       COUNT(DISTINCT CASE WHEN i.first_seen >= date('now', '-7 days') THEN i.story_id END)
         AS this_week,
       COUNT(DISTINCT CASE WHEN i.first_seen < date('now', '-7 days') THEN i.story_id END)
         AS last_week
FROM items i JOIN hits h ON h.item_id = i.id
WHERE i.matched = 1 AND i.first_seen >= date('now', '-14 days') AND h.list != ''
  AND (:list = '' OR h.list = :list) AND (:entity = '' OR h.entity = :entity)
GROUP BY h.entity ORDER BY this_week DESC, last_week DESC, h.entity LIMIT 12"""

ALERTS_PER_DAY = f"""
SELECT substr(a.created, 1, 10) AS day, COUNT(DISTINCT a.id) AS alerts,
       COUNT(CASE WHEN o.state = 'sent' THEN o.id END) AS messages_sent,
       COUNT(CASE WHEN o.state = 'failed' THEN o.id END) AS messages_failed
FROM alerts a JOIN stories s ON s.id = a.story_id
  LEFT JOIN outbox o ON o.alert_id = a.id AND o.kind = 'send'
WHERE a.backfill = 0 AND a.created >= {_SINCE} {_STORY_FILTER}
GROUP BY day ORDER BY day"""

FAILING_FEEDS = """
SELECT feed, health, consecutive_errors, first_error_at AS failing_since, last_error, last_ok,
       url
FROM feed_state WHERE consecutive_errors > 0 OR health != 'ok'
ORDER BY consecutive_errors DESC, feed"""

LATEST_EVENTS = f"""
SELECT s.id AS story, s.created AS first_seen, s.title AS title, i.link AS link,
       i.feed AS first_source, s.items AS sources,
       (SELECT group_concat(name, ', ') FROM (SELECT DISTINCT newsbot_entity_name(h.entity) AS name
          FROM items x JOIN hits h ON h.item_id = x.id WHERE x.story_id = s.id AND h.list != ''
          ORDER BY name)) AS entities
FROM stories s JOIN items i ON i.id = s.first_item_id
WHERE s.id IN ({_PERIOD_ITEMS}) {_STORY_FILTER}
ORDER BY s.created DESC, s.id DESC LIMIT 20"""

FEEDS = """
SELECT f.feed, f.health, f.last_ok, f.last_error, f.last_error_at, f.consecutive_errors,
       f.next_poll, f.polls,
       (SELECT COUNT(*) FROM items i WHERE i.feed = f.feed) AS items,
       (SELECT COUNT(*) FROM items i WHERE i.feed = f.feed AND i.matched = 1) AS matched_items,
       f.url
FROM feed_state f ORDER BY f.consecutive_errors DESC, f.feed"""

ENTITIES = """
WITH watched AS (
  SELECT e.value ->> 'id' AS id, e.value ->> 'name' AS name, e.value ->> 'zh' AS zh,
         (SELECT group_concat(value, ', ') FROM json_each(e.value -> 'lists')) AS lists,
         (SELECT group_concat(value, ' · ') FROM json_each(e.value -> 'aliases')) AS aliases,
         e.key AS position
  FROM json_each(newsbot_entities()) e),
seen AS (
  SELECT h.entity AS id, COUNT(DISTINCT i.story_id) AS stories,
         COUNT(DISTINCT CASE WHEN i.first_seen >= date('now', '-7 days') THEN i.story_id END)
           AS stories_7d,
         MAX(i.first_seen) AS last_seen
  FROM hits h JOIN items i ON i.id = h.item_id WHERE h.list != '' GROUP BY h.entity)
SELECT w.name, w.zh AS chinese_name, w.id, w.lists,
       COALESCE(seen.stories, 0) AS stories, COALESCE(seen.stories_7d, 0) AS stories_7d,
       seen.last_seen, w.aliases
FROM watched w LEFT JOIN seen ON seen.id = w.id
WHERE (:list = '' OR (',' || replace(w.lists, ' ', '') || ',') LIKE '%,' || :list || ',%')
ORDER BY stories DESC, w.position"""

ENTITY_TIMELINE = f"""
SELECT i.first_seen AS seen, i.title, i.link, i.feed, i.lang, i.story_id AS story,
       s.items AS sources,
       (SELECT group_concat(DISTINCT h.list) FROM hits h WHERE h.item_id = i.id
          AND h.entity = :entity) AS lists,
       (SELECT group_concat(DISTINCT h.alias) FROM hits h WHERE h.item_id = i.id
          AND h.entity = :entity) AS matched_words
FROM items i LEFT JOIN stories s ON s.id = i.story_id
WHERE i.id IN (SELECT item_id FROM hits WHERE entity = :entity AND list != '')
  AND i.first_seen >= {_SINCE}
ORDER BY i.first_seen DESC, i.id DESC"""

LIST_YESTERDAY = """
SELECT i.first_seen AS seen, i.title, i.link, i.feed, i.lang, i.story_id AS story,
       (SELECT group_concat(DISTINCT newsbot_entity_name(h.entity)) FROM hits h
          WHERE h.item_id = i.id AND h.list = :list) AS entities
FROM items i
WHERE i.matched = 1 AND i.first_seen >= date('now', '-1 day') AND i.first_seen < date('now')
  AND EXISTS (SELECT 1 FROM hits h WHERE h.item_id = i.id AND h.list = :list)
ORDER BY i.first_seen, i.id"""


def _query(title: str, description: str, sql: str, **extra: Any) -> dict[str, Any]:
    return {"title": title, "description": description, "sql": sql.strip(), "hide_sql": True,
            **extra}


# name → Datasette canned query. The first five feed the dashboard.
QUERIES: dict[str, dict[str, Any]] = {
    "stories_per_day": _query(
        "Stories per day, by watchlist",
        "How many stories each watchlist matched per day (a story counted once however many "
        "feeds carried it). Parameters: days (default 30), list, entity.",
        STORIES_PER_DAY),
    "top_entities": _query(
        "Top entities: this week against last week",
        "Stories naming each entity in the last 7 days and in the 7 days before.",
        TOP_ENTITIES),
    "alerts_per_day": _query(
        "Alerts per day",
        "Alert messages sent to chats (and given up) per day of their story's alert; the "
        "stories alerted (backfill excluded).",
        ALERTS_PER_DAY),
    "failing_feeds": _query(
        "Feeds failing now",
        "Feeds whose last polls failed or that are marked failing or silent, worst first.",
        FAILING_FEEDS),
    "latest_events": _query(
        "Latest stories",
        "The 20 newest matched stories, with how many sources carried each.",
        LATEST_EVENTS),
    "feeds": _query(
        "Feeds",
        "Health per feed: the last good poll, the last error, consecutive errors, the next poll "
        "and the items stored.",
        FEEDS),
    "entities": _query(
        "Entities",
        "Every entity the rules watch, with its aliases (from rules/), the stories naming it "
        "and when it was last seen. Optional parameter: list.",
        ENTITIES),
    "entity_timeline": _query(
        "Entity timeline",
        "Every item naming one entity, newest first. Parameters: entity (an id, e.g. zhipu), "
        "days (default 30).",
        ENTITY_TIMELINE),
    "list_yesterday": _query(
        "What a watchlist matched yesterday",
        "The items a watchlist matched yesterday (UTC). Parameter: list (e.g. llm).",
        LIST_YESTERDAY),
}
