"""What a patient's message is made of, before the NLU and triage read it.

`normalise(text)` undoes the ways a message can look right on a screen and
still not be the letters the NLU and the triage patterns were trained on:
"I can't bre\u200bathe" (an invisible zero-width space), "c\u0430n't" (a Cyrillic
"а"), "<b>I can't breathe</b>" (pasted HTML), "ｂｒｅａｔｈｅ" (full-width
letters). Any one of them turned an emergency into "the article doesn't
cover that". Whether a copy-paste or a phone keyboard did it, or someone
testing the filter, the patient must get the same reply as for the plain
text. In order:

1. Unicode NFKC: full-width, mathematical and circled letters, ligatures and
   no-break spaces become their plain forms;
2. format characters (category Cf: zero-width spaces and joiners, soft
   hyphens, direction marks, BOM) and lone surrogates removed, and control
   characters (NUL: PostgreSQL refuses it) other than line breaks and tabs;
   typographic apostrophes (’ ‘ ʼ) become "'", as most keyboards type it;
3. HTML: `<script>`/`<style>` elements dropped whole, other tags removed
   (only things shaped like tags: "dose < 5 units" and "<3" stay), entities
   decoded ("can&#39;t" -> "can't"), then 1 and 2 again for what the
   entities decoded to;
4. Latin look-alikes folded: a Cyrillic or Greek letter that looks like a
   Latin one, inside a word that also has Latin letters ("cаn't"), or in a
   word made only of look-alikes when the message is mostly Latin ("І can't"
   with a Cyrillic "І"), becomes the Latin letter. A Russian or Greek word in
   a Russian or Greek message is left alone.

Pure and cheap (one pass per step); the channels apply it to every message
before Rasa sees it (channels/guarded.py), so the NLU, triage and the stored
conversation all see the same clean text.
"""

import html
import re
import unicodedata
from typing import Dict

_HIDDEN_ELEMENTS = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# A tag: "<" then a letter (or "/" and a letter), no "<" or ">" inside.
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>")
_KEPT_CONTROLS = {"\n", "\t", "\r"}
# Format characters, and lone surrogates (JSON's "\ud800": not text, and no
# database can store them).
_DROPPED = ("Cf", "Cs")
_APOSTROPHES = {"\u2018": "'", "\u2019": "'", "\u201b": "'", "\u02bc": "'", "\u2032": "'"}

# Cyrillic and Greek letters that look like Latin ones (Unicode's confusables,
# the common ones). Keys are single characters.
LOOKALIKES: Dict[str, str] = {
    # Cyrillic lower case
    "а": "a", "в": "b", "е": "e", "ё": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y",
    "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "к": "k",
    "м": "m", "н": "h", "т": "t", "г": "r", "п": "n", "ь": "b",
    # Cyrillic upper case
    "А": "A", "В": "B", "Е": "E", "Ё": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ї": "I", "Ј": "J", "Ѕ": "S", "Ԛ": "Q", "Ԝ": "W",
    # Greek lower case
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "γ": "y", "η": "n",
    # Greek upper case
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}  # fmt: skip
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def strip_html(text: str) -> str:
    """Pasted or typed HTML reduced to the text a person would read."""
    if "<" in text:
        text = _HIDDEN_ELEMENTS.sub(" ", text)
        text = _COMMENT.sub(" ", text)
        text = _TAG.sub("", text)
    return html.unescape(text) if "&" in text else text


def _is_latin(char: str) -> bool:
    return "LATIN" in unicodedata.name(char, "")


def fold_lookalikes(text: str) -> str:
    """Cyrillic/Greek look-alike letters in Latin words become Latin (step 4 above)."""
    letters = [c for c in text if c.isalpha()]
    if not any(c in LOOKALIKES for c in letters):
        return text
    latin = sum(1 for c in letters if _is_latin(c))
    mostly_latin = latin * 2 > len(letters)

    def fold(match: "re.Match[str]") -> str:
        word = match.group(0)
        has_latin = any(_is_latin(c) for c in word)
        only_lookalikes = all(c in LOOKALIKES or not c.isalpha() for c in word)
        if has_latin or (mostly_latin and only_lookalikes):
            return "".join(LOOKALIKES.get(c, c) for c in word)
        return word

    return _WORD.sub(fold, text)


def _plain(text: str) -> str:
    """Steps 1 and 2: NFKC, no format or control characters, plain apostrophes."""
    return "".join(
        _APOSTROPHES.get(c, c)
        for c in unicodedata.normalize("NFKC", text)
        if unicodedata.category(c) not in _DROPPED and (unicodedata.category(c) != "Cc" or c in _KEPT_CONTROLS)
    )


def normalise(text: str) -> str:
    """The message as the NLU and triage should read it (see the module docstring)."""
    text = _plain(text)
    stripped = strip_html(text)
    if stripped != text:
        text = _plain(stripped)
    return fold_lookalikes(text).strip()  # as Rasa's UserMessage strips it
