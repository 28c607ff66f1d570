"""The quoting context of every character of a shell command (plain word,
inside quotes, $(...), backticks, arithmetic, a here-document, a comment):
a small scanner shared by the renderer, which writes a parameter reference
to suit its context, the linter (shell_commands.py) and the importer."""
import re

WORD_START = " \t\n;|&(){"
HEREDOC_RE = re.compile(r"<<(-?)[ \t]*(['\"]?)([A-Za-z0-9_]+)\2")


def shell_contexts(body):
    """The quoting context of every character of a shell command: N (plain
    words), C (inside $(...), plain words again), D (double quotes), S
    (single quotes), E ($'...'), B (backticks), P (${...}), A (arithmetic),
    T ([[ ... ]]), H (a here-document) or # (a comment). A small scanner, not
    a full shell parser: where it is unsure it reports the more restrictive
    context."""
    n = len(body)
    ctx = ["N"] * n
    stack = [["N", 0]]       # [context, nesting depth of parentheses/braces]
    heredocs = []            # delimiters waiting for the end of the current line
    i = 0
    while i < n:
        top = stack[-1]
        state = top[0]
        c = body[i]
        if state == "H":
            end = body.find("\n", i)
            end = n if end < 0 else end
            delim, strip_tabs = heredocs[0]
            line = body[i:end]
            for k in range(i, min(end + 1, n)):
                ctx[k] = "H"
            if (line.lstrip("\t") if strip_tabs else line) == delim:
                heredocs.pop(0)
                stack.pop()
                if heredocs:
                    stack.append(["H", 0])
            i = end + 1
            continue
        ctx[i] = state
        word_start = i == 0 or body[i - 1] in WORD_START
        if state in ("S", "E"):
            if c == "\\" and state == "E" and i + 1 < n:
                ctx[i + 1] = state
                i += 2
                continue
            if c == "'":
                stack.pop()
            i += 1
            continue
        if c == "\\" and i + 1 < n:
            ctx[i + 1] = state
            i += 2
            continue
        if state in ("B", "P", "A", "T"):
            i += _step_inside(body, i, stack, ctx)
            continue
        # N, C and D share the expansions that open a new context.
        opened = _open_expansion(body, i, state, word_start)
        if opened:
            new_state, width = opened
            for k in range(i, min(i + width, n)):
                ctx[k] = state
            stack.append([new_state, 0])
            i += width
            continue
        if state == "D":
            if c == '"':
                stack.pop()
            i += 1
            continue
        # N or C: plain words.
        if c == "'":
            stack.append(["S", 0])
        elif c == '"':
            stack.append(["D", 0])
        elif c == "#" and word_start:
            end = body.find("\n", i)
            end = n if end < 0 else end
            for k in range(i, end):
                ctx[k] = "#"
            i = end
            continue
        elif c == "<" and body.startswith("<<", i) and not body.startswith("<<<", i):
            match = HEREDOC_RE.match(body, i)
            if match:
                heredocs.append((match.group(3), match.group(1) == "-"))
                for k in range(i, match.end()):
                    ctx[k] = state
                i = match.end()
                continue
        elif c == "\n" and heredocs:
            stack.append(["H", 0])
        elif state == "C":
            _nest(stack, c, "(", ")")
        i += 1
    return ctx


def _step_inside(body, i, stack, ctx):
    """One character (or a two-character closer) inside backticks, ${...},
    arithmetic or [[ ... ]]; returns how far to advance."""
    top = stack[-1]
    state, c = top[0], body[i]
    if state == "B":
        if c == "`":
            stack.pop()
    elif state == "P":
        _nest(stack, c, "{", "}")
    elif body.startswith("))" if state == "A" else "]]", i) and top[1] == 0:
        ctx[i + 1] = state
        stack.pop()
        return 2
    elif state == "A":
        _nest(stack, c, "(", ")")
    return 1


def _nest(stack, c, opener, closer):
    """Track nesting inside ${...} or $(...); leave it at its closer."""
    top = stack[-1]
    if c == opener:
        top[1] += 1
    elif c == closer:
        if top[1] == 0:
            stack.pop()
        else:
            top[1] -= 1


def _open_expansion(body, i, state, word_start):
    """(new context, width) when an expansion or a quote opens at i."""
    if body.startswith("$((", i):
        return "A", 3
    if body.startswith("$(", i):
        return "C", 2
    if body.startswith("${", i):
        return "P", 2
    if body.startswith("$'", i) and state != "D":
        return "E", 2
    if body[i] == "`":
        return "B", 1
    if state != "D" and word_start and body.startswith("((", i):
        return "A", 2
    if state != "D" and word_start and body.startswith("[[", i) and body[i + 2:i + 3] in (" ", "\t"):
        return "T", 2
    return None
