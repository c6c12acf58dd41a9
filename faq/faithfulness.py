"""Every answer says only what its quotes say (issue 15).

faq.knowledge_base checks the quotes character for character against the
article; this module checks the text written around them. Each content word
of an answer must be a word of that answer's quotes, or a word of the
reviewed paraphrase list (`paraphrase_words:` in data/knowledge_base.yml, each
with its reason). Softening or hardening a risk is the drift a clinic cannot
accept ("including, rarely, a heart attack" where the article has no
"rarely"), so the words that set a claim's strength (frequency, quantity,
certainty, modals, negation, degree, severity, numbers) are held stricter
still: they must appear in the quotes in the same form, they count even where
a stop-word list would drop them, and the paraphrase list may never hold one.

Words are compared by a small rule-based key (British/US spelling, plural and
third person, -ing and -ed), not by spaCy's lemmas: the core imports no NLP
library, and both sides go through the same rules, so the key only has to be
consistent, not a dictionary lemma. An irregular form the rules miss ("given"
for "administered") fails the check, which is the safe direction.

What it cannot see: a claim changed by leaving words out (dropping "when
administered by an experienced medical professional"), or quote words
rearranged into another claim. Those stay with the reviewer.
"""

import re
from typing import Iterable, List, Mapping, Sequence

from faq.article import split_sentences

# Function words: no claim of their own. Kept short on purpose ("after",
# "because", "without" are checked); a strength word is never one of these.
STOP_WORDS = frozenset(
    """
    a an the this that these those there here it its itself they them their you your yours i me my we us our
    who whom whose which what where when why how and or but also as of to in on at by for with from into about
    than like such be am is are was were been being have has had having do does did doing done if
    """.split()
)

# Words that set how often, how surely, how much or how badly: compared by
# their exact form, never accepted as paraphrase.
STRENGTH_WORDS = frozenset(
    """
    always never usually rarely rare seldom sometimes often occasionally frequently frequent commonly common
    typically typical generally normally normal usual unusual uncommon ever once twice
    all every each everything everyone everybody any anything anyone both either neither none nothing nobody
    only most many much more less least fewer few several some majority minority
    safe safer safest safely proven prove proves guaranteed guarantee certain certainly definitely surely
    clearly likely unlikely probably possibly possible perhaps maybe harmless dangerous effective
    can could may might must will would should shall
    not no nor without
    very extremely highly slightly mildly severely really quite fairly somewhat totally completely fully
    entirely absolutely just even too
    mild moderate severe serious minor major small tiny big huge significant slight
    permanent permanently temporary temporarily forever immediately quickly soon
    zero one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty hundred
    thousand million half double triple percent first second third
    """.split()
)

_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
_TOKEN = re.compile(r"[a-z0-9%]+(?:'[a-z]+)?")
_CONTRACTIONS = {
    "won't": ["will", "not"],
    "can't": ["can", "not"],
    "cannot": ["can", "not"],
    "shan't": ["shall", "not"],
}
# 's 're 've 'm are stop words ("it's", "you've") and are dropped.
_CLITICS = {"ll": "will", "d": "would"}
_BRITISH = (
    (re.compile(r"(?<=[a-z]{3})is(e|es|ed|ing|ation|ations)$"), r"iz\1"),  # minimise -> minimize
    (re.compile(r"(?<=[a-z]{2})ys(e|es|ed|ing)$"), r"yz\1"),  # analyse -> analyze
    (re.compile(r"our$"), "or"),  # colour -> color
)


def is_strength_word(word: str) -> bool:
    return word in STRENGTH_WORDS or any(c.isdigit() for c in word)


def tokens(text: str) -> List[str]:
    """Lowercase words, contractions spelled out ("won't" -> will, not),
    clinic placeholders ("{phone}") left out."""
    text = _PLACEHOLDER.sub(" ", text.lower().replace("\u2019", "'"))
    found: List[str] = []
    for token in _TOKEN.findall(text):
        if token in _CONTRACTIONS:
            found += _CONTRACTIONS[token]
        elif token.endswith("n't"):
            found += [token[:-3], "not"]
        else:
            word, _, clitic = token.partition("'")
            found += [word] + ([_CLITICS[clitic]] if clitic in _CLITICS else [])
    return found


def key(word: str) -> str:
    """The form two words are compared by: "swelling" and "swell", "minimise"
    and "minimized", "bruises" and "bruising" each share one."""
    if len(word) > 5:
        for pattern, american in _BRITISH:
            word = pattern.sub(american, word)
    if len(word) > 4 and word.endswith(("ies", "ied")):
        return word[:-3] + "y"
    if word.endswith("sses"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        stem = word[: -len(suffix)]
        # "ring" has no stem; "bleed" and "need" keep their "ed".
        if word.endswith(suffix) and any(c in "aeiouy" for c in stem) and not (suffix == "ed" and stem.endswith("e")):
            word = stem
            break
    if len(word) > 2 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]  # stopped -> stop, swelling and swell -> swel
    return word


def unsupported_words(sentence: str, quotes: Sequence[str], paraphrase: Iterable[str]) -> List[str]:
    """The words of `sentence` that neither its quotes nor the paraphrase list
    back, in order, each once."""
    quoted = {w for q in quotes for w in tokens(q)}
    allowed = {key(w) for w in quoted} | {key(w) for w in paraphrase}
    found: List[str] = []
    for word in tokens(sentence):
        if word in found or word in STOP_WORDS:
            continue
        backed = word in quoted if is_strength_word(word) else key(word) in allowed
        if not backed:
            found.append(word)
    return found


def unfaithful(where: str, text: str, quotes: Sequence[str], paraphrase: Iterable[str]) -> List[str]:
    """One message per word of `text` that its quotes do not say, naming
    where the text is, the word and its sentence."""
    paraphrase = list(paraphrase)
    found = []
    for sentence in split_sentences(text):
        for word in unsupported_words(sentence, quotes, paraphrase):
            why = (
                "changes how strong the claim is and is not in its quotes"
                if is_strength_word(word)
                else "is neither in its quotes nor a reviewed paraphrase word"
            )
            found.append(f"{where}: {word!r} {why}, in: {sentence}")
    return found


def paraphrase_problems(paraphrase: Mapping[str, object]) -> List[str]:
    """Each paraphrase entry is one lowercase word with a one-line reason, and
    never a word that sets a claim's strength."""
    found = []
    for word, reason in paraphrase.items():
        where = f"paraphrase word {word!r}"
        if tokens(word) != [word]:
            found.append(f"{where}: write one lowercase word")
        elif is_strength_word(word):
            found.append(f"{where}: sets a claim's strength, so it must come from the quotes, never from this list")
        elif word in STOP_WORDS:
            found.append(f"{where}: a stop word is never checked; remove it")
        if not isinstance(reason, str) or not reason.strip() or "\n" in reason.strip():
            found.append(f"{where}: needs a one-line reason")
    return found
