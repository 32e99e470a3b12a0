"""Free-text answer grading without an LLM: key-point coverage by embeddings plus conservative guards."""

from __future__ import annotations

import functools
import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

Verdict = Literal["correct", "partial", "incorrect"]
Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors, one row per text (dot product = cosine similarity)."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


class CachingEmbedder:
    """An Embedder that remembers vectors by text, so a question's texts are embedded only once.

    Each `encode` makes at most one call to the wrapped embedder, for the texts it has not seen
    (least recently used entries are dropped beyond `max_entries`). Safe to share between threads.
    """

    def __init__(self, inner: Embedder, max_entries: int = 20_000) -> None:
        self.inner = inner
        self.max_entries = max_entries
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts`, shape (n, dim); only unseen texts reach the wrapped embedder."""
        with self._lock:
            found = {t: self._vectors[t] for t in texts if t in self._vectors}
            missing = _unique(t for t in texts if t not in found)
            if missing:
                fresh = np.asarray(self.inner.encode(missing), dtype=np.float32)
                found.update(zip(missing, fresh, strict=True))
            for text in _unique(texts):
                self._vectors[text] = found[text]
                self._vectors.move_to_end(text)
            while len(self._vectors) > self.max_entries:
                self._vectors.popitem(last=False)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[t] for t in texts])


@dataclass(frozen=True)
class GradingConfig:
    """Thresholds of the grader; similarities are cosines (about 0-1 with MiniLM).

    The defaults were tuned with all-MiniLM-L6-v2 on tests/data/grading_cases.yaml and
    grading_bank.yaml only; tests/integration/test_grading.py measures them on the held-out sets
    (tests/data/grading_holdout*.yaml), answers to the question bank's own items written without
    running or reading the grader.

    Attributes:
        min_content_words: fewer content words than this is "too short".
        stuffing_min_words: answers with fewer words are never called keyword stuffing.
        min_function_ratio: a lower share of function words (a, the, is, because, ...) means a
            list of terms without sentence structure: "keyword stuffing".
        restate_max_new_words: an answer adding at most this many content words beyond the
            question's words restates it, when it is also ...
        restate_min_question_similarity: ... at least this similar to the question.
        echo_margin: an answer this much more similar to the question than to the reference
            echoes the question instead of answering it (also "restates the question").
        off_topic_similarity: answer-reference similarity below this is off-topic.
        reference_threshold: below this answer-reference similarity, an answer that covers
            every key point is only "partial" (uncertain).
        key_point_threshold: a key point counts as covered when its coverage reaches this ...
        min_semantic: ... and its semantic match (see `Signals.semantic`) reaches this, so that
            echoing a key point's words without its meaning is not enough.
        semantic_weight: coverage = this x semantic match + (1 - this) x word-level match.
        specificity_margin: a span of the answer is evidence for a key point only if no other
            key point matches it better by more than this (relative similarities).
        ceiling_floor: matches are divided by how well the reference itself matches the key
            point, but never by less than this.
        anchor_margin: a key point is covered only if, for some single answer piece, it is the
            best-matching key point or within this of it (relative similarities); otherwise its
            semantic match is 0.
        anchor_min_words: only a piece with at least this many content words can anchor a key
            point: a fragment ("noise and all") matches every key point weakly and would
            otherwise anchor one the answer never states.
        relevance_floor: answer pieces whose best similarity to a reference clause or key point is
            below this are not evidence for any key point (neither anchor nor word match).
        partial_fraction: an answer covering at least this share of the key points, with no
            guard firing, is "partial" rather than "incorrect".
        swap_margin: a contradiction is flagged when the answer matches the key points this much
            better (mean best similarity) once an antonym pair is exchanged in them
            ("precision" <-> "recall").
        negation_similarity: an answer piece at least this similar to its closest reference
            clause or key point must not negate what that one asserts (or the reverse).
        definition_similarity: an answer piece at least this similar to its closest reference
            clause or key point must not name the other one of two terms the question contrasts.
        misconception_similarity: a span of the answer this similar to one of the item's known
            misconceptions states it, when it is also ...
        misconception_margin: ... this much closer to the misconception than to any reference
            clause or key point.
        polarity_similarity: an answer piece at least this similar to a reference clause or key
            point (and within `polarity_window` of its closest one) must not put what it says at
            the other end of a scale of `POLARITY_PAIRS` ("small" vs "larger" learning rate).
        role_margin: an answer piece about one of two terms the question contrasts is a
            contradiction when it matches the other term's description (its reference clauses and
            key points relabelled with this term's name) this much better than its own ...
        role_min_similarity: ... and at least this well.
        role_min_words: pieces and targets need this many content words besides the terms' names
            to be compared as descriptions.
        role_pair_margin: pieces about each of the two terms that both match the other's
            description better by this much are a contradiction too (both exchanged, each a little).
        distinct_anchors: each covered key point needs an anchoring piece of its own (a maximum
            matching of key points to pieces), so one clause cannot stand for two ideas.
        max_variants: at most this many antonym pairs the answer names are tried per grading.
        chunk_words: clauses longer than this (in words) are split before embedding.
        score_floor: the coverage that earns a key point no credit in `score`.
    """

    min_content_words: int = 4
    stuffing_min_words: int = 6
    min_function_ratio: float = 0.12
    restate_max_new_words: int = 2
    restate_min_question_similarity: float = 0.6
    echo_margin: float = 0.15
    off_topic_similarity: float = 0.2
    reference_threshold: float = 0.3
    key_point_threshold: float = 0.6
    semantic_weight: float = 0.35
    min_semantic: float = 0.3
    specificity_margin: float = 0.2
    anchor_margin: float = 0.1
    anchor_min_words: int = 2
    relevance_floor: float = 0.3
    ceiling_floor: float = 0.5
    partial_fraction: float = 0.5
    swap_margin: float = 0.06
    negation_similarity: float = 0.5
    definition_similarity: float = 0.5
    misconception_similarity: float = 0.7
    misconception_margin: float = 0.1
    polarity_similarity: float = 0.5
    polarity_window: float = 0.1
    role_margin: float = 0.1
    role_min_similarity: float = 0.35
    role_min_words: int = 3
    role_pair_margin: float = 0.05
    distinct_anchors: bool = True
    max_variants: int = 8
    chunk_words: int = 14
    score_floor: float = 0.3


@dataclass(frozen=True)
class GradeResult:
    """The grade of one free-text answer.

    Attributes:
        verdict: "correct", "partial" or "incorrect"; only "correct" counts as correct.
        score: 0-1 credit for key-point coverage (at most 0.3 when a guard fires).
        matched: key points the answer covers.
        missing: key points it does not cover.
        confidence: 0-1, how far the evidence lies from the decision thresholds.
        reasons: one line per guard that fired, key point missing or doubt.
        mistakes: the item's known misconceptions the answer states (for feedback).
    """

    verdict: Verdict
    score: float
    matched: tuple[str, ...]
    missing: tuple[str, ...]
    confidence: float
    reasons: tuple[str, ...] = ()
    mistakes: tuple[str, ...] = ()

    @property
    def correct(self) -> bool:
        """True only for the verdict "correct" ("partial" never counts)."""
        return self.verdict == "correct"

    def as_json(self) -> dict[str, object]:
        """A JSON-ready dict: verdict, correct, score, matched, missing, confidence, reasons, mistakes."""
        return {
            "verdict": self.verdict,
            "correct": self.correct,
            "score": round(self.score, 4),
            "matched": list(self.matched),
            "missing": list(self.missing),
            "confidence": round(self.confidence, 4),
            "reasons": list(self.reasons),
            "mistakes": list(self.mistakes),
        }


# --- words and clauses ----------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9_]+(?:'[a-z]+)?")
_ABBREVIATIONS = re.compile(r"\b(e\.g|i\.e|etc|vs|approx|cf)\.", re.IGNORECASE)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?;])\s+|\n+")
_CLAUSE_SPLIT = re.compile(
    r"\s*(?:,|:|->|=>|—|–|\s-\s|\(|\))\s*|\s+(?=(?:while|whereas|but|because|since|so|which|otherwise)\b)",
    re.IGNORECASE,
)
_LEADING_LINK = re.compile(r"^(?:(?:and|or|but|so|then|also|thus)\b[\s,]*)+", re.IGNORECASE)
FUNCTION_WORDS = frozenset(
    re.findall(
        r"\S+",
        """a about above after again against all also am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't
    down during each either else even every few for from further had has hasn't have haven't having he her
    here hers herself him himself his how however i if in instead into is isn't it it's its itself just
    let's me might more most much must my myself neither no nor not now of off on once one only or other
    otherwise our ours out over own rather same she should shouldn't since so some such than that that's
    the their theirs them themselves then there these they this those though through thus to too under
    until up upon us very was wasn't we were weren't what when where whether which while who whom whose
    why will with within without won't would wouldn't yet you your yours yourself whereas get gets got
    make makes made like basically actually really way lot lots thing things stuff""",
    )
)
# "rarely", "seldom", ... negate as well: "rarely to exactly zero" agrees with "without zeroing".
NEGATORS = frozenset(
    [
        "not",
        "no",
        "never",
        "without",
        "cannot",
        "none",
        "nothing",
        "nobody",
        "neither",
        "nor",
        "rarely",
        "seldom",
        "hardly",
        "barely",
        "scarcely",
        "avoid",
        "avoids",
        "avoiding",
    ]
)
# Contractions, also as typed without the apostrophe ("doesnt").
_NEGATED_CONTRACTION = re.compile(r"^(?:is|are|was|were|do|does|did|ca|can|wo|would|should|could|has|have|had)n'?t$")
_NOT_A_NEGATION = re.compile(r"\b(?:no matter|not only|no longer than|nothing but)\b")
# A small explicit list of antonyms and commonly swapped ML terms: an answer that matches the key
# points clearly better once a pair is exchanged states the opposite of the reference.
ANTONYM_PAIRS: tuple[tuple[str, str], ...] = (
    ("increase", "decrease"),
    ("increases", "decreases"),
    ("higher", "lower"),
    ("high", "low"),
    ("more", "less"),
    ("larger", "smaller"),
    ("before", "after"),
    ("train", "test"),
    ("training", "test"),
    ("training", "inference"),
    ("precision", "recall"),
    ("false positives", "false negatives"),
    ("overfit", "underfit"),
    ("overfits", "underfits"),
    ("overfitting", "underfitting"),
    ("dense", "sparse"),
    ("same", "opposite"),
    ("minimise", "maximise"),
    ("minimize", "maximize"),
)
# Pieces with fewer content words ("high lr", "False negative:") carry too little context to
# judge which of two contrasted terms they describe.
MIN_PIECE_WORDS = 3
# Opposite ends of a scale, each end with its word forms ("small learning rate" vs "larger learning
# rate", "labels are delayed" vs "labels arrive right away"): an answer piece that closely matches a
# reference clause or key point but puts the same thing at the other end contradicts it.
POLARITY_PAIRS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("small", "smaller", "smallest", "tiny", "low", "lower", "lowest"),
        ("large", "larger", "largest", "big", "bigger", "huge", "high", "higher", "highest"),
    ),
    (("more", "greater", "most"), ("less", "fewer", "least", "fewest")),
    (
        ("increase", "increases", "increased", "increasing", "grow", "grows", "grew", "rise", "rises"),
        ("decrease", "decreases", "decreased", "decreasing", "shrink", "shrinks", "shrank", "fall", "falls"),
    ),
    (("fast", "faster", "fastest", "quick", "quicker", "quickly"), ("slow", "slower", "slowest", "slowly")),
    (("early", "earlier", "earliest"), ("late", "later", "latest")),
    (("immediate", "immediately", "instantly", "instant", "right away"), ("delayed", "delay", "delays", "eventually")),
    (("automatic", "automatically", "automated"), ("manual", "manually", "by hand")),
    (("shared", "single", "one place"), ("separate", "separately", "independently", "twice", "duplicated")),
    (
        ("parallel", "parallelize", "parallelized", "parallelise", "parallelised", "simultaneously", "concurrently"),
        ("sequential", "sequentially", "serially", "one at a time", "one after another", "one by one"),
    ),
    (("bidirectional", "bidirectionally"), ("causal", "unidirectional", "left-to-right")),
    (("dense",), ("sparse",)),
    (("supervised",), ("unsupervised",)),
    (("labelled", "labeled"), ("unlabelled", "unlabeled")),
    (("continuous",), ("discrete",)),
    (("simple", "simpler", "simplest"), ("complex", "flexible")),
    (("overfit", "overfits", "overfitting"), ("underfit", "underfits", "underfitting")),
    (("stable",), ("unstable",)),
    (("static",), ("dynamic",)),
    (("minimize", "minimise", "minimizes", "minimises"), ("maximize", "maximise", "maximizes", "maximises")),
    (("upstream",), ("downstream",)),
    (("minority",), ("majority",)),
    (("constant", "fixed"), ("grows", "growing", "linear", "linearly")),
    (("learned", "learnt", "trained", "pretrained"), ("random", "randomly", "untrained")),
    (("inner",), ("outer",)),
    (("before",), ("after", "past", "beyond")),
)
_STEM_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "es", "ed", "s", "ly")


def words(text: str) -> list[str]:
    """Lower-case word tokens of `text` ("w/o" is read as "without", curly apostrophes as straight)."""
    return _WORD.findall(text.lower().replace("w/o", "without").replace("’", "'"))


def stem(word: str) -> str:
    """A crude stem for lexical overlap: one common suffix stripped, then at most 6 letters."""
    for suffix in _STEM_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:6]


def content_words(text: str) -> list[str]:
    """Tokens of `text` that are not function words (single letters dropped, digits kept)."""
    return [w for w in words(text) if w not in FUNCTION_WORDS and (len(w) > 1 or w.isdigit())]


def _negation_spans(text: str) -> list[list[str]]:
    """For each negation in `text`, the content words it governs (at most the next 2)."""
    lowered = _NOT_A_NEGATION.sub(" ", text.lower())
    tokens = words(lowered.replace("instead of", "instead_of").replace("rather than", "rather_than"))
    spans: list[list[str]] = []
    for i, w in enumerate(tokens):
        if w in NEGATORS or _NEGATED_CONTRACTION.match(w) or w in ("instead_of", "rather_than"):
            governed = [
                t for t in tokens[i + 1 : i + 6] if t not in FUNCTION_WORDS and not _NEGATED_CONTRACTION.match(t)
            ]
            spans.append(governed[:2])
    return spans


def is_negated(text: str) -> bool:
    """Whether `text` negates: "not", "no", "never", "without", "n't", "instead of" (idioms excluded)."""
    return bool(_negation_spans(text))


def negation_conflict(a: str, b: str) -> bool:
    """Whether exactly one of two matching statements negates what the other one asserts.

    The statement without a negation must contain every word a negation governs: "the model has
    seen the data" and "... on data the model has not seen" conflict; "rewards" and "rewards
    instead of correct labels" do not, since "correct labels" is not in the first.
    """
    spans_a, spans_b = _negation_spans(a), _negation_spans(b)
    if bool(spans_a) == bool(spans_b):
        return False
    negated, other = (spans_a, b) if spans_a else (spans_b, a)
    other_stems = {stem(w) for w in content_words(other)}
    return any(span and all(stem(w) in other_stems for w in span) for span in negated)


def sentences(text: str) -> list[str]:
    """Sentences of `text`, split after . ! ? ; and at line breaks (e.g./i.e. kept whole)."""
    protected = _ABBREVIATIONS.sub(lambda m: m.group(1), text)
    return [s.strip() for s in _SENTENCE_SPLIT.split(protected) if s.strip()]


def clauses(sentence: str) -> list[str]:
    """Clauses of one sentence, split at commas, colons, arrows, dashes, brackets and linking words."""
    parts = (_LEADING_LINK.sub("", p.strip(" .;!?")) for p in _CLAUSE_SPLIT.split(sentence) if p)
    return [p for p in parts if content_words(p)]


def clause_units(text: str) -> list[str]:
    """The clauses of `text`, a sentence of one clause standing as itself."""
    return list(_clause_units(text))


@functools.lru_cache(maxsize=4096)
def _clause_units(text: str) -> tuple[str, ...]:
    """`clause_units`, cached: a reference is split again for every answer to its question."""
    units: list[str] = []
    for sentence in sentences(text):
        parts = clauses(sentence)
        units.extend(parts if len(parts) > 1 else [sentence])
    return tuple(_unique(units))


def answer_pieces(text: str, max_words: int = 14) -> list[list[str]]:
    """The clauses of each sentence of `text`, clauses longer than `max_words` words split evenly.

    Pieces are short and of similar length, so embedding them all costs about as much as
    embedding the text once; longer spans (clause pairs, sentences, the whole text) are then
    approximated by averaging piece vectors instead of being embedded again.
    """
    out: list[list[str]] = []
    for sentence in sentences(text):
        pieces: list[str] = []
        for part in clauses(sentence) or [sentence]:
            tokens = part.split()
            n = -(-len(tokens) // max_words)
            size = -(-len(tokens) // n)
            pieces.extend(" ".join(tokens[i : i + size]) for i in range(0, len(tokens), size))
        out.append(pieces)
    return out


# --- contrasted terms -----------------------------------------------------------------------------

_CONTRAST_PATTERNS = (
    re.compile(r"\bbetween (?P<x>.+?) and (?P<y>.+?)(?:[?.,;]|$)"),
    re.compile(r"\b(?P<x>.+?) and (?P<y>.+?) differ\b"),
    re.compile(r"\b(?P<x>.+?) (?:is |are )?different (?:from|to) (?P<y>.+?)(?:[?.,;]|$)"),
    re.compile(r"\b(?P<x>.+?) or (?P<y>.+?)(?:[?.,;]|$)"),
    re.compile(r"\b(?P<x>.+?),? (?:and )?not (?:just |only )?(?P<y>.+?)(?:[?.,;]|$)"),
    re.compile(r"\b(?P<x>.+?) (?:vs|versus|rather than|instead of) (?P<y>.+?)(?:[?.,;]|$)"),
    re.compile(r"\b(?:compare|contrast) (?P<x>.+?) (?:and|with|to) (?P<y>.+?)(?:[?.,;:]|$)"),
    re.compile(r"\b(?P<x>.+?) (?:differ|differs) from (?P<y>.+?)(?:[?.,;:]|$)"),
)
_SKIPPABLE = frozenset({"a", "an", "the", "on", "in", "of", "to", "with", "just", "only"})
_ALIAS = re.compile(r"\b([a-z0-9-]+) \(([a-z0-9-]+)\)")


_GENERIC_SUBJECTS = frozenset({"model", "models", "data", "dataset", "training", "it", "this", "they", "you"})


def contrast_pairs(question: str) -> list[tuple[str, str]]:
    """Term pairs the question contrasts; see `_contrast_pairs` (cached per question)."""
    return list(_contrast_pairs(question))


@functools.lru_cache(maxsize=4096)
def _contrast_pairs(question: str) -> tuple[tuple[str, str], ...]:
    """Term pairs the question contrasts ("difference between X and Y", "X or Y", "X, not Y", ...).

    Each side is the run of content words next to the conjunction; the sides are aligned to the
    same length, and given both whole and without a shared leading word: "high bias and high
    variance" gives ("high bias", "high variance") and ("bias", "variance"), "data drift and
    concept drift" gives ("data drift", "concept drift"), "too high or too low" gives
    ("too high", "too low") and ("high", "low"), "L1 (lasso) and L2 (ridge)" gives ("l1", "l2")
    and ("lasso", "ridge").
    """
    lowered = _dehyphen(question.lower())
    aliases = dict(_ALIAS.findall(lowered))
    text = re.sub(r"\s*\([^)]*\)", "", lowered)
    pairs: list[tuple[str, str]] = []
    for pattern in _CONTRAST_PATTERNS:
        match = pattern.search(text)
        if match is None:
            continue
        left = _term_run(_WORD.findall(match.group("x"))[::-1])[::-1]
        right = _term_run(_WORD.findall(match.group("y")))
        n = min(len(left), len(right))
        if n == 0:
            continue
        if left[-1] == right[-1] and len(left) != len(right):
            # "ordinal encoding versus one-hot encoding": whole terms sharing a head noun.
            pairs.append((" ".join(left), " ".join(right)))
            if not {left[-2], right[-2]} & _GENERIC_SUBJECTS:
                pairs.append((" ".join(left[:-1]), " ".join(right[:-1])))
            continue
        a, b = left[-n:], right[:n]
        if a != b:
            pairs.append((" ".join(a), " ".join(b)))  # "false positive" / "false negative"
        while len(a) > 1 and a[0] == b[0]:
            a, b = a[1:], b[1:]
        if a == b:
            continue
        pairs.append((" ".join(a), " ".join(b)))  # "positive" / "negative"
        if len(a) == 1 and a[0] in aliases and b[0] in aliases:
            pairs.append((aliases[a[0]], aliases[b[0]]))
    return tuple(_unique_pairs(pairs))


def _term_run(tokens: Sequence[str]) -> list[str]:
    """The first run (at most 3) of content words in `tokens`; only articles may precede it."""
    run: list[str] = []
    for token in tokens:
        if token in FUNCTION_WORDS and token != "too":
            if run:
                break
            if token not in _SKIPPABLE:
                return []  # "use it instead of": no term stands next to the conjunction
            continue
        run.append(token)
        if len(run) == 3:
            break
    return run


def _dehyphen(text: str) -> str:
    """`text` with hyphens between word characters read as spaces ("one-hot" -> "one hot")."""
    return re.sub(r"(?<=\w)-(?=\w)", " ", text)


def term_pattern(terms: Iterable[str]) -> str:
    """A regex alternation of whole-word `terms`, longest first, a space also matching a hyphen."""
    ordered = sorted(terms, key=len, reverse=True)
    return r"\b(?:" + "|".join(r"[\s-]+".join(map(re.escape, t.split())) for t in ordered) + r")\b"


@functools.lru_cache(maxsize=4096)
def _term_regex(term: str) -> re.Pattern[str]:
    return re.compile(term_pattern([term]), re.IGNORECASE)


def mentions(text: str, term: str) -> bool:
    """Whether `term` occurs in `text` as whole words (case-insensitive; "one hot" matches "one-hot")."""
    return _term_regex(term).search(text) is not None


def swap_terms(text: str, a: str, b: str) -> str:
    """`text` with every whole-word `a` replaced by `b` and vice versa (a capital first letter kept)."""
    return relabel(text, {a: (0, b), b: (1, a)})


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def _unique_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for a, b in pairs:
        if (a, b) not in seen and (b, a) not in seen:
            seen.append((a, b))
    return seen


# --- measuring ------------------------------------------------------------------------------------


@dataclass
class _Batch:
    """The texts of one grading, deduplicated, to be embedded by a single `encode` call."""

    texts: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def add(self, text: str) -> int:
        if text not in self.index:
            self.index[text] = len(self.texts)
            self.texts.append(text)
        return self.index[text]

    def add_all(self, texts: Iterable[str]) -> list[int]:
        return [self.add(t) for t in texts]


@dataclass(frozen=True)
class Signals:
    """Everything the verdict is decided from, exposed for tuning and diagnostics.

    Attributes:
        n_words: word tokens in the answer.
        n_content: content words (not function words) in the answer.
        function_ratio: share of the answer's words that are function words, 0-1.
        new_words: the answer's content words whose stem is not in the question.
        sim_reference: cosine of answer and reference.
        sim_question: cosine of answer and question.
        semantic: per key point, 0-1: best cosine with a span of the answer (piece, adjacent
            pieces, sentence, whole answer) that no other key point matches clearly better,
            relative to the best cosine with the reference or one of its clauses; 0 when no
            single piece is (nearly) more about this key point than about any other.
        lexical: per key point, 0-1: weighted mean over its content words of the best cosine
            with an answer piece, relative to the same mean against the reference's clauses.
        swap_gain: the largest rise of the mean key-point similarity when an antonym pair the
            answer names is exchanged in the key points (0 when none rises).
        swap_pair: the pair that gave `swap_gain`, if any rose.
        conflicts: answer pieces that contradict the reference, described: a negation it does not
            make, the other one of two contrasted terms, a swapped description (role), the other
            end of a scale (polarity), or one of the item's known misconceptions.
        misconception: the known misconception the answer states, if any.
    """

    n_words: int
    n_content: int
    function_ratio: float
    new_words: int
    sim_reference: float
    sim_question: float
    semantic: tuple[float, ...]
    lexical: tuple[float, ...]
    swap_gain: float = 0.0
    swap_pair: tuple[str, str] | None = None
    conflicts: tuple[str, ...] = ()
    misconception: str | None = None


def question_texts(
    question: str, reference: str, key_points: Sequence[str], misconceptions: Sequence[str] = ()
) -> list[str]:
    """The texts of a grading that depend only on the question, not on the answer.

    They are the same strings for every answer to a question, so an embedder that caches by
    text (see `CachingEmbedder`) embeds them once; then only the answer's short pieces are new.
    """
    kp_words = (w for k in key_points for w in _unique(content_words(k)) or [k])
    swapped = (v for pair in swap_candidates(question, key_points) for v in swapped_key_points(key_points, pair))
    relabelled = relabelled_targets(question, reference, key_points)
    return _unique(
        [reference, question, *key_points, *clause_units(reference), *kp_words, *swapped, *relabelled, *misconceptions]
    )


# A contrast: each term, its side (0 or 1) and its counterpart on the other side.
Sides = dict[str, tuple[int, str]]


def contrast_sides(question: str) -> Sides:
    """Each term the question contrasts, with its side (0 or 1) and its counterpart on the other side.

    "high bias and high variance" gives high bias -> (0, high variance), variance -> (1, bias), ...;
    a term found on both sides is dropped.
    """
    sides: Sides = {}
    clash: set[str] = set()
    pairs = contrast_pairs(question)
    # "object detection" / "semantic segmentation" are also named by their head nouns alone.
    heads = [(a.split()[-1], b.split()[-1]) for a, b in pairs if " " in a and " " in b]
    for a, b in [*pairs, *((x, y) for x, y in heads if x != y)]:
        for term, side, other in ((a, 0, b), (b, 1, a)):
            if term in sides and sides[term][0] != side:
                clash.add(term)
            sides.setdefault(term, (side, other))
    return {t: v for t, v in sides.items() if t not in clash}


def side_of(text: str, sides: Sides) -> int | None:
    """The one side of the contrast that `text` names (None when it names neither or both)."""
    named = {side for term, (side, _) in sides.items() if mentions(text, term)}
    return named.pop() if len(named) == 1 else None


def relabel(text: str, sides: Sides) -> str:
    """`text` with every contrasted term replaced by its counterpart, in one pass (longest terms first)."""
    pattern = re.compile(term_pattern(sides), re.IGNORECASE)
    counterpart = {" ".join(_dehyphen(t).split()): other for t, (_, other) in sides.items()}

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        other = counterpart[" ".join(_dehyphen(found.lower()).split())]
        return other[:1].upper() + other[1:] if found[:1].isupper() else other

    return pattern.sub(replace, text)


def key_point_subject(key_point: str, question: str) -> str | None:
    """The term a key point is about: its first 1-3 words (longest first) that the question names.

    "Gradient descent (the optimizer) uses the gradients ..." gives "gradient descent" when the
    question names it; a leading article is skipped; generic subjects ("the model") give None.
    """
    tokens = [t.strip(".,;:()'\"") for t in key_point.lower().split()]
    while tokens and tokens[0] in _SKIPPABLE:
        tokens.pop(0)
    for n in (3, 2, 1):
        words_ = tokens[:n]
        if len(words_) < n or not all(words_) or words_[0] in FUNCTION_WORDS or words_[-1] in FUNCTION_WORDS:
            continue
        term = " ".join(words_)
        if term not in _GENERIC_SUBJECTS and content_words(term) and mentions(question, term):
            return term
    return None


def contrasts(question: str, key_points: Sequence[str]) -> list[Sides]:
    """The term contrasts of a question: the terms it contrasts, then pairs of key-point subjects.

    Two key points about different terms the question names ("Precision = ...", "Recall = ..."),
    neither naming the other's term, contrast those terms even when the question does not say
    "difference between".
    """
    found: list[Sides] = []
    question_sides = contrast_sides(question)
    if question_sides:
        found.append(question_sides)
    subjects = [key_point_subject(k, question) for k in key_points]
    for i, j in itertools.combinations(range(len(key_points)), 2):
        a, b = subjects[i], subjects[j]
        if a is None or b is None or a == b or question_sides.get(a, (0, ""))[1] == b:
            continue
        if mentions(a, b) or mentions(b, a) or mentions(key_points[i], b) or mentions(key_points[j], a):
            continue
        found.append({a: (0, b), b: (1, a)})
    return found


def relabelled_targets(question: str, reference: str, key_points: Sequence[str]) -> list[str]:
    """Reference clauses and key points that name one contrasted term, with the other term's name instead.

    "high variance = overfitting: ..." becomes "high bias = overfitting: ...": an answer piece about
    high bias that matches this better than what the reference says of high bias gives high bias
    the description of high variance. One list over every contrast of the question.
    """
    targets = _unique([*clause_units(reference), *key_points])
    return _unique(
        relabel(t, sides) for sides in contrasts(question, key_points) for t in targets if side_of(t, sides) is not None
    )


def swap_candidates(question: str, key_points: Sequence[str]) -> list[tuple[str, str]]:
    """The contrasted terms of the question and the antonym pairs that some key point names."""
    return list(_swap_candidates(question, tuple(key_points)))


@functools.lru_cache(maxsize=4096)
def _swap_candidates(question: str, key_points: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """`swap_candidates`, cached: the same for every answer to a question."""
    pairs = _unique_pairs([*_contrast_pairs(question), *ANTONYM_PAIRS])
    return tuple((a, b) for a, b in pairs if any(mentions(k, a) or mentions(k, b) for k in key_points))


def swapped_key_points(key_points: Sequence[str], pair: tuple[str, str]) -> list[str]:
    """The key points with the two terms of `pair` exchanged."""
    return [swap_terms(k, *pair) for k in key_points]


def analyse(
    question: str,
    reference: str,
    key_points: Sequence[str],
    answer: str,
    embedder: Embedder,
    config: GradingConfig,
    misconceptions: Sequence[str] = (),
) -> Signals:
    """Lexical and semantic signals of `answer`, from exactly one `embedder.encode` call."""
    tokens = words(answer)
    content = content_words(answer)
    question_stems = {stem(w) for w in content_words(question)}
    per_sentence = answer_pieces(answer, config.chunk_words) if content else []
    pieces = [p for ps in per_sentence for p in ps]
    pairs = swap_candidates(question, key_points)
    question_sides = contrast_sides(question)
    used = [(a, b) for a, b in pairs if mentions(answer, a) or mentions(answer, b)][: config.max_variants]

    batch = _Batch()
    batch.add_all(question_texts(question, reference, key_points, misconceptions))
    batch.add_all(pieces)
    vectors: Vectors = np.asarray(embedder.encode(batch.texts), dtype=np.float32)

    def rows(texts: Iterable[str]) -> Vectors:
        return vectors[[batch.index[t] for t in texts]]

    signals = Signals(
        n_words=len(tokens),
        n_content=len(content),
        function_ratio=sum(1 for w in tokens if w in FUNCTION_WORDS) / max(1, len(tokens)),
        new_words=sum(1 for w in content if stem(w) not in question_stems),
        sim_reference=0.0,
        sim_question=0.0,
        semantic=(0.0,) * len(key_points),
        lexical=(0.0,) * len(key_points),
    )
    if not pieces:
        return signals
    kp, piece_vecs = rows(key_points), rows(pieces)
    ref_clauses = clause_units(reference)
    targets = _unique([*ref_clauses, *key_points])
    weights = np.array([len(p.split()) for p in pieces], dtype=np.float32)
    groups = _span_groups([len(ps) for ps in per_sentence])
    span_vecs = np.stack([_mean(piece_vecs, weights, g) for g in groups])
    answer_vec = _mean(piece_vecs, weights, list(range(len(pieces))))
    # Relative to how well the reference itself matches each key point, so that abstract key
    # points (which any wording matches only weakly) are not held to the bar of concrete ones.
    ceiling = np.maximum((kp @ rows([reference, *ref_clauses]).T).max(axis=1), config.ceiling_floor)
    span_sims = kp @ span_vecs.T  # (key points, spans)
    best = span_sims.max(axis=1)
    semantic = _specific_coverage(span_sims / ceiling[:, None], config)
    # A key point nothing in the answer is mainly about (no piece matches it about as well as any
    # other key point) is not covered, however close the answer as a whole comes to it: one idea,
    # stated once, covers one key point.
    piece_rel = (kp @ piece_vecs.T) / ceiling[:, None]
    # Only pieces about the reference's subject count as evidence: filler ("I studied this last
    # week") would otherwise lend its words and its closest key point to the answer.
    relevant = (piece_vecs @ rows(targets).T).max(axis=1) >= config.relevance_floor
    substantial = np.array([len(content_words(p)) >= config.anchor_min_words for p in pieces]) & relevant
    nearly_best = piece_rel >= piece_rel.max(axis=0, keepdims=True) - config.anchor_margin
    edges = nearly_best & substantial
    anchored = _distinct_anchors(edges, piece_rel) if config.distinct_anchors else edges.any(axis=1)
    semantic = np.where(anchored, semantic, 0.0)
    ref_vecs = rows(ref_clauses)
    weights_of = _word_weights(question, key_points)
    lexical = np.array(
        [
            _word_coverage(
                rows(list(w)), np.array(list(w.values()), dtype=np.float32), piece_vecs[relevant], ref_vecs, config
            )
            if relevant.any()
            else 0.0
            for w in weights_of
        ]
    )
    # Exchanging a pair in the key points instead of in the answer asks the same question (does
    # the answer match the key points better with the terms swapped?), and the swapped key points
    # depend only on the question, so a cache embeds them once.
    swap_gain, swap_pair = 0.0, None
    for pair in used:
        changed = rows(swapped_key_points(key_points, pair))
        gain = float((changed @ span_vecs.T).max(axis=1).mean() - best.mean())
        if gain > swap_gain:
            swap_gain, swap_pair = gain, pair
    stated = _stated_misconception(
        pieces, groups, span_vecs, rows(targets), misconceptions, rows(misconceptions), relevant, config
    )
    return replace(
        signals,
        misconception=None if stated is None else stated[0],
        sim_reference=float(answer_vec @ rows([reference])[0]),
        sim_question=float(answer_vec @ rows([question])[0]),
        semantic=tuple(float(x) for x in semantic),
        lexical=tuple(float(x) for x in lexical),
        swap_gain=swap_gain,
        swap_pair=swap_pair,
        conflicts=(
            *_negation_conflicts(pieces, piece_vecs, targets, rows(targets), config),
            *_polarity_conflicts(pieces, piece_vecs, targets, rows(targets), config),
            *(() if stated is None else (f'states a known misconception ("{stated[0]}"): "{stated[1]}"',)),
            *_definition_conflicts(pieces, piece_vecs, targets, rows(targets), contrast_pairs(question), config),
            *(
                conflict
                for n, sides in enumerate(contrasts(question, key_points))
                for conflict in _role_conflicts(
                    per_sentence, piece_vecs, targets, rows, sides, config, inherit=n == 0 and sides == question_sides
                )
            ),
        ),
    )


def _distinct_anchors(edges: npt.NDArray[np.bool_], strength: Vectors) -> npt.NDArray[np.bool_]:
    """Key points that can each have a piece of their own among the pieces that may anchor them.

    `edges[k, p]` says piece p may anchor key point k. A maximum matching (each piece anchoring at
    most one key point) is built with augmenting paths, key points with the strongest anchor
    first, so one clause cannot stand for two ideas.
    """
    n_points, n_pieces = edges.shape
    owner = [-1] * n_pieces

    def augment(k: int, seen: set[int]) -> bool:
        for p in (int(i) for i in np.flatnonzero(edges[k])):
            if p in seen:
                continue
            seen.add(p)
            if owner[p] < 0 or augment(owner[p], seen):
                owner[p] = k
                return True
        return False

    order = sorted(range(n_points), key=lambda k: -float(np.where(edges[k], strength[k], -np.inf).max(initial=-np.inf)))
    for k in order:
        augment(k, set())
    matched = np.zeros(n_points, dtype=bool)
    matched[[k for k in owner if k >= 0]] = True
    return matched


def _word_weights(question: str, key_points: Sequence[str]) -> list[dict[str, float]]:
    """Per key point, its distinct content words weighted by how much they tell it apart.

    A word of the question (any on-topic answer repeats it) weighs 0.1, a word shared with
    another key point 0.5, any other word 1. A key point without content words is its own word.
    """
    question_stems = {stem(w) for w in content_words(question)}
    stems_of = [{stem(w) for w in content_words(k)} for k in key_points]
    out: list[dict[str, float]] = []
    for k, point in enumerate(key_points):
        others = set().union(*(st for j, st in enumerate(stems_of) if j != k))
        weights: dict[str, float] = {}
        for w in _unique(content_words(point)):
            weights[w] = 0.1 if stem(w) in question_stems else 0.5 if stem(w) in others else 1.0
        out.append(weights or {point: 1.0})
    return out


def _word_coverage(
    word_vecs: Vectors, weights: npt.NDArray[np.float32], piece_vecs: Vectors, ref_vecs: Vectors, config: GradingConfig
) -> float:
    """How well the answer echoes a key point's words, relative to how well the reference does (0-1).

    Each word scores its best cosine with any answer piece; the weighted mean over the words is
    divided by the same mean taken against the reference's clauses.
    """
    answer_match = float(weights @ (word_vecs @ piece_vecs.T).max(axis=1)) / float(weights.sum())
    reference_match = float(weights @ (word_vecs @ ref_vecs.T).max(axis=1)) / float(weights.sum())
    return min(1.0, answer_match / max(config.ceiling_floor, reference_match))


def _specific_coverage(relative: Vectors, config: GradingConfig) -> Vectors:
    """Per key point, its best relative similarity among the spans that match it (nearly) best.

    `relative` is (key points, spans). A span is evidence for a key point only when no other key
    point matches it clearly better, so one idea stated once cannot cover several key points.
    Capped at 1.
    """
    allowed = relative >= relative.max(axis=0, keepdims=True) - config.specificity_margin
    masked = np.where(allowed, relative, 0.0)
    return np.asarray(np.minimum(masked.max(axis=1), 1.0), dtype=np.float32)


def _span_groups(sentence_sizes: Sequence[int]) -> list[list[int]]:
    """Piece indices to average: each piece, adjacent pieces of a sentence, each sentence, all."""
    groups: list[list[int]] = []
    start = 0
    for size in sentence_sizes:
        idx = list(range(start, start + size))
        groups.extend([i] for i in idx)
        groups.extend([a, b] for a, b in itertools.pairwise(idx))
        if size > 2:
            groups.append(idx)
        start += size
    if len(sentence_sizes) > 1 or start > 2:
        groups.append(list(range(start)))
    return groups


def _mean(vectors: Vectors, weights: npt.NDArray[np.float32], group: Sequence[int]) -> Vectors:
    """The normalised, length-weighted mean of some rows: the vector of a span of pieces."""
    total = weights[group] @ vectors[group]
    return np.asarray(total / max(1e-6, float(np.linalg.norm(total))), dtype=np.float32)


# Each scale word form by its first word: (pair, end, form number, the form's words).
_POLARITY_FORMS: dict[str, list[tuple[int, int, int, tuple[str, ...]]]] = {}
for _pair, _ends in enumerate(POLARITY_PAIRS):
    for _end, _forms in enumerate(_ends):
        for _n, _form in enumerate(_forms):
            _parts = tuple(_form.replace("-", " ").split())
            _POLARITY_FORMS.setdefault(_parts[0], []).append((_pair, _end, _n, _parts))

PolarityEnd = tuple[int, int, frozenset[str], bool]


@functools.lru_cache(maxsize=8192)
def polarity_ends(text: str) -> tuple[PolarityEnd, ...]:
    """Each word of a `POLARITY_PAIRS` scale in `text`: (pair index, end 0 or 1, context, negated).

    The context is the stems of the content words among the 3 tokens on each side of the word;
    negated: a negation stands among the 3 tokens before it ("not immediate"). In the order of the
    scales, their ends and word forms, then of position. One pass over the tokens; cached (the
    reference's clauses come back with every answer).
    """
    tokens = words(text)
    found: list[tuple[tuple[int, int, int, int], PolarityEnd]] = []
    for i, token in enumerate(tokens):
        for pair, end, n, parts in _POLARITY_FORMS.get(token, ()):
            if tuple(tokens[i : i + len(parts)]) != parts:
                continue
            before, after = tokens[max(0, i - 3) : i], tokens[i + len(parts) : i + len(parts) + 3]
            context = frozenset(stem(w) for w in [*before, *after] if w not in FUNCTION_WORDS and len(w) > 1)
            negated = any(w in NEGATORS or _NEGATED_CONTRACTION.match(w) for w in before)
            found.append(((pair, end, n, i), (pair, end, context, negated)))
    return tuple(end_ for _, end_ in sorted(found, key=lambda f: f[0]))


def polarity_conflict(piece: str, target: str) -> str | None:
    """The scale on which `piece` says the opposite of `target` about the same thing, if any.

    `piece` names one end of a scale and not the other, `target` the other end and not the first,
    the two words share a context word, and both or neither are negated ("rewards are not
    immediate" agrees with "rewards can be delayed").
    """
    mine, theirs = polarity_ends(piece), polarity_ends(target)
    for pair, end, context, negated in mine:
        if any(p == pair and e != end for p, e, _, _ in mine):
            continue
        own_end_too = any(q == pair and f == end for q, f, _, _ in theirs)
        for p, e, other_context, other_negated in theirs:
            if p == pair and e != end and not own_end_too and negated == other_negated and context & other_context:
                return f"{POLARITY_PAIRS[pair][end][0]} / {POLARITY_PAIRS[pair][e][0]}"
    return None


def _polarity_conflicts(
    pieces: Sequence[str], piece_vecs: Vectors, targets: Sequence[str], target_vecs: Vectors, config: GradingConfig
) -> tuple[str, ...]:
    """Answer pieces that put what a closely matching reference clause or key point says at the other end of a scale.

    Not when another close reference clause or key point uses the piece's own end about the same
    thing: then the reference says both (of different subjects) and the piece may be right.
    """
    sims = piece_vecs @ target_vecs.T
    found: list[str] = []
    for p, piece in enumerate(pieces):
        near = [int(t) for t in np.flatnonzero(sims[p] >= config.polarity_similarity)]
        close = [t for t in near if sims[p, t] >= float(sims[p].max()) - config.polarity_window]
        for t in close:
            scale = polarity_conflict(piece, targets[t])
            if scale is None:
                continue
            ends = {(pair, end): context for pair, end, context, _ in polarity_ends(piece)}
            supported = any(
                (pair, end) in ends and ends[pair, end] & context
                for u in near
                for pair, end, context, _ in polarity_ends(targets[u])
            )
            if not supported:
                found.append(f'says the opposite ({scale}) of the reference: "{piece}"')
                break
    return tuple(found)


def _stated_misconception(
    pieces: Sequence[str],
    groups: Sequence[Sequence[int]],
    span_vecs: Vectors,
    target_vecs: Vectors,
    misconceptions: Sequence[str],
    misconception_vecs: Vectors,
    relevant: npt.NDArray[np.bool_],
    config: GradingConfig,
) -> tuple[str, str] | None:
    """(misconception, span): a span of the answer (a piece, two adjacent pieces, a sentence) stating one.

    A span counts when it matches one of the item's misconceptions at least
    `misconception_similarity` and better, by `misconception_margin`, than any reference clause or
    key point. Spans made only of pieces unrelated to the reference are skipped.
    """
    if not misconceptions:
        return None
    wrong = span_vecs @ misconception_vecs.T
    right = (span_vecs @ target_vecs.T).max(axis=1)
    for g, group in enumerate(groups):
        if (len(group) == len(pieces) and len(pieces) > 2) or not relevant[list(group)].any():
            continue  # the whole answer is not one claim
        m = int(wrong[g].argmax())
        if wrong[g, m] >= config.misconception_similarity and wrong[g, m] - right[g] >= config.misconception_margin:
            return misconceptions[m], " ".join(pieces[i] for i in group)
    return None


def _negation_conflicts(
    pieces: Sequence[str], piece_vecs: Vectors, targets: Sequence[str], target_vecs: Vectors, config: GradingConfig
) -> tuple[str, ...]:
    """Answer pieces that negate what their closest reference clause or key point asserts (or vice versa)."""
    sims = piece_vecs @ target_vecs.T
    found: list[str] = []
    for p, piece in enumerate(pieces):
        best = int(sims[p].argmax())
        if sims[p, best] >= config.negation_similarity and negation_conflict(piece, targets[best]):
            found.append(f'negation differs from the reference: "{piece}"')
    return tuple(found)


def _definition_conflicts(
    pieces: Sequence[str],
    piece_vecs: Vectors,
    targets: Sequence[str],
    target_vecs: Vectors,
    contrasted: Sequence[tuple[str, str]],
    config: GradingConfig,
) -> tuple[str, ...]:
    """Answer pieces that give one contrasted term the reference's description of the other.

    For the terms a question contrasts ("precision" and "recall"), a piece naming only one of
    them whose closest reference clause or key point names only the other says the opposite.
    """
    if not contrasted:
        return ()
    sims = piece_vecs @ target_vecs.T
    found: list[str] = []
    for p, piece in enumerate(pieces):
        best = int(sims[p].argmax())
        if sims[p, best] < config.definition_similarity or len(content_words(piece)) < MIN_PIECE_WORDS:
            continue
        target = targets[best]
        for a, b in contrasted:
            for x, y in ((a, b), (b, a)):
                if mentions(piece, x) and not mentions(piece, y) and mentions(target, y) and not mentions(target, x):
                    found.append(f"says '{x}' where the reference says '{y}': \"{piece}\"")
    return tuple(found)


def _role_conflicts(
    per_sentence: Sequence[Sequence[str]],
    piece_vecs: Vectors,
    targets: Sequence[str],
    rows: Callable[[Iterable[str]], Vectors],
    sides: Sides,
    config: GradingConfig,
    *,
    inherit: bool,
) -> tuple[str, ...]:
    """Answer pieces that describe one contrasted term with what the reference says of the other.

    A piece is about the side it names, or, naming neither and with `inherit`, about the side an
    earlier piece of its sentence named. It is compared with the reference clauses and key points
    of its own side and with those of the other side relabelled to its side's name ("high variance
    = overfitting" read as "high bias = overfitting"), so the term names weigh the same on both and
    only the descriptions decide. A piece clearly closer to the other side's description swaps
    them (`role_margin`); so do pieces about each side that both lean the other way by
    `role_pair_margin` (both definitions exchanged, each only a little).
    """
    if not sides:
        return ()
    owner = {t: side_of(t, sides) if _described(t, sides, config.role_min_words) else None for t in targets}
    own_targets = [[t for t in targets if owner[t] == side] for side in (0, 1)]
    if not all(own_targets):
        return ()
    relabelled = [[relabel(t, sides) for t in own] for own in own_targets]
    found: list[str] = []
    leaning: list[tuple[int, str]] = []
    index = 0
    for sentence_pieces in per_sentence:
        subject: int | None = None
        for piece in sentence_pieces:
            vec = piece_vecs[index]
            index += 1
            named = side_of(piece, sides)
            if named is not None:
                subject = named
            elif not inherit or any(mentions(piece, t) for t in sides):
                subject = None  # names both sides, or names none and nothing is inherited
            if subject is None or not _described(piece, sides, config.role_min_words):
                continue
            own = float((rows(own_targets[subject]) @ vec).max())
            alt = float((rows(relabelled[1 - subject]) @ vec).max())
            if alt < config.role_min_similarity:
                continue
            term = next(t for t, (side, _) in sides.items() if side == subject)
            if alt - own >= config.role_margin:
                found.append(f"describes '{term}' the way the reference describes the other term: \"{piece}\"")
            elif alt - own >= config.role_pair_margin:
                leaning.append((subject, f"'{term}': \"{piece}\""))
    if not found and {side for side, _ in leaning} == {0, 1}:
        found.append("both terms described the other way round: " + "; ".join(text for _, text in leaning))
    return tuple(found)


def _described(text: str, sides: Sides, min_words: int) -> bool:
    """Whether `text` says enough beyond the contrasted terms' names to be compared as a description."""
    rest = re.sub(term_pattern(sides), " ", text, flags=re.IGNORECASE)
    return len(content_words(rest)) >= min_words


# --- deciding -------------------------------------------------------------------------------------


def guards(s: Signals, config: GradingConfig) -> list[str]:
    """Reasons that rule out "correct" whatever the coverage (empty when no guard fires)."""
    if s.n_content < config.min_content_words:
        return [f"too short: {s.n_content} content words, at least {config.min_content_words} needed"]
    reasons: list[str] = []
    if s.n_words >= config.stuffing_min_words and s.function_ratio < config.min_function_ratio:
        reasons.append("keyword stuffing: a list of terms without sentence structure")
    if s.new_words <= config.restate_max_new_words and s.sim_question >= config.restate_min_question_similarity:
        reasons.append("restates the question: adds almost nothing beyond its words")
    elif s.sim_question - s.sim_reference >= config.echo_margin:
        reasons.append("restates the question: closer to the question than to the reference answer")
    if s.sim_reference < config.off_topic_similarity:
        reasons.append("off-topic: not about what the reference answer explains")
    if s.swap_pair is not None and s.swap_gain >= config.swap_margin:
        a, b = s.swap_pair
        reasons.append(f"contradiction: '{a}' and '{b}' look swapped relative to the key points")
    reasons.extend(f"contradiction: {c}" for c in s.conflicts)
    return reasons


def grade_free_text(
    question: str,
    reference: str,
    key_points: Sequence[str],
    answer: str,
    embedder: Embedder,
    *,
    config: GradingConfig = GradingConfig(),
    misconceptions: Sequence[str] = (),
) -> GradeResult:
    """Grade a free-text answer against a reference answer and its key points, conservatively.

    Pure and deterministic for a deterministic embedder: calls `embedder.encode` exactly once,
    with every text batched (reference and its clauses, question, key points, their words, their
    antonym-swapped and relabelled variants, the misconceptions, and the answer's clause pieces).
    "correct" needs every key
    point covered, enough similarity to the reference and no guard firing (too short, keyword
    stuffing, restates the question, off-topic, contradiction); an answer that covers only some
    key points, or all of them but is far from the reference as a whole, is "partial", which
    never counts as correct. The question's texts are the same for every answer, so wrapping the
    embedder in a `CachingEmbedder` leaves only the answer's pieces to embed.

    Args:
        question: the question the learner answered.
        reference: a model answer.
        key_points: the ideas a correct answer must contain (at least one).
        answer: the learner's free text.
        embedder: returns L2-normalised vectors, one row per text.
        config: thresholds.
        misconceptions: wrong claims learners typically make on this question; an answer that
            states one (see `_stated_misconception`) is a contradiction.

    Returns:
        A new GradeResult; `score` and `confidence` are in 0-1.

    Raises:
        ValueError: when `key_points` is empty.
    """
    if not key_points:
        raise ValueError("key_points must not be empty")
    signals = analyse(question, reference, key_points, answer, embedder, config, misconceptions)
    return decide(signals, key_points, config)


def decide(s: Signals, key_points: Sequence[str], config: GradingConfig) -> GradeResult:
    """The grade that `s`, the signals of an answer to a question with `key_points`, earns under `config`.

    Pure; no embedding. Coverage of a key point = `semantic_weight` x semantic + the rest x lexical.
    """
    reasons = guards(s, config)
    w = config.semantic_weight
    coverage = [w * a + (1 - w) * b for a, b in zip(s.semantic, s.lexical, strict=True)]
    covered = [
        c >= config.key_point_threshold and m >= config.min_semantic for c, m in zip(coverage, s.semantic, strict=True)
    ]
    matched = tuple(k for k, ok in zip(key_points, covered, strict=True) if ok)
    missing = tuple(k for k, ok in zip(key_points, covered, strict=True) if not ok)
    span = max(1e-6, config.key_point_threshold - config.score_floor)
    score = float(np.mean([min(1.0, max(0.0, (c - config.score_floor) / span)) for c in coverage]))
    margin = min(coverage) - config.key_point_threshold
    if reasons:
        verdict: Verdict = "incorrect"
        score = min(score, 0.3)
        confidence = 1.0 if s.n_content < config.min_content_words else 0.8
    elif not missing and s.sim_reference >= config.reference_threshold:
        verdict = "correct"
        confidence = min(1.0, 0.5 + 2.5 * margin)
    elif len(matched) >= config.partial_fraction * len(key_points):
        verdict = "partial"
        confidence = min(1.0, 0.5 + 2.5 * abs(margin))
        if not missing:
            reasons.append("uncertain: every key point matches, but the answer is not close enough to the reference")
    else:
        verdict = "incorrect"
        confidence = min(1.0, 0.5 + 2.5 * abs(margin))
    reasons.extend(f"missing key point: {k}" for k in missing)
    mistakes = () if s.misconception is None else (s.misconception,)
    return GradeResult(verdict, score, matched, missing, confidence, tuple(reasons), mistakes)
