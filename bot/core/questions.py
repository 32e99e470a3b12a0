"""Question-bank schema, loader and the safe arithmetic behind numeric items."""

from __future__ import annotations

import ast
import itertools
import math
import random
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.core.content import CONCEPT_STAGE, STAGE_CONCEPTS, STAGE_IDS, ContentError, load_yaml

SECTIONS: tuple[str, ...] = (
    "Intuition",
    "The math that matters",
    "In code",
    "Common pitfalls",
    "Check yourself",
)
Section = Literal["Intuition", "The math that matters", "In code", "Common pitfalls", "Check yourself"]

EXPLANATION_LIMIT = 200
MCQ_OPTION_COUNT = 4
# Draws checked at load time on top of the min/max corners of every parameter.
VALIDATION_DRAWS = 20
# Corners grow as 2**params; beyond this many only the all-min and all-max corners are checked.
MAX_CORNER_PARAMS = 8

ITEM_ID_PATTERN = re.compile(r"^(?P<concept>[a-z0-9]+(?:-[a-z0-9]+)*)\.(?P<number>\d{2})$")
PLACEHOLDER_PATTERN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
PARAM_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Options that make a guesser's life easy or depend on the other options' order.
BANNED_OPTION_PATTERN = re.compile(
    r"all of the above|none of the above|both .* and|all of these|none of these", re.IGNORECASE
)

_FUNCTIONS: dict[str, tuple[Callable[..., float], int, int]] = {
    # name: (function, min args, max args)
    "sqrt": (math.sqrt, 1, 1),
    "log": (math.log, 1, 2),
    "exp": (math.exp, 1, 1),
    "min": (min, 2, 16),
    "max": (max, 2, 16),
    "abs": (abs, 1, 1),
    "round": (round, 1, 2),
}
_BINARY_OPS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
_UNARY_OPS: dict[type[ast.unaryop], Callable[[float], float]] = {
    ast.USub: lambda a: -a,
    ast.UAdd: lambda a: a,
}


class ExpressionError(ValueError):
    """A numeric answer expression is not allowed, or cannot be evaluated for some parameters."""


# --- safe expressions -------------------------------------------------------------------------


def parse_expression(expression: str, names: frozenset[str]) -> ast.Expression:
    """Parse an answer expression, allowing only safe arithmetic.

    Allowed: numbers, the given parameter names, ``+ - * / **``, unary minus, parentheses and
    calls to ``sqrt log exp min max abs round``. Nothing is ever passed to ``eval``.

    Args:
        expression: the expression text, e.g. ``"tp / (tp + fp)"``.
        names: the parameter names the expression may use.

    Returns:
        The parsed expression tree.

    Raises:
        ExpressionError: on a syntax error or any construct outside the allowed set.
    """
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"answer expression {expression!r} is not valid arithmetic: {exc.msg}") from exc
    _check_node(tree.body, names, expression)
    return tree


def _check_node(node: ast.expr, names: frozenset[str], expression: str) -> None:
    def reject(what: str) -> ExpressionError:
        return ExpressionError(f"answer expression {expression!r}: {what} is not allowed")

    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise reject(f"the constant {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id not in names:
            params = sorted(names)
            raise ExpressionError(f"answer expression {expression!r} uses {node.id!r}; params are {params}")
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY_OPS:
            raise reject(f"the operator {type(node.op).__name__}")
        _check_node(node.left, names, expression)
        _check_node(node.right, names, expression)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY_OPS:
            raise reject(f"the operator {type(node.op).__name__}")
        _check_node(node.operand, names, expression)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            raise reject(f"calling {ast.unparse(node.func)!r}")
        if node.keywords:
            raise reject("a keyword argument")
        _, low, high = _FUNCTIONS[node.func.id]
        if not low <= len(node.args) <= high:
            raise reject(f"{node.func.id}() with {len(node.args)} arguments")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise reject("a starred argument")
            _check_node(arg, names, expression)
    else:
        raise reject(f"a {type(node).__name__} expression")


def _evaluate(node: ast.expr, values: Mapping[str, float]) -> float:
    # Everything is computed in floats: `**` then overflows instead of building huge integers.
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        return float(values[node.id])
    if isinstance(node, ast.BinOp):
        return _BINARY_OPS[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return _UNARY_OPS[type(node.op)](_evaluate(node.operand, values))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [_evaluate(arg, values) for arg in node.args]
        if node.func.id == "round" and len(args) == 2:
            return float(round(args[0], int(args[1])))
        return float(_FUNCTIONS[node.func.id][0](*args))
    raise ExpressionError(f"cannot evaluate {ast.unparse(node)!r}")  # unreachable after _check_node


def evaluate_expression(tree: ast.Expression, values: Mapping[str, float]) -> float:
    """Evaluate a tree from `parse_expression` for the given parameter values.

    Returns:
        A finite float.

    Raises:
        ExpressionError: on division by zero, overflow, a math domain error, a complex result,
            a missing parameter, or a non-finite result.
    """
    try:
        result: object = _evaluate(tree.body, values)
    except KeyError as exc:
        raise ExpressionError(f"no value for param {exc.args[0]!r}") from exc
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise ExpressionError(f"evaluation failed for {dict(values)}: {exc}") from exc
    if not isinstance(result, float) or not math.isfinite(result):
        raise ExpressionError(f"evaluation gave {result!r} for {dict(values)}; a finite number is required")
    return result


# --- item models ------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ItemBase(_Strict):
    id: str
    section: Section
    explanation: str = Field(min_length=1)
    explanation_long: str = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id_format(cls, value: str) -> str:
        if not ITEM_ID_PATTERN.match(value):
            raise ValueError(f"{value!r} must look like '<concept-id>.<two digits>', e.g. 'bias-variance.07'")
        return value

    @field_validator("explanation")
    @classmethod
    def _explanation_short(cls, value: str) -> str:
        if len(value) > EXPLANATION_LIMIT:
            raise ValueError(f"is {len(value)} characters long; the limit is {EXPLANATION_LIMIT}")
        return value

    @property
    def concept(self) -> str:
        """The concept id encoded in the item id (the part before the dot)."""
        return self.id.rsplit(".", 1)[0]


class _PromptItem(_ItemBase):
    prompt: str = Field(min_length=1)


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


class McqItem(_PromptItem):
    """A multiple-choice question: exactly four distinct options, one correct."""

    type: Literal["mcq"]
    options: tuple[str, ...]
    answer: StrictInt

    @model_validator(mode="after")
    def _options_valid(self) -> McqItem:
        if len(self.options) != MCQ_OPTION_COUNT:
            raise ValueError(f"an mcq needs exactly {MCQ_OPTION_COUNT} options, got {len(self.options)}")
        seen: dict[str, int] = {}
        for index, option in enumerate(self.options):
            if not option.strip():
                raise ValueError(f"option {index} is empty")
            if BANNED_OPTION_PATTERN.search(option):
                raise ValueError(f"option {index} {option!r} combines other options (all/none/both)")
            key = _normalise(option)
            if key in seen:
                raise ValueError(f"options {seen[key]} and {index} are identical: {option!r}")
            seen[key] = index
        if not 0 <= self.answer < MCQ_OPTION_COUNT:
            raise ValueError(f"answer {self.answer} is not an option index 0-{MCQ_OPTION_COUNT - 1}")
        return self

    @property
    def key_is_longest(self) -> bool:
        """True when the correct option is strictly longer than every other option."""
        key = len(self.options[self.answer])
        return all(len(o) < key for i, o in enumerate(self.options) if i != self.answer)


class TrueFalseItem(_PromptItem):
    """A statement the learner marks true or false."""

    type: Literal["true_false"]
    answer: StrictBool


class ParamRange(_Strict):
    """An inclusive integer range a numeric item's parameter is drawn from."""

    min: StrictInt
    max: StrictInt

    @model_validator(mode="after")
    def _ordered(self) -> ParamRange:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class NumericItem(_PromptItem):
    """A numeric question, optionally parametrised; `answer` is a number or a safe expression."""

    type: Literal["numeric"]
    params: dict[str, ParamRange] = Field(default_factory=dict)
    answer: StrictInt | StrictFloat | str
    tolerance: StrictInt | StrictFloat

    @field_validator("tolerance")
    @classmethod
    def _tolerance_positive(cls, value: float) -> float:
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"must be a positive number, got {value}")
        return value

    @model_validator(mode="after")
    def _answer_valid(self) -> NumericItem:
        bad = [name for name in self.params if not PARAM_NAME_PATTERN.match(name)]
        if bad:
            raise ValueError(f"param names must be identifiers, got {bad}")
        placeholders = set(PLACEHOLDER_PATTERN.findall(self.prompt))
        names = frozenset(self.params)
        if placeholders != names:
            raise ValueError(
                f"prompt placeholders {sorted(placeholders)} must equal the params {sorted(names)}"
                + (f" (no param for {sorted(placeholders - names)})" if placeholders - names else "")
                + (f" (unused params {sorted(names - placeholders)})" if names - placeholders else "")
            )
        if isinstance(self.answer, str):
            tree = parse_expression(self.answer, names)
            for values in _validation_points(self.params):
                evaluate_expression(tree, values)
        elif not math.isfinite(self.answer):
            raise ValueError(f"answer must be a finite number, got {self.answer}")
        return self


def _validation_points(params: Mapping[str, ParamRange]) -> Iterator[dict[str, int]]:
    names = list(params)
    if len(names) <= MAX_CORNER_PARAMS:
        for corner in itertools.product(*((params[n].min, params[n].max) for n in names)):
            yield dict(zip(names, corner, strict=True))
    else:
        yield {n: params[n].min for n in names}
        yield {n: params[n].max for n in names}
    rng = random.Random(0)  # fixed seed: loading the bank must be deterministic
    for _ in range(VALIDATION_DRAWS):
        yield {n: rng.randint(params[n].min, params[n].max) for n in names}


class FreeTextItem(_PromptItem):
    """An open question graded against a reference answer and 2-3 key points."""

    type: Literal["free_text"]
    reference: str
    key_points: tuple[str, ...]
    # Wrong claims learners typically make here; an answer that states one is a contradiction.
    misconceptions: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _reference_and_points(self) -> FreeTextItem:
        if not self.reference.strip():
            raise ValueError("reference must not be empty")
        if not 2 <= len(self.key_points) <= 3:
            raise ValueError(f"key_points needs 2-3 entries, got {len(self.key_points)}")
        if any(not point.strip() for point in self.key_points):
            raise ValueError("key_points entries must not be empty")
        if len(self.misconceptions) > 5 or any(not m.strip() or len(m) > 200 for m in self.misconceptions):
            raise ValueError("misconceptions: at most 5 non-empty statements of at most 200 characters")
        if set(self.misconceptions) & set(self.key_points):
            raise ValueError("a misconception must not repeat a key point")
        return self


class FlashcardItem(_ItemBase):
    """A recall card: `front` is shown, `back` is revealed."""

    type: Literal["flashcard"]
    front: str = Field(min_length=1)
    back: str = Field(min_length=1)
    explanation: str = ""
    explanation_long: str = ""


Item = Annotated[
    McqItem | TrueFalseItem | NumericItem | FreeTextItem | FlashcardItem,
    Field(discriminator="type"),
]


class QuestionFile(_Strict):
    """One `<stage>/<concept>.yaml` file: the items of one concept."""

    stage: str
    concept: str
    items: tuple[Item, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids_consistent(self) -> QuestionFile:
        if self.stage not in STAGE_CONCEPTS:
            raise ValueError(f"unknown stage {self.stage!r}; use one of {list(STAGE_IDS)}")
        if self.concept not in CONCEPT_STAGE:
            raise ValueError(f"unknown concept {self.concept!r}")
        if CONCEPT_STAGE[self.concept] != self.stage:
            raise ValueError(f"concept {self.concept!r} belongs to stage {CONCEPT_STAGE[self.concept]!r}")
        seen: set[str] = set()
        for item in self.items:
            if item.concept != self.concept:
                raise ValueError(f"item {item.id}: id must start with the file's concept {self.concept!r}")
            if item.id in seen:
                raise ValueError(f"item {item.id}: duplicate id")
            seen.add(item.id)
        return self


class QuestionBank(_Strict):
    """Every loaded question file, with lookups by item id and by concept."""

    files: tuple[QuestionFile, ...]
    _by_id: dict[str, Item] = PrivateAttr(default_factory=dict)
    _stage_by_id: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique_ids(self) -> QuestionBank:
        seen: set[str] = set()
        for file in self.files:
            for item in file.items:
                if item.id in seen:
                    raise ValueError(f"item {item.id}: duplicate id across the bank")
                seen.add(item.id)
        return self

    def model_post_init(self, context: object, /) -> None:
        """Index the items by id (the lookups below read these indexes)."""
        for file in self.files:
            for item in file.items:
                self._by_id[item.id] = item
                self._stage_by_id[item.id] = file.stage

    @property
    def items(self) -> tuple[Item, ...]:
        """All items, in file order."""
        return tuple(self._by_id.values())

    def item(self, item_id: str) -> Item:
        """Return the item with this id.

        Raises:
            KeyError: when no item has that id.
        """
        return self._by_id[item_id]

    def stage_of(self, item_id: str) -> str:
        """Return the stage id of the item with this id (KeyError when unknown)."""
        return self._stage_by_id[item_id]

    def for_concept(self, concept: str) -> tuple[Item, ...]:
        """All items of a concept, in file order (empty when the bank has none)."""
        return tuple(item for file in self.files if file.concept == concept for item in file.items)

    def for_stage(self, stage: str) -> tuple[Item, ...]:
        """All items of a stage, in file order (empty when the bank has none)."""
        return tuple(item for file in self.files if file.stage == stage for item in file.items)


# --- numeric items at delivery time -----------------------------------------------------------


def evaluate_numeric(item: NumericItem, params: Mapping[str, int]) -> float:
    """Compute the correct answer of a numeric item for one set of parameter values.

    Args:
        item: a validated numeric item.
        params: a value for every param of the item (as drawn by `draw_params`).

    Returns:
        The expected answer as a finite float; compare with an absolute `item.tolerance`.

    Raises:
        ExpressionError: when a param is missing or the expression cannot be evaluated.
    """
    if not isinstance(item.answer, str):
        return float(item.answer)
    tree = parse_expression(item.answer, frozenset(item.params))
    missing = sorted(set(item.params) - set(params))
    if missing:
        raise ExpressionError(f"item {item.id}: no value for params {missing}")
    return evaluate_expression(tree, {name: float(params[name]) for name in item.params})


def draw_params(item: NumericItem, rng: random.Random) -> dict[str, int]:
    """Draw one integer per param, uniformly within its inclusive [min, max] range.

    Args:
        item: the numeric item.
        rng: the injected source of randomness; the same seed gives the same draw.

    Returns:
        A new dict mapping each param name (in declaration order) to its value; empty when the item
        has no params.
    """
    return {name: rng.randint(bounds.min, bounds.max) for name, bounds in item.params.items()}


def render_prompt(item: NumericItem, params: Mapping[str, int]) -> str:
    """Substitute `{name}` placeholders in the prompt with parameter values.

    Raises:
        ExpressionError: when the prompt has a placeholder without a value.
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise ExpressionError(f"item {item.id}: no value for placeholder {{{name}}}")
        return str(params[name])

    return PLACEHOLDER_PATTERN.sub(substitute, item.prompt)


# --- loading ----------------------------------------------------------------------------------


def _item_line(text: str, item_id: str) -> int | None:
    pattern = re.compile(rf"^\s*(?:-\s*)?id:\s*[\"']?{re.escape(item_id)}[\"']?\s*(?:#.*)?$", re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _describe(exc: ValidationError, data: Mapping[str, object], text: str) -> tuple[str, int | None]:
    err = exc.errors()[0]
    loc = list(err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    raw_items = data.get("items")
    if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int) and isinstance(raw_items, list):
        raw = raw_items[loc[1]] if loc[1] < len(raw_items) else None
        item_id = raw.get("id") if isinstance(raw, dict) else None
        # loc[2] is the discriminator tag ("mcq", ...) when the item's type was recognised.
        rest = loc[3:] if len(loc) > 2 and loc[2] in _ITEM_TYPES else loc[2:]
        field = ".".join(str(p) for p in rest)
        label = f"item {item_id}" if isinstance(item_id, str) else f"item #{loc[1] + 1}"
        line = _item_line(text, item_id) if isinstance(item_id, str) else None
        return f"{label}: {field + ': ' if field else ''}{msg}", line
    field = ".".join(str(p) for p in loc)
    named = re.match(r"item (\S+): ", msg)
    return (f"{field}: {msg}" if field else msg), (_item_line(text, named.group(1)) if named else None)


_ITEM_TYPES: frozenset[str] = frozenset({"mcq", "true_false", "numeric", "free_text", "flashcard"})


def load_question_file(path: Path, root: Path) -> QuestionFile:
    """Load and validate one question file that lives at `<root>/<stage>/<concept>.yaml`.

    Raises:
        ContentError: naming the file (and the item id and line where known) on any problem.
    """
    rel = path.relative_to(root)
    if len(rel.parts) != 2 or path.suffix != ".yaml":
        raise ContentError(str(path), "question files must live at <stage-id>/<concept-id>.yaml")
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ContentError(str(path), "a question file must be a mapping with stage, concept and items", 1)
    text = path.read_text(encoding="utf-8")
    try:
        qfile = QuestionFile.model_validate(data)
    except ValidationError as exc:
        message, line = _describe(exc, data, text)
        raise ContentError(str(path), message, line) from exc
    expected_stage, expected_concept = rel.parts[0], path.stem
    if (qfile.stage, qfile.concept) != (expected_stage, expected_concept):
        raise ContentError(
            str(path),
            f"stage/concept {qfile.stage}/{qfile.concept} do not match the file path "
            f"{expected_stage}/{expected_concept}.yaml",
        )
    return qfile


def load_bank(dirs: list[Path]) -> QuestionBank:
    """Load every `<dir>/<stage>/<concept>.yaml` question file under the given directories.

    Args:
        dirs: question directories (e.g. `knowledge/questions`), read in order.

    Returns:
        The validated bank; item ids are unique across all directories.

    Raises:
        ContentError: naming the file, and where known the item id and line, for malformed YAML,
            schema violations, ids inconsistent with the path, or an id defined twice.
    """
    files: list[QuestionFile] = []
    first_seen: dict[str, Path] = {}
    for root in dirs:
        if not root.is_dir():
            raise ContentError(str(root), "question directory does not exist")
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml")):
            qfile = load_question_file(path, root)
            for item in qfile.items:
                if item.id in first_seen:
                    raise ContentError(
                        str(path),
                        f"item {item.id}: duplicate id (already defined in {first_seen[item.id]})",
                        _item_line(path.read_text(encoding="utf-8"), item.id),
                    )
                first_seen[item.id] = path
            files.append(qfile)
    return QuestionBank(files=tuple(files))


def longest_option_rates(bank: QuestionBank) -> dict[str, tuple[int, int]]:
    """Count, per stage, the MCQs whose correct option is strictly the longest.

    Returns:
        ``{stage_id: (mcqs where the key is strictly longest, all mcqs)}`` for every stage that has
        at least one MCQ, in teaching order. A rate far above 1/4 lets a "pick the longest" guesser win.
    """
    counts: dict[str, tuple[int, int]] = {}
    for stage in STAGE_IDS:
        mcqs = [item for item in bank.for_stage(stage) if isinstance(item, McqItem)]
        if mcqs:
            counts[stage] = (sum(item.key_is_longest for item in mcqs), len(mcqs))
    return counts
