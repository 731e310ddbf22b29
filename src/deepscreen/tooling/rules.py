"""Tooling rules as data: loading and validating rules.yaml, and the matchers rules name.

A rule is data (name, version, tool, labels, confidence, description, source) plus one
``match`` entry naming a matcher and its parameters. Matchers are the only code: each reads
one kind of fact (an embedded pickle, an ONNX signature, an archive listing...) and returns
the evidence of a match or None. Adding a tool whose files fit an existing matcher needs a
rule, not code. Rule files are validated on load; a mistake is a clear error naming the rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from . import pickles
from .context import MatchContext
from .facts import Facts
from .layout import layout_match

RULES_FILE = "rules.yaml"
SUPPORTED_VERSION = 1
_RULE_KEYS = {"name", "version", "tool", "labels", "confidence", "description", "source",
              "match", "name_hint"}
_REQUIRED = ("name", "version", "tool", "labels", "confidence", "description", "match")


class RuleError(ValueError):
    """A rules file that cannot be used, with the reason and the rule it concerns."""


@dataclass(frozen=True)
class NameHint:
    regex: re.Pattern[str]
    confidence: float


@dataclass(frozen=True)
class Rule:
    name: str
    version: str
    tool: str
    labels: tuple[str, ...]
    confidence: float
    description: str
    source: str
    matcher: str
    params: dict[str, Any]
    name_hint: NameHint | None = None
    origin: str = "built-in"

    def catalogue(self) -> dict[str, Any]:
        """The rule as `deepscreen signals` lists it."""
        return {"name": self.name, "version": self.version, "tool": self.tool,
                "labels": list(self.labels), "confidence": self.confidence,
                "matcher": self.matcher, "description": self.description,
                "source": self.source, "origin": self.origin}


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    files: tuple[str, ...]

    @property
    def version(self) -> str:
        """One string naming every rule's version, for the signal's own version."""
        return ",".join(f"{r.name}={r.version}" for r in self.rules)


Matcher = Callable[[Facts, dict[str, Any], MatchContext], dict[str, Any] | None]


def load_rules(extra: Sequence[str | Path] = (), *, builtin: bool = True) -> RuleSet:
    """The built-in rules (unless ``builtin`` is False) followed by rules from ``extra`` files."""
    rules: list[Rule] = []
    files: list[str] = []
    if builtin:
        text = resources.files(__package__).joinpath(RULES_FILE).read_text(encoding="utf-8")
        rules += parse_rules(text, "built-in")
        files.append("built-in")
    for path in extra:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleError(f"cannot read rules file {path}: {exc}") from exc
        rules += parse_rules(text, str(path))
        files.append(str(path))
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise RuleError(f"rule {rule.name!r} ({rule.origin}) is defined twice")
        seen.add(rule.name)
    return RuleSet(tuple(rules), tuple(files))


def parse_rules(text: str, origin: str) -> list[Rule]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RuleError(f"{origin}: expected a mapping with a 'rules' list")
    if data.get("version", SUPPORTED_VERSION) != SUPPORTED_VERSION:
        raise RuleError(f"{origin}: rules version {data.get('version')!r} is not supported")
    return [_parse_rule(entry, f"{origin}: rule {index + 1}", origin)
            for index, entry in enumerate(data["rules"])]


def _parse_rule(entry: Any, where: str, origin: str) -> Rule:
    if not isinstance(entry, dict):
        raise RuleError(f"{where}: must be a mapping")
    where = f"{where} ({entry.get('name', '?')})"
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        raise RuleError(f"{where}: missing {', '.join(missing)}")
    unknown = set(entry) - _RULE_KEYS
    if unknown:
        raise RuleError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    confidence = entry["confidence"]
    if not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        raise RuleError(f"{where}: confidence must be a number in [0, 1]")
    labels = entry["labels"]
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x for x in labels):
        raise RuleError(f"{where}: labels must be a non-empty list of strings")
    match = entry["match"]
    if not isinstance(match, dict) or len(match) != 1:
        raise RuleError(f"{where}: match must name exactly one matcher")
    (matcher, params), = match.items()
    if matcher not in MATCHERS:
        raise RuleError(f"{where}: unknown matcher {matcher!r}; known: {', '.join(sorted(MATCHERS))}")
    params = params or {}
    if not isinstance(params, dict):
        raise RuleError(f"{where}: parameters of {matcher} must be a mapping")
    allowed = _PARAMS[matcher]
    bad = set(params) - allowed
    if bad:
        raise RuleError(f"{where}: {matcher} does not take {', '.join(sorted(bad))}")
    hint = None
    if "name_hint" in entry:
        raw = entry["name_hint"]
        if not isinstance(raw, dict) or "regex" not in raw:
            raise RuleError(f"{where}: name_hint needs a regex")
        try:
            hint = NameHint(re.compile(str(raw["regex"])), float(raw.get("confidence", confidence)))
        except re.error as exc:
            raise RuleError(f"{where}: name_hint regex: {exc}") from exc
    params = _prepare(matcher, params, where)
    return Rule(name=str(entry["name"]), version=str(entry["version"]), tool=str(entry["tool"]),
                labels=tuple(labels), confidence=float(confidence),
                description=" ".join(str(entry["description"]).split()),
                source=" ".join(str(entry.get("source", "")).split()), matcher=matcher,
                params=params, name_hint=hint, origin=origin)


def _prepare(matcher: str, params: dict[str, Any], where: str) -> dict[str, Any]:
    """Compile what can be compiled once (regexes, hash sets) and check value types."""
    params = dict(params)
    known = _LOCATIONS.get(matcher)
    if known is not None:
        places = params.get("in", [])
        if not isinstance(places, list) or set(places) - known:
            raise RuleError(f"{where}: {matcher} 'in' must list places among {', '.join(sorted(known))}")
    try:
        if matcher == "pickle" and "key_pattern" in params:
            params["key_pattern"] = dict(params["key_pattern"])
            params["key_pattern"]["regex"] = re.compile(params["key_pattern"]["regex"])
        if matcher == "text":
            params["head_regex"] = re.compile(params["head_regex"], re.MULTILINE)
        if matcher == "sha256":
            files = params.get("files") or []
            table = {}
            for item in files:
                digest = str(item["sha256"]).lower()
                if not re.fullmatch(r"[0-9a-f]{64}", digest):
                    raise RuleError(f"{where}: {digest!r} is not a SHA-256")
                table[digest] = {k: v for k, v in item.items() if k != "sha256"}
            params["table"] = table
        if matcher == "archive":
            for group in params.get("groups", []):
                if not {"name", "pattern"} <= set(group):
                    raise RuleError(f"{where}: every archive group needs a name and a pattern")
    except (KeyError, TypeError, re.error) as exc:
        raise RuleError(f"{where}: bad {matcher} parameters: {exc}") from exc
    return params


# --- matchers --------------------------------------------------------------------------------

def _keys_check(keys: Sequence[str], params: dict[str, Any]) -> list[str] | None:
    """The listed keys found, or None when keys_all / keys_any fail."""
    present = set(keys)
    found = [k for k in params.get("keys_all", []) if k in present]
    if len(found) < len(params.get("keys_all", [])):
        return None
    if "keys_any" in params:
        any_found = [k for k in params["keys_any"] if k in present]
        if len(any_found) < int(params.get("keys_any_min", 1)):
            return None
        found += any_found
    return found


def _prefix_hits(keys: Sequence[str], prefixes: Sequence[str]) -> list[str]:
    return [p for p in prefixes if any(k.startswith(p) for k in keys)]


def _mapping_candidates(root: Any, params: dict[str, Any]) -> list[tuple[str | None, dict[Any, Any]]]:
    form = params.get("root", "dict")
    if form == "list-of-dicts":
        if isinstance(root, list) and root:
            first = pickles.as_mapping(root[0])
            return [("[0]", first)] if first is not None else []
        return []
    mapping = pickles.as_mapping(root)
    if mapping is None:
        return []
    found: list[tuple[str | None, dict[Any, Any]]] = [(None, mapping)]
    for key in params.get("under", []):
        inner = pickles.as_mapping(mapping.get(key))
        if inner is not None:
            found.append((key, inner))
    return found


def match_pickle(facts: Facts, params: dict[str, Any], ctx: MatchContext) -> dict[str, Any] | None:
    for where in params.get("in", list(facts.pickles)):
        scan = facts.pickles.get(where)
        if scan is None:
            continue
        for under, mapping in _mapping_candidates(scan.root, params):
            evidence = _match_mapping(mapping, params)
            if evidence is None:
                continue
            evidence = {"in": where, **({"under": under} if under else {}), **evidence}
            if isinstance(scan.root, list):
                evidence["records"] = len(scan.root)
            if scan.truncated:
                evidence["truncated"] = True
            return evidence
    return None


def _match_mapping(mapping: dict[Any, Any], params: dict[str, Any]) -> dict[str, Any] | None:
    keys = pickles.string_keys(mapping)
    if not keys:
        return None
    found = _keys_check(keys, params)
    if found is None:
        return None
    evidence: dict[str, Any] = {"key_count": len(mapping), "keys": keys[:12]}
    if found:
        evidence["matched_keys"] = found
    if "key_pattern" in params:
        spec = params["key_pattern"]
        fitting = [k for k in keys if spec["regex"].search(k)]
        if len(fitting) < int(spec.get("min_count", 1)) or \
                len(fitting) < float(spec.get("min_fraction", 0)) * len(keys):
            return None
        evidence["keys_fitting_pattern"] = f"{len(fitting)} of {len(keys)}"
    if "key_prefixes" in params:
        spec = params["key_prefixes"]
        hits = _prefix_hits(keys, spec.get("any", []))
        if len(hits) < int(spec.get("min", 1)):
            return None
        evidence["matched_prefixes"] = hits
    if "key_prefixes_all" in params:
        hits = _prefix_hits(keys, params["key_prefixes_all"])
        if len(hits) < len(params["key_prefixes_all"]):
            return None
        evidence.setdefault("matched_prefixes", []).extend(hits)
    values = list(mapping.values())
    if "values" in params:
        spec = params["values"]
        of_kind = sum(1 for v in values if pickles.kind_of(v) == spec["kind"])
        if of_kind < float(spec.get("min_fraction", 1.0)) * len(values):
            return None
        evidence["values_of_kind"] = f"{of_kind} of {len(values)} are {spec['kind']}"
    shapes = {str(k)[:100]: list(shape) for k, v in list(mapping.items())[:200]
              if (shape := pickles.array_shape(v)) is not None}
    if shapes:
        evidence["array_shapes"] = dict(list(shapes.items())[:4])
    shown = {k: pickles.plain(mapping[k]) for k in params.get("show", []) if k in mapping}
    if shown:
        evidence["values"] = shown
    if "landmarks" in mapping and isinstance(mapping["landmarks"], list):
        evidence["landmark_points"] = len(mapping["landmarks"])
    return evidence


def match_literal(facts: Facts, params: dict[str, Any], ctx: MatchContext) -> dict[str, Any] | None:
    for where in params.get("in", list(facts.literals)):
        literal = facts.literals.get(where)
        if literal is None or not literal.is_dict:
            continue
        found = _keys_check(list(literal.top), params)
        if found is None:
            continue
        nested_found = {parent: [k for k in keys if k in literal.nested(parent)]
                        for parent, keys in params.get("nested_any", {}).items()}
        if sum(len(v) for v in nested_found.values()) < int(params.get("nested_any_min", 0)):
            continue
        evidence: dict[str, Any] = {"in": where, "keys": list(literal.top)[:12], "matched_keys": found}
        if any(nested_found.values()):
            evidence["nested_keys"] = {k: v for k, v in nested_found.items() if v}
        shown = {f"{parent}.{k}": literal.nested(parent)[k]
                 for parent, keys in params.get("show", {}).items()
                 for k in keys if k in literal.nested(parent)}
        if shown:
            evidence["values"] = shown
        return evidence
    return None


def match_json(facts: Facts, params: dict[str, Any], ctx: MatchContext) -> dict[str, Any] | None:
    for where in params.get("in", list(facts.jsons)):
        value = facts.jsons.get(where)
        if not isinstance(value, dict):
            continue
        keys = [k for k in value if isinstance(k, str)]
        found = _keys_check(keys, params)
        if found is None:
            continue
        shown = {k: pickles.plain(value[k]) for k in params.get("show", []) if k in value}
        return {"in": where, "keys": keys[:12], "matched_keys": found,
                **({"values": shown} if shown else {})}
    return None


def _shape_fits(actual: tuple[int | str, ...] | None, spec: Sequence[Any],
                bound: dict[str, int]) -> bool:
    if actual is None or len(actual) != len(spec):
        return False
    for have, want in zip(actual, spec, strict=True):
        if want == "*":
            continue
        if isinstance(want, int):
            if have != want:
                return False
        elif isinstance(want, str):  # a variable: the same letter must be the same size
            if not isinstance(have, int):
                return False
            if bound.setdefault(want, have) != have:
                return False
        else:
            return False
    return True


def match_onnx(facts: Facts, params: dict[str, Any], ctx: MatchContext) -> dict[str, Any] | None:
    sig = facts.onnx
    if sig is None:
        return None
    inputs = sig.inputs
    evidence: dict[str, Any] = {"inputs": [v.to_dict() for v in inputs][:8],
                                "outputs": [v.name for v in sig.outputs][:8]}
    specs = params.get("inputs", [])
    if params.get("inputs_exact") and len(inputs) != len(specs):
        return None
    bound: dict[str, int] = {}
    used: set[int] = set()
    for spec in specs:
        for index, value in enumerate(inputs):
            if index in used or (spec["name"] != "*" and value.name != spec["name"]):
                continue
            shapes = spec.get("shape_any") or ([spec["shape"]] if "shape" in spec else [None])
            trial = dict(bound)
            if any(s is None or _shape_fits(value.shape, s, trial) for s in shapes):
                bound = trial
                used.add(index)
                break
        else:
            return None
    sizes = params.get("square_sizes")
    if sizes and any(v not in sizes for v in bound.values()):
        return None
    names = {v.name for v in inputs}
    if "inputs_any" in params and not names & set(params["inputs_any"]):
        return None
    outputs = [v.name for v in sig.outputs]
    if "outputs_count" in params and len(outputs) != int(params["outputs_count"]):
        return None
    if "output_names_all" in params and not set(params["output_names_all"]) <= set(outputs):
        return None
    if "last_initializer_dims" in params:
        last = sig.last_initializer
        if last is None or list(last.dims) != list(params["last_initializer_dims"]):
            return None
        evidence["last_initializer"] = {"name": last.name, "dims": list(last.dims),
                                        "type": last.data_type}
    if "initializer_prefixes" in params:
        spec = params["initializer_prefixes"]
        hits = _prefix_hits(sorted(sig.initializer_names), spec.get("any", []))
        if len(hits) < int(spec.get("min", 1)):
            return None
        evidence["matched_initializer_prefixes"] = hits
    return evidence


def match_keras(facts: Facts, params: dict[str, Any], ctx: MatchContext) -> dict[str, Any] | None:
    layers = facts.keras_layers
    if not layers:
        return None
    if not set(params.get("layers_all", [])) <= layers:
        return None
    any_found = [n for n in params.get("layers_any", []) if n in layers]
    if len(any_found) < int(params.get("layers_any_min", 0)):
        return None
    return {"format": facts.format, "layers_matched": list(params.get("layers_all", [])) + any_found,
            "layer_names": len(layers)}


def match_text(facts: Facts, params: dict[str, Any], ctx: MatchContext) -> dict[str, Any] | None:
    if facts.text_head is None:
        return None
    found = params["head_regex"].search(facts.text_head)
    if found is None:
        return None
    return {"matched_text": found.group(0)[:300]}


def match_archive(facts: Facts, params: dict[str, Any], ctx: MatchContext) -> dict[str, Any] | None:
    if not facts.listing:
        return None
    found = layout_match(facts.listing, params.get("groups", []), int(params.get("min_groups", 1)),
                         params.get("required_any", ()))
    if found is None:
        return None
    return {"members": len(facts.listing), "listing_from": facts.listing_source, **found}


def match_faceset(facts: Facts, params: dict[str, Any], ctx: MatchContext) -> dict[str, Any] | None:
    if not facts.listing or not ctx.faceset_enabled:
        return None
    from .faceset import judge_faceset  # imports PIL/numpy only when an archive gets here
    return judge_faceset(facts, params, ctx)


def match_sha256(facts: Facts, params: dict[str, Any], ctx: MatchContext) -> dict[str, Any] | None:
    if not facts.sha256:
        return None
    entry = params["table"].get(facts.sha256.lower())
    if entry is None:
        return None
    return {"sha256": facts.sha256.lower(), **entry}


def match_unsafe_pickle(facts: Facts, params: dict[str, Any], ctx: MatchContext) -> dict[str, Any] | None:
    unsafe = {where: scan.unsafe_globals for where, scan in facts.pickles.items() if scan.unsafe_globals}
    if not unsafe:
        return None
    return {"unsafe_globals": unsafe,
            "note": "read as opcodes only: nothing in the pickle was imported or run"}


# Where facts of each kind are found (facts.py names them when it reads a file).
_LOCATIONS = {"pickle": {"jpeg-app15", "png-fcwp", "file", "zlib", "dfl-pak", "torch"},
              "literal": {"png-itxt-faceswap", "tiff-description"},
              "json": {"file"}}

MATCHERS: dict[str, Matcher] = {
    "pickle": match_pickle, "literal": match_literal, "json": match_json, "onnx": match_onnx,
    "keras": match_keras, "text": match_text, "archive": match_archive,
    "faceset": match_faceset, "sha256": match_sha256, "unsafe_pickle": match_unsafe_pickle,
}
_PARAMS: dict[str, set[str]] = {
    "pickle": {"in", "root", "under", "keys_all", "keys_any", "keys_any_min", "key_pattern",
               "key_prefixes", "key_prefixes_all", "values", "show"},
    "literal": {"in", "keys_all", "keys_any", "keys_any_min", "nested_any", "nested_any_min", "show"},
    "json": {"in", "keys_all", "keys_any", "keys_any_min", "show"},
    "onnx": {"inputs", "inputs_exact", "inputs_any", "outputs_count", "output_names_all",
             "last_initializer_dims", "initializer_prefixes", "square_sizes"},
    "keras": {"layers_all", "layers_any", "layers_any_min"},
    "text": {"head_regex"},
    "archive": {"groups", "min_groups", "required_any"},
    "faceset": {"min_images", "sample", "detect_faces", "min_square", "min_single_face",
                "max_eye_spread", "max_eye_distance_cv", "min_naming"},
    "sha256": {"files"},
    "unsafe_pickle": set(),
}
