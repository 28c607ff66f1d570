"""Importing runbooks written for people: their commands hold blanks the
reader fills in by hand, as environment variables ($NAMESPACE, "${POD}"),
as angle brackets (<namespace>), or as an assignment to fill in
(NODE_NAME='<value of instance label from alert>'). Each blank becomes a
{{ name }} parameter, placed so its value reaches the command as one word (a PARAM_
environment variable) wherever the blank stood; literal {{ braces }} (Go templates) are escaped."""
import re

from .params import PLACEHOLDER_RE
from .shell_context import shell_contexts

ENV_RE = re.compile(r"\$(?:\{([A-Z][A-Z0-9_]*)\}|([A-Z][A-Z0-9_]*)(?![A-Za-z0-9_]))")
ANGLE_RE = re.compile(r"<([A-Za-z][A-Za-z0-9_-]*(?: [A-Za-z0-9_-]+)*)>")
BLANK_ASSIGNMENT_RE = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Z][A-Z0-9_]*)=(['\"]?)<([^<>'\"\n]+)>\2[ \t]*$", re.M)
ASSIGN_RE = re.compile(r"(?:^|[;&|(]|\bexport|\blocal|\bdeclare|\breadonly)[ \t]*([A-Za-z_][A-Za-z0-9_]*)=", re.M)
LOOP_RE = re.compile(r"\b(?:for|read(?:[ \t]+-\w+)*)[ \t]+([A-Za-z_][A-Za-z0-9_]*)")
QUOTES = {"D": '"', "S": "'"}
# Variables the shell or the worker's environment provides: not parameters.
ENVIRONMENT = {
    "HOME", "PATH", "PWD", "OLDPWD", "USER", "LOGNAME", "SHELL", "HOSTNAME", "TERM", "LANG", "TMPDIR", "UID",
    "EUID", "RANDOM", "SECONDS", "LINENO", "IFS", "PPID", "BASHPID", "KUBECONFIG", "EDITOR",
}


def rewrite_blanks(body):
    """(body with {{ name }} placeholders, [(name, description)])."""
    body = backticks_to_dollar_parens(body)
    blanks = {}
    for match in BLANK_ASSIGNMENT_RE.finditer(body):
        text = match.group(3).strip()
        blanks[match.group(1)] = f"{text[0].upper()}{text[1:]}."
    body = BLANK_ASSIGNMENT_RE.sub("", body).strip("\n")
    body = re.sub(r"\n{3,}", "\n\n", body)
    assigned = (set(ASSIGN_RE.findall(body)) | set(LOOP_RE.findall(body))) - set(blanks)
    ctx = shell_contexts(body)
    edits, names = [], []
    for match in PLACEHOLDER_RE.finditer(body):
        edits.append((match.start(), match.start(), "\\"))
    for match in ENV_RE.finditer(body):
        original = match.group(1) or match.group(2)
        if original in assigned or original in ENVIRONMENT or ctx[match.start()] not in ("N", "C", "D"):
            continue
        if match.start() and body[match.start() - 1] == "\\":
            continue
        name = original.lower()
        edits.append(_placeholder_edit(body, ctx, match.start(), match.end(), name))
        names.append((name, blanks.get(original) or f"Value of ${original} in the original runbook."))
    for match in ANGLE_RE.finditer(body):
        if ctx[match.start()] not in ("N", "C", "D", "S"):
            continue
        name = re.sub(r"[^a-z0-9]+", "_", match.group(1).lower()).strip("_")
        edits.append(_placeholder_edit(body, ctx, match.start(), match.end(), name))
        names.append((name, f"Replaces <{match.group(1)}> in the original runbook."))
    for start, end, text in sorted(edits, reverse=True):
        body = body[:start] + text + body[end:]
    seen, unique = set(), []
    for name, description in names:
        if name not in seen:
            seen.add(name)
            unique.append((name, description))
    return body, unique


def _placeholder_edit(body, ctx, start, end, name):
    """(start, end, replacement) putting {{ name }} at body[start:end] as a
    bare word: inside quotes, the quotes are closed before it and reopened
    after it (the shell joins the pieces into one word)."""
    placeholder = f"{{{{ {name} }}}}"
    quote = QUOTES.get(ctx[start])
    if quote is None:
        return start, end, placeholder
    opens_here = body[start - 1] == quote and ctx[start - 1] != ctx[start]
    closes_here = end < len(body) and body[end] == quote and ctx[end] == ctx[start]
    start -= 1 if opens_here else 0
    end += 1 if closes_here else 0
    return start, end, ("" if opens_here else quote) + placeholder + ("" if closes_here else quote)


def backticks_to_dollar_parens(body):
    """`cmd` -> $(cmd): the same command substitution, in a form where a
    placeholder is an ordinary word again. Backticks with backslashes inside
    (nested or escaped) are left as they are."""
    ctx = shell_contexts(body)
    pairs, opening = [], None
    for i, c in enumerate(body):
        if c != "`":
            continue
        if opening is None and ctx[i] in ("N", "C", "D") and i + 1 < len(body) and ctx[i + 1] == "B":
            opening = i
        elif opening is not None and ctx[i] == "B":
            if "\\" not in body[opening:i]:
                pairs.append((opening, i))
            opening = None
    pieces, done = [], 0
    for start, end in pairs:
        pieces += [body[done:start], "$(", body[start + 1:end], ")"]
        done = end + 1
    return "".join(pieces) + body[done:]
