"""A fake Telegram Bot API server for tests: stdlib HTTP on 127.0.0.1, real long polling.

The real python-telegram-bot client talks to it through `base_url`. It answers like the Bot
API (`{"ok": true, "result": ...}` / `{"ok": false, "error_code", "description",
"parameters"}`), validates Telegram HTML and the 4,096-character limit the way the real server
does, records everything sent, can inject failures (429/403/400/5xx/hangs) for chosen calls,
and optionally enforces Telegram's flood limits so a benchmark can count the 429s it provokes.

    with FakeTelegram() as tg:
        tg.user_sends(chat_id=42, text="/start")      # queued for getUpdates
        tg.fail("sendMessage", chat_id=42, kind="403")
        tg.wait_for_messages(42, 1)
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Literal
from urllib.parse import parse_qsl, urlsplit

TOKEN = "123456:TEST-token-not-secret"
BOT_ID = 123456
BOT_USERNAME = "newsbot_test_bot"
MAX_TEXT = 4096

FailureKind = Literal["429", "403", "400", "400_parse", "500", "502", "hang"]

# Parameters that PTB sends JSON-encoded inside form fields.
_JSON_PARAMS = {"reply_markup", "entities", "allowed_updates", "commands", "scope",
                "link_preview_options", "reply_parameters"}
_INT_PARAMS = {"offset", "limit", "timeout", "message_id", "cache_time"}


# --------------------------------------------------------------------------- HTML validation

class HtmlError(ValueError):
    """Telegram would answer 400 "can't parse entities" for this text."""


_ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span",
                 "tg-spoiler", "a", "code", "pre", "blockquote", "tg-emoji"}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)\s*/?>")
_ATTR_RE = re.compile(r"""\s*([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def parse_telegram_html(text: str) -> str:
    """Return the plain text Telegram would show, or raise HtmlError like the real parser."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            m = _TAG_RE.match(text, i)
            if not m:
                raise HtmlError(f"Unsupported start tag at byte offset {i}")
            closing, name, attrs = m.group(1), m.group(2).lower(), m.group(3) or ""
            if name not in _ALLOWED_TAGS:
                raise HtmlError(f'Unsupported start tag "{name}" at byte offset {i}')
            if closing:
                if not stack or stack[-1] != name:
                    raise HtmlError(
                        f'Unmatched end tag at byte offset {i}, expected "</{stack[-1]}>", '
                        f'found "</{name}>"' if stack else
                        f'Unexpected end tag at byte offset {i}')
                stack.pop()
            else:
                _check_attrs(name, attrs, i)
                stack.append(name)
            i = m.end()
        elif ch == "&":
            m = _ENTITY_RE.match(text, i)
            if not m:
                raise HtmlError(f"Character '&' is reserved at byte offset {i}")
            body = m.group(1)
            if body.startswith("#"):
                code = int(body[2:], 16) if body[1:2] in "xX" else int(body[1:])
                if code > 0x10FFFF:
                    raise HtmlError(f"Invalid numeric entity at byte offset {i}")
                out.append(chr(code))
            elif body.lower() in _NAMED_ENTITIES:
                out.append(_NAMED_ENTITIES[body.lower()])
            else:
                raise HtmlError(f'Unsupported HTML entity "&{body};" at byte offset {i}')
            i = m.end()
        elif ch == ">":
            raise HtmlError(f"Character '>' is reserved at byte offset {i}")
        else:
            out.append(ch)
            i += 1
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def _check_attrs(name: str, attrs: str, offset: int) -> None:
    found = {m.group(1).lower(): (m.group(2) or m.group(3) or m.group(4) or "")
             for m in _ATTR_RE.finditer(attrs) if m.group(1)}
    if name == "a":
        if "href" not in found or not found["href"]:
            raise HtmlError(f"Can't find href for the link at byte offset {offset}")
    elif name == "span":
        if found.get("class") != "tg-spoiler":
            raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    elif name == "tg-emoji":
        if "emoji-id" not in found:
            raise HtmlError(f"Custom emoji identifier must be specified at byte offset {offset}")


# --------------------------------------------------------------------------- records

@dataclass(frozen=True)
class SentMessage:
    """One message the bot sent (or edited), as the fake accepted it."""

    chat_id: int
    message_id: int
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    at: float
    method: str = "sendMessage"
    reply_to: int | None = None
    photo: bytes | None = None  # sendPhoto: the uploaded file (text is then the caption)
    thread_id: int | None = None  # the forum topic it was sent into (None: General)

    @property
    def plain(self) -> str:
        """The text as a user sees it (HTML parsed when parse_mode is HTML)."""
        if (self.parse_mode or "").upper() == "HTML":
            return parse_telegram_html(self.text)
        return self.text

    def buttons(self) -> list[tuple[str, str]]:
        """(text, callback_data) of every inline keyboard button."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b.get("text", ""), b.get("callback_data", "")) for row in rows for b in row]


@dataclass
class FailureRule:
    """The next `times` calls of `method` (to `chat_id`, if given) fail with `kind`."""

    method: str
    kind: FailureKind
    times: int = 1
    chat_id: int | None = None
    retry_after: int = 1
    description: str | None = None
    hang_seconds: float = 30.0


@dataclass
class Call:
    """One HTTP call the fake received."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200


@dataclass
class _Chat:
    id: int
    type: str
    title: str | None = None
    username: str | None = None  # a public channel's @name
    is_forum: bool = False  # a supergroup with topics
    admins: set[int] = field(default_factory=set)  # user ids; the lowest is the creator
    bot_status: str = "administrator"  # the bot's own membership (groups, channels)
    bot_can_post: bool = True  # a channel admin right: can_post_messages
    deleted_topics: set[int] = field(default_factory=set)  # message_thread_ids gone


@dataclass
class _Window:
    """Sliding-window counter: at most `limit` events in any `seconds`."""

    limit: int
    seconds: float
    times: deque[float] = field(default_factory=deque)

    def retry_after(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0.0
        return self.times[0] + self.seconds - now

    def add(self, now: float) -> None:
        self.times.append(now)


# --------------------------------------------------------------------------- the server

class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a bot opening 16 connections at once (a
    # burst of replies) overflowed it, and a connection the kernel dropped came back to the
    # bot as httpx.ReadError now and then (TcpExtListenOverflows counted it). Telegram's
    # servers do not refuse a burst of connections; neither does the fake.
    request_queue_size = 128


class FakeTelegram:
    """The fake Bot API server; use as a context manager or start()/stop()."""

    def __init__(self, token: str = TOKEN, *, flood_limits: bool = False,
                 global_per_second: int = 30, chat_per_second: int = 1,
                 group_per_minute: int = 20) -> None:
        self.token = token
        self.flood_limits = flood_limits
        self._limits = (global_per_second, chat_per_second, group_per_minute)
        self._lock = threading.Condition()
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._rules: list[FailureRule] = []
        self._chats: dict[int, _Chat] = {}
        self._global = _Window(global_per_second, 1.0)
        self._per_chat: dict[int, _Window] = {}
        self._per_group: dict[int, _Window] = {}
        self._closing = False
        self._hang_release = threading.Event()
        self.sent: list[SentMessage] = []
        self.calls: list[Call] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []  # the last menu set, whatever its scope
        self.menus: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (scope, language_code)
        self.flood_429s = 0
        self.injected: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> FakeTelegram:
        """Listen on 127.0.0.1 on a free port, serving from a background thread."""
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="fake-telegram", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake long polls and hangs, then shut the server down."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        self._hang_release.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Root URL, as for TELEGRAM_API_URL (the bot talks to {url}/bot<token>/<method>)."""
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- test API: what users do
    def user_sends(self, chat_id: int, text: str, *, user_id: int | None = None,
                   kind: str = "private", title: str | None = None,
                   username: str | None = None, language_code: str | None = None,
                   thread_id: int | None = None, anonymous: bool = False) -> int:
        """Queue a message from a user (or a channel post when kind='channel'; an anonymous
        group administrator's, posting as the group, with `anonymous`); returns update id."""
        chat = self._remember_chat(chat_id, kind, title)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat_json(chat),
            "text": text,
        }
        if anonymous:
            message["from"] = {"id": ANONYMOUS_ADMIN, "is_bot": True,
                               "first_name": "Group", "username": "GroupAnonymousBot"}
            message["sender_chat"] = self._chat_json(chat)
        elif kind != "channel":
            uid = user_id if user_id is not None else chat_id
            message["from"] = {"id": uid, "is_bot": False, "first_name": f"User{uid}",
                               "username": username or f"user{uid}"}
            if language_code:
                message["from"]["language_code"] = language_code
        else:
            message["sender_chat"] = self._chat_json(chat)
        command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
        if command:
            message["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": utf16_len(command.group(0))}]
        if thread_id is not None:  # sent inside a forum topic
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        key = "channel_post" if kind == "channel" else "message"
        return self._queue_update({key: message})

    def set_chat(self, chat_id: int, kind: str, *, title: str | None = None,
                 username: str | None = None, is_forum: bool = False,
                 admins: Sequence[int] = (), bot_status: str = "administrator",
                 bot_can_post: bool = True) -> None:
        """Describe a group, supergroup (forum) or channel: its admins and the bot's rights."""
        with self._lock:
            chat = self._chats.get(chat_id) or _Chat(chat_id, kind)
            chat.type, chat.title, chat.username, chat.is_forum = kind, title, username, is_forum
            chat.admins, chat.bot_status, chat.bot_can_post = set(admins), bot_status, bot_can_post
            self._chats[chat_id] = chat

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """A forum topic is deleted: sending into it fails from now on."""
        with self._lock:
            self._chat_for(chat_id).deleted_topics.add(thread_id)

    def user_clicks(self, chat_id: int, message_id: int, data: str, *,
                    user_id: int | None = None) -> int:
        """Queue a callback query, as when a user presses an inline button of a sent message."""
        original = next((m for m in reversed(self.sent)
                         if m.chat_id == chat_id and m.message_id == message_id), None)
        chat = self._chats.get(chat_id) or self._remember_chat(chat_id, "private", None)
        uid = user_id if user_id is not None else chat_id
        message: dict[str, Any] = {"message_id": message_id, "date": int(time.time()),
                                   "chat": self._chat_json(chat),
                                   "from": self._bot_user(),
                                   "text": original.plain if original else ""}
        if original and original.reply_markup:
            message["reply_markup"] = original.reply_markup
        query = {"id": str(next(self._update_ids) * 7919), "chat_instance": str(chat_id),
                 "from": {"id": uid, "is_bot": False, "first_name": f"User{uid}"},
                 "message": message, "data": data}
        return self._queue_update({"callback_query": query})

    # -- test API: what the network does
    def fail(self, method: str, *, kind: FailureKind, times: int = 1,
             chat_id: int | None = None, retry_after: int = 1,
             description: str | None = None, hang_seconds: float = 30.0) -> FailureRule:
        """Make the next `times` calls of `method` (to `chat_id`, if given) fail with `kind`."""
        rule = FailureRule(method, kind, times, chat_id, retry_after, description, hang_seconds)
        with self._lock:
            self._rules.append(rule)
        return rule

    def release_hangs(self) -> None:
        """Let every hanging request finish (it then answers 500 as if the gateway gave up)."""
        self._hang_release.set()

    # -- test API: what was sent
    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """Messages sent to one chat, oldest first."""
        with self._lock:
            return [m for m in self.sent if m.chat_id == chat_id and m.method == "sendMessage"]

    def wait_for(self, predicate: Callable[[list[SentMessage]], bool],
                 timeout: float = 10.0) -> list[SentMessage]:
        """Block until predicate(self.sent) holds; raise AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self.sent):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"fake Telegram: condition not met in {timeout}s; sent so far: "
                        + repr([(m.chat_id, m.text[:60]) for m in self.sent[-10:]]))
                self._lock.wait(left)
            return list(self.sent)

    def wait_for_messages(self, chat_id: int, n: int = 1,
                          timeout: float = 10.0) -> list[SentMessage]:
        """Block until `chat_id` has received at least n messages; return them."""
        self.wait_for(lambda sent: sum(1 for m in sent if m.chat_id == chat_id
                                       and m.method == "sendMessage") >= n, timeout)
        return self.messages_to(chat_id)

    def wait_for_call(self, method: str, timeout: float = 10.0) -> Call:
        """Block until `method` has been called at least once; return the first call."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [c for c in self.calls if c.method == method]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"fake Telegram: {method} was not called in {timeout}s")
                self._lock.wait(left)

    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by an offset."""
        with self._lock:
            return len(self._updates)

    # -- internals
    def _bot_user(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Newsbot",
                "username": BOT_USERNAME, "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    def _remember_chat(self, chat_id: int, kind: str, title: str | None) -> _Chat:
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None or chat.type != kind:
                chat = _Chat(chat_id, kind, title)
                self._chats[chat_id] = chat
            elif title is not None:
                chat.title = title
            return chat

    def _chat_json(self, chat: _Chat) -> dict[str, Any]:
        data: dict[str, Any] = {"id": chat.id, "type": chat.type}
        if chat.type == "private":
            data["first_name"] = f"User{chat.id}"
        else:
            data["title"] = chat.title or f"Chat {chat.id}"
        if chat.username:
            data["username"] = chat.username
        if chat.is_forum:
            data["is_forum"] = True
        return data

    def _chat_for(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = _Chat(chat_id, "private" if chat_id > 0 else "supergroup")
        return chat

    def _queue_update(self, body: dict[str, Any]) -> int:
        with self._lock:
            update_id = next(self._update_ids)
            self._updates.append({"update_id": update_id, **body})
            self._lock.notify_all()
            return update_id

    def _take_rule(self, method: str, chat_id: int | None) -> FailureRule | None:
        for rule in self._rules:
            if rule.method == method and rule.times > 0 and (
                    rule.chat_id is None or rule.chat_id == chat_id):
                rule.times -= 1
                self.injected[rule.kind] = self.injected.get(rule.kind, 0) + 1
                return rule
        return None

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one Bot API call: (HTTP status, JSON body)."""
        chat_id = _as_int(params.get("chat_id"))
        with self._lock:
            call = Call(method, params, time.time())
            self.calls.append(call)
            rule = self._take_rule(method, chat_id)
            self._lock.notify_all()
        if rule is not None:
            status, body = self._failure(rule)
            call.status = status
            return status, body
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        status, body = handler(params)
        call.status = status
        return status, body

    def _failure(self, rule: FailureRule) -> tuple[int, dict[str, Any]]:
        if rule.kind == "hang":
            self._hang_release.wait(rule.hang_seconds)
            return _error(500, "Internal Server Error: request hung")
        if rule.kind == "429":
            return _error(429, rule.description or
                          f"Too Many Requests: retry after {rule.retry_after}",
                          {"retry_after": rule.retry_after})
        if rule.kind == "403":
            return _error(403, rule.description or "Forbidden: bot was blocked by the user")
        if rule.kind == "400_parse":
            return _error(400, rule.description or
                          "Bad Request: can't parse entities: Unsupported start tag \"x\" "
                          "at byte offset 0")
        if rule.kind == "400":
            return _error(400, rule.description or "Bad Request: chat not found")
        if rule.kind == "502":
            return _error(502, rule.description or "Bad Gateway")
        return _error(500, rule.description or "Internal Server Error")

    def _flood_check(self, chat: _Chat) -> float:
        """Seconds to wait if this send would break a flood limit (0 when allowed)."""
        now = time.monotonic()
        chat_w = self._per_chat.setdefault(chat.id, _Window(self._limits[1], 1.0))
        windows = [self._global, chat_w]
        if chat.type in ("group", "supergroup", "channel"):
            windows.append(self._per_group.setdefault(chat.id, _Window(self._limits[2], 60.0)))
        wait = max(w.retry_after(now) for w in windows)
        if wait <= 0:
            for w in windows:
                w.add(now)
        return wait

    # -- API methods
    def _api_getMe(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"ok": True, "result": self._bot_user()}

    def _api_deleteWebhook(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"ok": True, "result": True, "description": "Webhook is already deleted"}

    def _api_setMyCommands(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        commands = params.get("commands") or []
        for c in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", c.get("command", "")):
                return _error(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(c.get("description", "")) <= 256:
                return _error(400, "Bad Request: command description is empty or too long")
        scope = params.get("scope") or {"type": "default"}
        key = (json.dumps(scope, sort_keys=True) if not isinstance(scope, str) else scope,
               params.get("language_code") or "")
        with self._lock:
            self.commands = list(commands)
            self.menus[key] = list(commands)
        return 200, {"ok": True, "result": True}

    def menu(self, language_code: str = "") -> list[dict[str, Any]]:
        """The default-scope command menu registered for a language ("" = every language)."""
        with self._lock:
            return list(self.menus.get((json.dumps({"type": "default"}), language_code), []))

    def _api_getMyCommands(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            return 200, {"ok": True, "result": list(self.commands)}

    def _api_close(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"ok": True, "result": True}

    _api_logOut = _api_close

    def _api_getUpdates(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        offset = _as_int(params.get("offset")) or 0
        limit = _as_int(params.get("limit")) or 100
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        with self._lock:
            if offset:
                # An offset confirms every update before it (as the real server does).
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while True:
                ready = [u for u in self._updates if u["update_id"] >= offset][:limit]
                left = deadline - time.monotonic()
                if ready or left <= 0 or self._closing:
                    return 200, {"ok": True, "result": ready}
                self._lock.wait(left)

    def _text_checks(self, params: dict[str, Any]) -> tuple[str, str | None] | tuple[int, dict[str, Any]]:
        text = params.get("text")
        if text is None or str(text).strip() == "":
            return _error(400, "Bad Request: message text is empty")
        text = str(text)
        parse_mode = params.get("parse_mode")
        shown = text
        if parse_mode and str(parse_mode).upper() == "HTML":
            try:
                shown = parse_telegram_html(text)
            except HtmlError as exc:
                return _error(400, f"Bad Request: can't parse entities: {exc}")
        elif parse_mode:
            return _error(400, f"Bad Request: unsupported parse_mode {parse_mode}")
        if not shown.strip():
            return _error(400, "Bad Request: message text is empty")
        if utf16_len(shown) > MAX_TEXT:
            return _error(400, "Bad Request: message is too long")
        return text, parse_mode

    def _api_getChat(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A chat by id or by a channel's @username."""
        wanted = str(params.get("chat_id") or "")
        with self._lock:
            chat = next((c for c in self._chats.values()
                         if str(c.id) == wanted or (c.username and wanted.lower()
                                                    == "@" + c.username.lower())), None)
        if chat is None:
            return _error(400, "Bad Request: chat not found")
        # getChat answers a ChatFullInfo: the chat and the fields the Bot API always sends.
        full = {**self._chat_json(chat), "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                        "unique_gifts": False, "premium_subscription": False,
                                        "gifts_from_channels": False}}
        return 200, {"ok": True, "result": full}

    def _api_getChatMember(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A user's (or the bot's) membership: creator, administrator (with rights), member."""
        chat_id, user_id = _as_int(params.get("chat_id")), _as_int(params.get("user_id"))
        with self._lock:
            chat = self._chats.get(chat_id or 0)
        if chat is None:
            return _error(400, "Bad Request: chat not found")
        if user_id == BOT_ID:
            member: dict[str, Any] = {"user": self._bot_user(), "status": chat.bot_status}
            if chat.bot_status == "administrator":
                member.update(_ADMIN_RIGHTS, can_post_messages=chat.bot_can_post)
        else:
            user = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
            admins = sorted(chat.admins)
            if chat.type == "private" and user_id == chat.id:
                member = {"user": user, "status": "member"}
            elif admins and user_id == admins[0]:
                member = {"user": user, "status": "creator", "is_anonymous": False}
            elif user_id in admins:
                member = {"user": user, "status": "administrator", **_ADMIN_RIGHTS}
            else:
                member = {"user": user, "status": "member"}
        return 200, {"ok": True, "result": member}

    def _api_sendMessage(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id = _as_int(params.get("chat_id"))
        if chat_id is None:
            return _error(400, "Bad Request: chat_id is empty")
        thread = _as_int(params.get("message_thread_id"))
        if thread is not None and thread in self._chat_for(chat_id).deleted_topics:
            return _error(400, "Bad Request: message thread not found")
        checked = self._text_checks(params)
        if isinstance(checked[0], int):
            return checked  # type: ignore[return-value]
        text, parse_mode = checked  # type: ignore[misc]
        chat = self._chat_for(chat_id)
        with self._lock:
            if self.flood_limits:
                wait = self._flood_check(chat)
                if wait > 0:
                    self.flood_429s += 1
                    secs = max(1, math.ceil(wait))
                    return _error(429, f"Too Many Requests: retry after {secs}",
                                  {"retry_after": secs})
            message_id = next(self._message_ids)
            reply = params.get("reply_parameters") or {}
            record = SentMessage(chat_id, message_id, text, parse_mode,
                                 params.get("reply_markup"), time.time(),
                                 reply_to=_as_int(reply.get("message_id")) if reply else None,
                                 thread_id=thread)
            self.sent.append(record)
            self._lock.notify_all()
        return 200, {"ok": True, "result": self._message_json(record, chat)}

    def _api_sendPhoto(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A photo upload (multipart): recorded with its bytes; the caption checked like text."""
        chat_id = _as_int(params.get("chat_id"))
        if chat_id is None:
            return _error(400, "Bad Request: chat_id is empty")
        photo = params.get("photo")
        if not isinstance(photo, bytes) or not photo.startswith(b"\x89PNG\r\n\x1a\n"):
            return _error(400, "Bad Request: photo must be an uploaded PNG file")
        caption = params.get("caption") or ""
        if utf16_len(caption) > 1024:
            return _error(400, "Bad Request: message caption is too long")
        chat = self._chat_for(chat_id)
        with self._lock:
            message_id = next(self._message_ids)
            record = SentMessage(chat_id, message_id, caption, params.get("parse_mode"),
                                 params.get("reply_markup"), time.time(), method="sendPhoto",
                                 photo=photo)
            self.sent.append(record)
            self._lock.notify_all()
        return 200, {"ok": True, "result": self._message_json(record, chat)}

    def _api_editMessageText(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id = _as_int(params.get("chat_id"))
        message_id = _as_int(params.get("message_id"))
        checked = self._text_checks(params)
        if isinstance(checked[0], int):
            return checked  # type: ignore[return-value]
        text, parse_mode = checked  # type: ignore[misc]
        with self._lock:
            if not any(m.chat_id == chat_id and m.message_id == message_id for m in self.sent):
                return _error(400, "Bad Request: message to edit not found")
            record = SentMessage(chat_id or 0, message_id or 0, text, parse_mode,
                                 params.get("reply_markup"), time.time(), "editMessageText")
            self.sent.append(record)
            self._lock.notify_all()
        return 200, {"ok": True, "result": self._message_json(record, self._chat_for(chat_id or 0))}

    def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """New buttons for a sent message; its text stays."""
        chat_id = _as_int(params.get("chat_id"))
        message_id = _as_int(params.get("message_id"))
        with self._lock:
            last = next((m for m in reversed(self.sent)
                         if m.chat_id == chat_id and m.message_id == message_id), None)
            if last is None:
                return _error(400, "Bad Request: message to edit not found")
            record = SentMessage(last.chat_id, last.message_id, last.text, last.parse_mode,
                                 params.get("reply_markup"), time.time(),
                                 "editMessageReplyMarkup", thread_id=last.thread_id)
            self.sent.append(record)
            self._lock.notify_all()
        return 200, {"ok": True, "result": self._message_json(record, self._chat_for(chat_id or 0))}

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.callback_answers.append(params)
            self._lock.notify_all()
        return 200, {"ok": True, "result": True}

    def _message_json(self, record: SentMessage, chat: _Chat) -> dict[str, Any]:
        data: dict[str, Any] = {"message_id": record.message_id, "date": int(record.at),
                                "chat": self._chat_json(chat), "from": self._bot_user(),
                                "text": record.plain}
        if record.photo is not None:  # a photo message has a caption and sizes, no text
            width = int.from_bytes(record.photo[16:20], "big")
            height = int.from_bytes(record.photo[20:24], "big")
            del data["text"]
            data["caption"] = record.plain
            data["photo"] = [{"file_id": f"photo-{record.message_id}",
                              "file_unique_id": f"p{record.message_id}", "width": width,
                              "height": height, "file_size": len(record.photo)}]
        if record.reply_markup:
            data["reply_markup"] = record.reply_markup
        return data


# Telegram's user id for a group's anonymous administrators (GroupAnonymousBot).
ANONYMOUS_ADMIN = 1087968824
# What an administrator may do (getChatMember of an administrator).
_ADMIN_RIGHTS = {"can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
                 "can_delete_messages": True, "can_manage_video_chats": True,
                 "can_restrict_members": True, "can_promote_members": False,
                 "can_change_info": True, "can_invite_users": True, "can_post_stories": False,
                 "can_edit_stories": False, "can_delete_stories": False}


def _error(code: int, description: str,
           parameters: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return code, body


def _as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Fields of a multipart/form-data body: text as str, uploaded files as bytes."""
    import email.parser
    import email.policy

    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        data = part.get_payload(decode=True) or b""
        fields[name] = data if part.get_filename() else data.decode("utf-8")
    return fields


def _decode_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Form fields arrive as strings; PTB JSON-encodes the structured ones."""
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _JSON_PARAMS and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        params[key] = value
    return params


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeTelegram
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # keep test output quiet

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length) if length else b"")

    def _dispatch(self, body: bytes) -> None:
        fake = self.server_fake
        parts = urlsplit(self.path)
        m = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", parts.path)
        if not m:
            self._reply(*_error(404, "Not Found"))
            return
        if m.group(1) != fake.token:
            self._reply(*_error(401, "Unauthorized"))
            return
        raw: dict[str, Any] = dict(parse_qsl(parts.query))
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if body and ctype == "application/json":
            raw.update(json.loads(body))
        elif body and ctype == "multipart/form-data":
            raw.update(_multipart(self.headers.get("Content-Type") or "", body))
        elif body:
            raw.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        status, payload = fake.handle(m.group(2), _decode_params(raw))
        self._reply(status, payload)

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to answer
