"""Quality gates every record passes before it enters a dataset.

1. Deduplication within a class, exact (offered tool names + user turns) and normalised (tool names as a set, user
   turns lower-cased with punctuation and extra spaces removed). Duplicates are counted, not kept.
2. Validation: every call is checked against its tool's JSON Schema with ``jsonschema`` (unknown arguments are
   errors), a negative's reply holds no call, a pair's rejected side is a well-formed call or reply that differs from
   the chosen one.
3. Leakage: no user turn equals a BFCL question and no offered tool (nearly) shares a BFCL function name.

Records failing 2 or 3 go to the quarantine list with the reason; nothing is dropped without being counted.
"""

from __future__ import annotations

from collections import Counter

from .leakage import BFCLReference, normalise_text

# The call envelope a rejected call must still follow: the error is in the content, never in the syntax.
CALL_ENVELOPE = {"type": "array", "minItems": 1, "items": {
    "type": "object", "required": ["name", "arguments"], "additionalProperties": False,
    "properties": {"name": {"type": "string", "minLength": 1}, "arguments": {"type": "object"}}}}


def _turns(rec: dict) -> list[dict]:
    return rec["messages"] if "messages" in rec else rec["prompt"]


def user_turns(rec: dict) -> list[str]:
    """The user turns of a record (of its prompt, for a pair)."""
    return [m["content"] for m in _turns(rec) if m["role"] == "user"]


def keys(rec: dict) -> tuple[tuple, tuple]:
    """(exact key, normalised key) of a record."""
    names = tuple(t["name"] for t in rec["tools"])
    joined = "\n".join(user_turns(rec))
    return (names, joined), (tuple(sorted(names)), normalise_text(joined))


def _strict(schema: dict) -> dict:
    # unknown keys are errors at every level that lists its properties (a hallucinated argument is a defect)
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if out.get("type") == "object" and isinstance(out.get("properties"), dict):
        out.setdefault("additionalProperties", False)
        out["properties"] = {k: _strict(v) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = _strict(out["items"])
    return out


_SPLITTABLE = {"type", "properties", "required", "additionalProperties", "description", "title"}


class SchemaCheck:
    """A tool's compiled ``jsonschema`` validator, with cached verdicts.

    Closed vocabularies repeat argument values far more often than whole calls, so a parameters schema made only of
    ``type``/``properties``/``required``/``additionalProperties`` is checked as an object-level part (required
    keys, no unknown key; properties unconstrained) plus one part per argument, each validated by ``jsonschema``
    once per distinct input. The two are equivalent: such a schema has no keyword that relates arguments to each
    other. Other schemas are validated whole, once per distinct arguments.
    """

    def __init__(self, cls, schema: dict):
        self.whole = cls(schema)
        props = schema.get("properties")
        self.split = set(schema) <= _SPLITTABLE and isinstance(props, dict)
        if self.split:
            self.shell = cls({**schema, "properties": {k: {} for k in props}})
            self.parts = {k: cls(v) for k, v in props.items()}
        self._cache: dict = {}

    def _ok(self, key, validator, value) -> bool:
        if key not in self._cache:
            self._cache[key] = validator.is_valid(value)
        return self._cache[key]

    def is_valid(self, args: dict) -> bool:
        """Whether ``args`` satisfies the schema."""
        if not self.split:
            return self._ok(repr(args), self.whole, args)
        if not self._ok(tuple(args), self.shell, args):
            return False
        return all(k not in self.parts or self._ok((k, repr(v)), self.parts[k], v) for k, v in args.items())

    def error(self, args: dict) -> str:
        """The most relevant error message for invalid ``args``."""
        from jsonschema.exceptions import best_match

        err = best_match(self.whole.iter_errors(args))
        where = "/".join(str(p) for p in err.absolute_path)
        return err.message + (f" (at {where})" if where else "")


class Validators:
    """Compiled schema checks, one per distinct tool schema."""

    def __init__(self):
        from jsonschema import Draft202012Validator

        self._cls = Draft202012Validator
        self._by_name: dict[str, list[tuple[dict, SchemaCheck]]] = {}
        self._envelope = Draft202012Validator(CALL_ENVELOPE)
        self._shapes: dict[tuple, bool] = {}

    def well_formed(self, calls: list) -> bool:
        """Whether ``calls`` follows ``CALL_ENVELOPE`` (validated once per distinct structure of the calls)."""
        shape = tuple((tuple(sorted(c)), type(c.get("name")).__name__, bool(c.get("name")),
                       type(c.get("arguments")).__name__) if isinstance(c, dict) else type(c).__name__ for c in calls)
        if shape not in self._shapes:
            self._shapes[shape] = self._envelope.is_valid(calls)
        return self._shapes[shape]

    def get(self, tool: dict) -> SchemaCheck:
        """Check for ``tool``'s parameters; raises ``jsonschema.SchemaError`` for an invalid schema."""
        params = tool.get("parameters") or {"type": "object", "properties": {}}
        entries = self._by_name.setdefault(tool["name"], [])
        for seen, check in entries:
            if seen is params or seen == params:
                return check
        schema = _strict(params)
        self._cls.check_schema(schema)
        check = SchemaCheck(self._cls, schema)
        entries.append((params, check))
        return check

    def schema_problem(self, tool: dict) -> str | None:
        """Why ``tool``'s parameters are not a valid JSON Schema, or None."""
        from jsonschema import SchemaError

        params = tool.get("parameters")
        if params is not None and not isinstance(params, dict):
            return f"tool {tool['name']}: parameters are {type(params).__name__}, not a JSON Schema object"
        try:
            self.get(tool)
        except SchemaError as e:
            where = "/".join(str(p) for p in e.absolute_path)
            return f"tool {tool['name']}: invalid JSON Schema ({e.message}{f' at {where}' if where else ''})"
        return None

    def call_errors(self, calls: list[dict], tools: list[dict]) -> str | None:
        """First problem with ``calls`` against the offered ``tools``, or None."""
        from jsonschema import SchemaError

        by_name = {t["name"]: t for t in tools}
        for i, call in enumerate(calls):
            tool = by_name.get(call.get("name"))
            if tool is None:
                return f"call {i}: function {call.get('name')!r} is not among the offered tools"
            args = call.get("arguments")
            try:
                check = self.get(tool)
            except SchemaError as e:
                return f"tool {tool['name']}: invalid JSON Schema ({e.message})"
            if not isinstance(args, dict):
                return f"call {i} to {tool['name']}: arguments are {type(args).__name__}, not an object"
            if not check.is_valid(args):
                return f"call {i} to {tool['name']}: {check.error(args)}"
        return None


def _calls(message: dict) -> list[dict]:
    return [tc.get("function", {}) for tc in message.get("tool_calls") or []]


ROLES = ("system", "user", "assistant", "tool")


def role_order_problem(messages: list, prompt: bool = False) -> str | None:
    """Why the turns of ``messages`` are in an order no chat can have, or None.

    A system turn only comes first; the conversation opens with a user turn; a tool result follows the assistant
    turn that called (or another result of the same turn) and there are never more results than calls; a call turn
    is answered by its results before anything else; two assistant turns never follow each other. ``prompt``: the
    messages are a pair's prompt, which must end where the assistant speaks next (a user or tool turn)."""
    if not isinstance(messages, list) or not messages:
        return "messages: not a non-empty list of turns"
    prev, open_calls = None, 0
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            role = m.get("role") if isinstance(m, dict) else type(m).__name__
            return f"messages[{i}]: unknown role {role!r} (known: {', '.join(ROLES)})"
        role = m["role"]
        if not isinstance(m.get("content", ""), str) and not (role == "assistant" and m.get("content") is None):
            return f"messages[{i}]: content is {type(m['content']).__name__}, not text"
        if role == "system" and i > 0:
            return f"messages[{i}]: a system turn after the conversation started"
        if prev in (None, "system") and role != "user" and role != "system":
            return f"messages[{i}]: the conversation opens with a {role} turn, not a user turn"
        if open_calls and role != "tool":
            return f"messages[{i}]: a {role} turn while {open_calls} call(s) of the previous turn await results"
        if role == "tool":
            if prev not in ("assistant", "tool") or (prev == "assistant" and not open_calls):
                return f"messages[{i}]: a tool result that answers no call"
            if not open_calls:
                return f"messages[{i}]: more tool results than the assistant turn made calls"
            open_calls -= 1
        if role == "assistant":
            if prev == "assistant":
                return f"messages[{i}]: two assistant turns in a row"
            calls = m.get("tool_calls") or []
            if not isinstance(calls, list):
                return f"messages[{i}]: tool_calls is {type(calls).__name__}, not a list"
            open_calls = len(calls) if i < len(messages) - 1 else 0  # the last turn's calls are the target
        prev = role
    if prompt and prev not in ("user", "tool"):
        return f"prompt ends with a {prev} turn; the assistant must speak next"
    return None


def tools_problem(tools) -> str | None:
    """Why an offered tool list is malformed (names missing, not text, or repeated), or None."""
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        return "tools: not a list of tool schemas"
    seen = set()
    for i, t in enumerate(tools):
        name = t.get("name")
        if not isinstance(name, str) or not name:
            return f"tools[{i}]: name is {name!r}, not a non-empty string"
        if name in seen:
            return f"tools[{i}]: duplicate tool name {name!r} (a call could not say which tool it means)"
        seen.add(name)
    return None


class Gate:
    """Admits records into a dataset; counts duplicates, quarantines invalid or leaking records with the reason."""

    def __init__(self, reference: BFCLReference | None = None, validate: bool = True):
        self.reference, self.validate = reference, validate
        self.validators = Validators() if validate else None
        self.seen: dict[str, set] = {}
        self.banned: set = set()  # keys of another dataset (e.g. training data, for a held-out set)
        self.counts: Counter = Counter()  # (check, class) -> records rejected
        self.quarantine: list[dict] = []

    def ban(self, exact_keys) -> None:
        """Reject records whose exact or normalised key matches one of ``exact_keys`` (``dedup_key`` tuples)."""
        for names, users in exact_keys:
            if (tuple(names), users) in self.banned:
                continue
            self.banned.add((tuple(names), users))
            self.banned.add((tuple(sorted(names)), normalise_text(users)))

    def problem(self, rec: dict) -> str | None:
        """Why ``rec`` is invalid, or None (validation only; no dedup, no leakage)."""
        cls = rec.get("class")
        if err := tools_problem(rec.get("tools")):
            return err
        v = self.validators
        for tool in rec["tools"]:  # every offered schema, called or not: the model reads them all
            if err := v.schema_problem(tool):
                return err
        if cls in ("good", "no_tool"):
            msgs = rec.get("messages") or []
            if err := role_order_problem(msgs):
                return err
            if not any(m.get("role") == "user" for m in msgs) or msgs[-1].get("role") != "assistant":
                return "messages: needs a user turn and must end with an assistant turn"
            turns = [m for m in msgs if m.get("role") == "assistant" and m.get("tool_calls")]
            if cls == "good" and not turns:
                return "good record without a call"
            if cls == "no_tool" and (msgs[-1].get("tool_calls") or not msgs[-1].get("content")):
                return "no_tool record must end with a prose reply and no call"
            for m in turns:
                if err := v.call_errors(_calls(m), rec["tools"]):
                    return err
            return None
        if cls in ("bad", "when"):
            if err := role_order_problem(rec.get("prompt"), prompt=True):
                return "prompt " + err
            chosen, rejected = (rec.get("chosen") or [None])[0], (rec.get("rejected") or [None])[0]
            if not isinstance(chosen, dict) or not isinstance(rejected, dict) or chosen == rejected:
                return "pair: chosen and rejected must be two different assistant turns"
            if chosen.get("tool_calls") and (err := v.call_errors(_calls(chosen), rec["tools"])):
                return "chosen " + err
            if not chosen.get("tool_calls") and not chosen.get("content"):
                return "pair: chosen reply is empty"
            if rejected.get("tool_calls"):
                bad = _calls(rejected)
                if not v.well_formed(bad):
                    return "rejected calls are not well-formed name/arguments objects"
                offered = {t["name"] for t in rec["tools"]}
                if unknown := [c["name"] for c in bad if c["name"] not in offered]:
                    return f"rejected call to {unknown[0]!r}, which is not offered"
            elif not rejected.get("content"):
                return "pair: rejected reply is empty"
            return None
        return f"unknown record class {cls!r}"

    def admit(self, rec: dict) -> bool:
        """True if ``rec`` enters the dataset (and is remembered for dedup); False if it is a duplicate (counted) or
        invalid or leaking (quarantined)."""
        cls = rec.get("class", "?")
        try:
            exact, norm = keys(rec)
        except (KeyError, TypeError, AttributeError, StopIteration) as e:  # the checks below say what is wrong
            reason = self._problem(rec) or f"malformed record ({type(e).__name__}: {e})"
            return self._reject(rec, cls, "invalid", reason)
        seen = self.seen.setdefault(cls, set())
        if exact in seen or exact in self.banned:
            self.counts["duplicate_exact", cls] += 1
            return False
        if norm in seen or norm in self.banned:
            self.counts["duplicate_normalised", cls] += 1
            return False
        if self.validate and (reason := self._problem(rec)):
            return self._reject(rec, cls, "invalid", reason)
        if self.reference is not None and (reason := self.reference.leak(rec, user_turns(rec))):
            return self._reject(rec, cls, "leakage", reason)
        seen.add(exact)
        seen.add(norm)
        return True

    def _problem(self, rec: dict) -> str | None:
        try:
            return self.problem(rec)
        except (KeyError, TypeError, AttributeError, IndexError) as e:  # a shape no check foresaw: still counted
            return f"malformed record ({type(e).__name__}: {e})"

    def _reject(self, rec: dict, cls: str, check: str, reason: str) -> bool:
        self.counts[check, cls] += 1
        self.quarantine.append({"check": check, "reason": reason, "class": cls, "source": rec.get("source"),
                                "id": rec.get("id"), "record": rec})
        return False

    def merge(self, other: Gate) -> None:
        """Take over ``other``'s rejection counts and quarantine (one report for several gates)."""
        self.counts.update(other.counts)
        self.quarantine += other.quarantine
        other.counts, other.quarantine = Counter(), []

    def summary(self) -> dict:
        """``{check: {class: count}}`` of every rejection so far."""
        out: dict[str, dict[str, int]] = {}
        for (check, cls), n in sorted(self.counts.items()):
            out.setdefault(check, {})[cls] = n
        return out
