"""Renders one bot message (the reply payload, docs/payload.md) as Telegram
messages: HTML text (parse_mode HTML, every string escaped) and an inline
keyboard. Pure: no network, no Rasa, so every rule is unit-tested.

    render_payload(payload) -> [OutgoingMessage(text=..., reply_markup=...), ...]

Rules (docs/telegram.md, "What the channel does with each payload field"):
- emergency advice comes first, bold, behind a siren;
- the answer is plain (escaped) text;
- each source sentence is a <blockquote>, with its paragraph/sentence reference;
- clinic advice is bold after the quotes, routine advice italic;
- suggestions become inline keyboard buttons (callback_data = their payload),
  at most three, without "Where does it say that?" when the quotes are
  already in the message;
- an answer gets a last row of two small feedback buttons, "Helpful" and
  "Not helpful" (callback_data = faq.feedback's message, under 64 bytes);
- a handoff reply gets a booking URL button from payload.clinic (its title,
  "Book a visit", is the knowledge base's, passed in), before the suggestions;
- every message stays under Telegram's 4,096-character limit; the keyboard
  goes on the last message.
"""

import html
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from faq.contract import ReplyType, Verdict
from faq.feedback import feedback_message
from faq.knowledge_base import ButtonKey

# Telegram counts the limit in UTF-16 code units after entity parsing; we
# count the HTML source (tags included), which is never shorter.
MAX_MESSAGE_CHARS = 4096
MAX_CALLBACK_DATA_BYTES = 64
# What our own buttons send back: an intent, no entities (e.g. "/ask_safety").
CALLBACK_DATA_PATTERN = re.compile(r"^/[a-z][a-z0-9_]{0,62}$")
MAX_BUTTON_TITLE_CHARS = 64
# Under an answer: more buttons than this push the answer off a phone's screen.
MAX_ANSWER_BUTTONS = 3
# Starter buttons (short topic titles) fit two to a row.
STARTER_BUTTONS_PER_ROW = 2
ASK_SOURCE_PAYLOAD = f"/{ButtonKey.ASK_SOURCE}"
# The feedback buttons' data: the only callback data with entities we accept.
FEEDBACK_CALLBACKS = {str(v): feedback_message(v) for v in Verdict}

SIREN = "\U0001f6a8"  # police car light


@dataclass(frozen=True)
class OutgoingMessage:
    """The text and reply_markup of one sendMessage call (parse_mode HTML)."""

    text: str
    reply_markup: Optional[Dict[str, Any]] = None

    def params(self, chat_id: Any) -> Dict[str, Any]:
        params: Dict[str, Any] = {
            "chat_id": chat_id,
            "text": self.text,
            "parse_mode": "HTML",
            # The booking link would otherwise unfold into a preview card.
            "link_preview_options": {"is_disabled": True},
        }
        if self.reply_markup:
            params["reply_markup"] = self.reply_markup
        return params


@dataclass(frozen=True)
class Block:
    """One paragraph of a message: plain text and the tags to wrap it in."""

    text: str
    tags: Tuple[str, ...] = ()
    prefix: str = ""  # already-HTML text before the opening tags (e.g. an emoji)
    suffix: str = ""  # already-HTML text after the closing tags


def tg_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Escapes text for parse_mode HTML: &, < and > (we write no attributes)."""
    return html.escape(text, quote=False)


def _render_block(block: Block) -> str:
    opening = "".join(f"<{t}>" for t in block.tags)
    closing = "".join(f"</{t}>" for t in reversed(block.tags))
    return f"{block.prefix}{opening}{escape(block.text)}{closing}{block.suffix}"


def _split_text(text: str, fits) -> List[str]:
    """Cuts plain text into pieces that each satisfy `fits`, preferring line
    breaks, then spaces, then a hard cut."""
    pieces: List[str] = []
    rest = text
    while rest:
        if fits(rest):
            pieces.append(rest)
            break
        # Longest prefix that fits (binary search on characters).
        low, high = 1, len(rest)
        while low < high:
            mid = (low + high + 1) // 2
            if fits(rest[:mid]):
                low = mid
            else:
                high = mid - 1
        cut = low
        for separator in ("\n", " "):
            at = rest.rfind(separator, 0, cut + 1)
            if at > cut // 2:
                cut = at
                break
        piece = rest[:cut].rstrip()
        if piece:
            pieces.append(piece)
        rest = rest[cut:].lstrip()
    return pieces


def _split_block(block: Block, limit: int) -> List[str]:
    """The rendered block, cut into pieces of at most `limit` characters; each
    piece carries the block's tags, so no message has unbalanced HTML."""
    rendered = _render_block(block)
    if tg_len(rendered) <= limit:
        return [rendered]

    def fits(piece: str) -> bool:
        return tg_len(_render_block(Block(piece, block.tags, block.prefix, block.suffix))) <= limit

    pieces = _split_text(block.text, fits)
    return [
        _render_block(
            Block(piece, block.tags, block.prefix if i == 0 else "", block.suffix if i == len(pieces) - 1 else "")
        )
        for i, piece in enumerate(pieces)
    ]


def pack(blocks: Sequence[Block], limit: int = MAX_MESSAGE_CHARS) -> List[str]:
    """Joins blocks with blank lines into as few messages as fit in `limit`."""
    messages: List[str] = []
    current = ""
    for block in blocks:
        for piece in _split_block(block, limit):
            candidate = f"{current}\n\n{piece}" if current else piece
            if tg_len(candidate) <= limit:
                current = candidate
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


def valid_callback_data(data: Any) -> bool:
    return (
        isinstance(data, str)
        and len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
        and (CALLBACK_DATA_PATTERN.match(data) is not None or data in FEEDBACK_CALLBACKS.values())
    )


def _http_url(url: Any) -> bool:
    return isinstance(url, str) and re.match(r"^https?://[^\s/$.?#][^\s]*$", url) is not None


def callback_buttons(suggestions: Any) -> List[Dict[str, str]]:
    """Inline buttons for the usable suggestions (title, payload)."""
    buttons = []
    for suggestion in suggestions or []:
        if not isinstance(suggestion, dict):
            continue
        title, data = suggestion.get("title"), suggestion.get("payload")
        if not isinstance(title, str) or not title.strip() or not valid_callback_data(data):
            continue  # Telegram would reject the whole message
        buttons.append({"text": title.strip()[:MAX_BUTTON_TITLE_CHARS], "callback_data": str(data)})
    return buttons


def shows_quotes(payload: Dict[str, Any]) -> bool:
    return any(_source_block(s) for s in payload.get("sources") or [] if isinstance(s, dict))


def keyboard(
    payload: Dict[str, Any], book_title: Optional[str] = None, feedback: Optional[Tuple[str, str]] = None
) -> Optional[Dict[str, Any]]:
    """Inline keyboard of at most MAX_ANSWER_BUTTONS, one per row (titles are
    sentences, they don't fit side by side on a phone): a handoff's booking
    button titled `book_title` (the knowledge base's) first, then the
    suggestions, without "Where does it say that?" when the message already
    quotes the article; under an answer, the `feedback` titles ("Helpful",
    "Not helpful") side by side in a last row."""
    buttons: List[Dict[str, str]] = []
    clinic = payload.get("clinic") or {}
    if book_title and payload.get("type") == "handoff" and _http_url(clinic.get("booking_url")):
        buttons.append({"text": book_title, "url": clinic["booking_url"]})
    quoted = shows_quotes(payload)
    suggested = callback_buttons(payload.get("suggestions"))
    buttons += [b for b in suggested if not (quoted and b["callback_data"] == ASK_SOURCE_PAYLOAD)]
    rows = [[b] for b in buttons[:MAX_ANSWER_BUTTONS]]
    if feedback and payload.get("type") == ReplyType.ANSWER:
        rows.append([{"text": t, "callback_data": FEEDBACK_CALLBACKS[v]} for t, v in zip(feedback, Verdict)])
    return {"inline_keyboard": rows} if rows else None


def starter_keyboard(suggestions: Sequence[Dict[str, str]]) -> Optional[Dict[str, Any]]:
    """The main topics under the greeting, STARTER_BUTTONS_PER_ROW to a row."""
    buttons = callback_buttons(suggestions)
    rows = [buttons[i : i + STARTER_BUTTONS_PER_ROW] for i in range(0, len(buttons), STARTER_BUTTONS_PER_ROW)]
    return {"inline_keyboard": rows} if rows else None


def _source_block(source: Dict[str, Any]) -> Optional[Block]:
    quote = source.get("quote")
    if not isinstance(quote, str) or not quote.strip():
        return None
    where = []
    if source.get("paragraph") is not None:
        where.append(f"paragraph {source['paragraph']}")
    if source.get("sentence") is not None:
        where.append(f"sentence {source['sentence']}")
    suffix = f"\n<i>({escape(', '.join(where))})</i>" if where else ""
    return Block(f"\u201c{quote.strip()}\u201d", ("blockquote",), suffix=suffix)


def blocks_for_payload(payload: Dict[str, Any]) -> List[Block]:
    """The paragraphs of one reply, in reading order."""
    escalation = payload.get("escalation") or "none"
    advice = payload.get("advice") if isinstance(payload.get("advice"), str) else None
    answer = payload.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        answer = None
    sources = [b for b in (_source_block(s) for s in payload.get("sources") or [] if isinstance(s, dict)) if b]

    blocks: List[Block] = []
    if advice and escalation == "emergency":
        blocks.append(Block(advice, ("b",), prefix=f"{SIREN} "))
    if answer:
        blocks.append(Block(answer))
    elif isinstance(payload.get("text"), str) and payload["text"].strip():
        # No separate answer: the full text already holds advice and quotes.
        text = payload["text"].strip()
        if advice and escalation == "emergency" and text.startswith(advice):
            text = text[len(advice) :].strip()
        return blocks + ([Block(text)] if text else [])
    if sources:
        blocks.append(Block("From the article:", ("b",)))
        blocks.extend(sources)
    if advice and escalation != "emergency":
        blocks.append(Block(advice, ("b",) if escalation == "clinic" else ("i",)))
    return blocks


def render_payload(
    payload: Dict[str, Any],
    book_title: Optional[str] = None,
    limit: int = MAX_MESSAGE_CHARS,
    feedback: Optional[Tuple[str, str]] = None,
) -> List[OutgoingMessage]:
    """The Telegram messages for one reply payload; the keyboard is on the last."""
    texts = pack(blocks_for_payload(payload), limit) or ["\u2026"]
    markup = keyboard(payload, book_title, feedback)
    return [OutgoingMessage(t, markup if i == len(texts) - 1 else None) for i, t in enumerate(texts)]


def render_text(
    text: str, buttons: Optional[List[Dict[str, Any]]] = None, limit: int = MAX_MESSAGE_CHARS
) -> List[OutgoingMessage]:
    """Plain text (a bot message without our payload), escaped and split."""
    paragraphs = [p.strip() for p in (text or "").split("\n\n") if p.strip()]
    texts = pack([Block(p) for p in paragraphs], limit)
    if not texts:
        return []
    markup = keyboard({"suggestions": buttons or []})
    return [OutgoingMessage(t, markup if i == len(texts) - 1 else None) for i, t in enumerate(texts)]
