"""The YAML front matter of a runbook: read with yaml.safe_load, checked key
by key (with the line of each key, from yaml.compose), turned into plain
values and Parameter objects. Problems are reported, never raised."""
import re

import yaml

from .document import KINDS, PARAM_TYPES, RECOVERY_FROM, TARGET_NAMES, Parameter
from .params import convert
from .step_attributes import parse_duration

KEYS = ("title", "kind", "services", "alerts", "severity", "owner", "tags", "parameters", "targets")
PARAM_KEYS = ("name", "type", "default", "required", "pattern", "choices", "description")
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_front_matter(source, problem, *, lenient=False):
    """The values of the YAML between the --- lines (the Markdown reader
    splits it from the body; it starts on the file's line 2).
    problem(line, message[, severity])."""
    try:
        node, data = _load(source)
    except yaml.YAMLError as exc:
        problem(_error_line(exc), f"the front matter is not valid YAML: {getattr(exc, 'problem', None) or exc}")
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        problem(2, "the front matter must be a mapping of keys (title: ..., parameters: ...)")
        return {}
    return _Reader(problem, lenient, node).read(data)


# Constructs YAML notices are unfinished only where the next token starts (an
# unclosed [ or ", a key without its colon): the problem is where they began.
UNFINISHED = ("simple key", "flow sequence", "flow mapping", "quoted scalar")


def _error_line(exc):
    """The file's line of a YAML error (the YAML starts on line 2)."""
    mark, context = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
    if mark is None:
        return 1
    if context is not None and context.line < mark.line and any(
            words in (exc.context or "") for words in UNFINISHED):
        mark = context
    return mark.line + 2


def _load(source):
    """(node, data): what yaml.safe_load does, keeping the node tree for the
    line of every key (libyaml's loader when PyYAML was built with it)."""
    loader = LOADER(source)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def _key_lines(node):
    """{key: line} of a YAML mapping node (1-based, in the file), plus the
    duplicated keys yaml.safe_load would silently merge."""
    lines, duplicates = {}, []
    if isinstance(node, yaml.MappingNode):
        for key, _value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key.value)
            if name in lines:
                duplicates.append((name, key.start_mark.line + 2))
            lines.setdefault(name, key.start_mark.line + 2)
    return lines, duplicates


def _child(node, key):
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


class _Reader:
    def __init__(self, problem, lenient, node):
        self.problem, self.lenient, self.node = problem, lenient, node
        self.lines, duplicates = _key_lines(node)
        for name, line in duplicates:
            problem(line, f"front matter key {name!r} is given twice")

    def line(self, key):
        return self.lines.get(key, 2)

    def read(self, data):
        values = {}
        for key, value in data.items():
            if key not in KEYS:
                if not self.lenient:
                    self.problem(self.line(key), f"unknown front matter key {key!r} (known: {', '.join(KEYS)})")
                continue
            reader = getattr(self, f"read_{key}", None)
            values[key] = reader(value) if reader else self.text(key, value)
        return {k: v for k, v in values.items() if v is not None}

    def text(self, key, value):
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            self.problem(self.line(key), f"{key} must be text")
            return None
        return str(value)

    def read_kind(self, value):
        if value not in KINDS:
            if not self.lenient:
                self.problem(self.line("kind"), f"kind must be one of {', '.join(KINDS)}, not {value!r}")
            return None
        return value

    def names(self, key, value):
        if value is None:
            return []
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        if not isinstance(value, list) or any(isinstance(v, (dict, list)) for v in value):
            self.problem(self.line(key), f"{key} must be a list of names")
            return []
        return [str(v) for v in value if str(v).strip()]

    def read_services(self, value):
        return self.names("services", value)

    def read_alerts(self, value):
        return self.names("alerts", value)

    def read_tags(self, value):
        return self.names("tags", value)

    def read_targets(self, value):
        """{"detection": seconds, "recovery": seconds, "recovery_from": ...} of a drill."""
        if value is None:
            return None
        if not isinstance(value, dict) or not value:
            self.problem(self.line("targets"), "targets must be a mapping such as {detection: 5s, recovery: 60s}")
            return None
        targets, line = {}, self.line("targets")
        for name, given in value.items():
            if name == "recovery_from":
                if given not in RECOVERY_FROM:
                    self.problem(line, f"targets: recovery_from must be one of {', '.join(RECOVERY_FROM)}, "
                                       f"not {given!r}")
                else:
                    targets[name] = given
            elif name not in TARGET_NAMES:
                self.problem(line, f"targets: unknown target {name!r} (known: {', '.join(TARGET_NAMES)}, "
                                   "recovery_from)")
            elif isinstance(given, bool) or (seconds := parse_duration(given)) is None or seconds <= 0:
                self.problem(line, f"targets: {name} {given!r} is not a duration (write 5s, 60s or 5m)")
            else:
                targets[name] = seconds
        if "recovery_from" in targets and "recovery" not in targets:
            self.problem(line, "targets: recovery_from needs a recovery target")
        if not any(name in targets for name in TARGET_NAMES):
            return None
        targets.setdefault("recovery_from", RECOVERY_FROM[0])
        return targets

    def read_parameters(self, value):
        node = _child(self.node, "parameters")
        if value is None:
            return []
        if isinstance(value, dict):
            entries = []
            for name, spec in value.items():
                spec_node = _child(node, str(name))
                line = spec_node.start_mark.line + 2 if spec_node is not None else self.line("parameters")
                if spec is None:
                    spec = {}
                elif isinstance(spec, str) and spec in PARAM_TYPES:
                    spec = {"type": spec}
                if not isinstance(spec, dict):
                    self.problem(line, f"parameter {name!r} must be a mapping (type:, default:, ...)")
                    continue
                if "name" in spec and spec["name"] != name:
                    self.problem(line, f"parameter {name!r} has a different name: {spec['name']!r}")
                entries.append(({**spec, "name": name}, line))
            _, duplicates = _key_lines(node)
            for name, line in duplicates:
                self.problem(line, f"parameter {name!r} is declared twice")
        elif isinstance(value, list):
            entries = []
            for i, spec in enumerate(value):
                line = node.value[i].start_mark.line + 2 if isinstance(node, yaml.SequenceNode) else 2
                if not isinstance(spec, dict):
                    self.problem(line, "each parameter must be a mapping with a name (- name: service)")
                    continue
                entries.append((spec, line))
        else:
            self.problem(self.line("parameters"), "parameters must be a list or a mapping of name: spec")
            return []
        params, seen = [], set()
        for spec, line in entries:
            param = read_parameter(spec, line, self.problem)
            if param is None:
                continue
            if param.name in seen:
                if isinstance(value, list):
                    self.problem(line, f"parameter {param.name!r} is declared twice")
                continue
            seen.add(param.name)
            params.append(param)
        return params


def read_parameter(spec, line, problem):
    """A Parameter from its front-matter mapping, or None when unusable."""
    name = spec.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problem(line, f"parameter name {name!r} must be letters, digits and _ (not starting with a digit)")
        return None
    for key in spec:
        if key not in PARAM_KEYS:
            problem(line, f"parameter {name!r}: unknown key {key!r} (known: {', '.join(PARAM_KEYS)})")
    kind = spec.get("type") or ("choice" if spec.get("choices") else "string")
    if kind not in PARAM_TYPES:
        problem(line, f"parameter {name!r}: type must be one of {', '.join(PARAM_TYPES)}, not {kind!r}")
        kind = "string"
    required = spec.get("required", False)
    if not isinstance(required, bool):
        problem(line, f"parameter {name!r}: required must be true or false")
        required = False
    param = Parameter(name=name, type=kind, required=required, description=str(spec.get("description") or ""),
                      line=line)
    choices = spec.get("choices") or []
    if kind == "choice":
        if not isinstance(choices, list) or not choices or any(isinstance(c, (dict, list)) for c in choices):
            problem(line, f"parameter {name!r}: a choice needs a list of choices")
            choices = []
        param.choices = choices
    elif choices:
        problem(line, f"parameter {name!r}: choices only apply to type: choice")
    pattern = spec.get("pattern")
    if pattern is not None:
        if kind not in ("string", "secret"):
            problem(line, f"parameter {name!r}: pattern only applies to type: string or secret")
        else:
            try:
                re.compile(str(pattern))
                param.pattern = str(pattern)
            except re.error as exc:
                problem(line, f"parameter {name!r}: pattern {pattern!r} is not a valid regular expression: {exc}")
    default = spec.get("default")
    if default is not None and default != "":     # default: "" means no default
        value, error = convert(param, default)
        if error:
            problem(line, f"parameter {name!r}: the default {default!r} {error}")
        else:
            param.default = value
    return param
