"""The source article, split into numbered paragraphs and sentences.

Paragraph and sentence numbers in the knowledge base refer to this split, so
it is the one place that decides them: paragraphs are blocks separated by
blank lines after the title (numbered from 1), sentences end with . ! or ?
followed by whitespace and a capital letter (numbered from 1 per paragraph).
"""

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Dict, List, Tuple

from faq.settings import ARTICLE_PATH

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@dataclass(frozen=True)
class Article:
    document: str
    title: str
    paragraphs: Tuple[Tuple[str, ...], ...]

    def sentence(self, paragraph: int, sentence: int) -> str:
        """The sentence at 1-based (paragraph, sentence); KeyError if absent."""
        if not (1 <= paragraph <= len(self.paragraphs)):
            raise KeyError(f"no paragraph {paragraph}")
        sentences = self.paragraphs[paragraph - 1]
        if not (1 <= sentence <= len(sentences)):
            raise KeyError(f"no sentence {sentence} in paragraph {paragraph}")
        return sentences[sentence - 1]

    def numbered_sentences(self) -> Dict[Tuple[int, int], str]:
        return {
            (p, s): text
            for p, sentences in enumerate(self.paragraphs, start=1)
            for s, text in enumerate(sentences, start=1)
        }


def split_sentences(paragraph: str) -> List[str]:
    return [s.strip() for s in _SENTENCE_END.split(paragraph.strip()) if s.strip()]


def parse_article(text: str, document: str) -> Article:
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    title, body = blocks[0], blocks[1:]
    return Article(
        document=document,
        title=title,
        paragraphs=tuple(tuple(split_sentences(b)) for b in body),
    )


@cache
def load_article(path: Path = ARTICLE_PATH) -> Article:
    return parse_article(path.read_text(encoding="utf-8"), document=path.name)
