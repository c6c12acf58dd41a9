"""Builds the spaCy pipeline Rasa's SpacyNLP loads (config.yml `model:`).

No English model package exists for spaCy 3.4 here and nothing may be
downloaded at run time, so the pipeline is built from code: a blank English
tokenizer plus the lookup lemmatizer, whose tables come from the
spacy-lookups-data package on PyPI.
"""

import sys
from pathlib import Path

import spacy


def build(target: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the lemma lookup table from spacy-lookups-data
    nlp.meta["name"] = "botox_faq_en"
    nlp.meta["description"] = "Blank English tokenizer + lookup lemmatizer (built by scripts/build_spacy_pipeline.py)"
    target.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(target)
    print(f"spaCy pipeline written to {target}: {nlp.pipe_names}")


if __name__ == "__main__":
    build(Path(sys.argv[1] if len(sys.argv) > 1 else "build/spacy-en"))
