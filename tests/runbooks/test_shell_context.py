"""The quoting-context scanner under the renderer, the linter and the importer."""
from ops_console.runbooks.shell_context import shell_contexts


def test_shell_contexts():
    body = "a 'b' \"c $(d 'e') f\" `g` ${h} # i"
    ctx = "".join(shell_contexts(body))
    assert ctx[body.index("b")] == "S" and ctx[body.index("c")] == "D" and ctx[body.index("d")] == "C"
    assert ctx[body.index("e")] == "S" and ctx[body.index("f")] == "D" and ctx[body.index("g")] == "B"
    assert ctx[body.index("h")] == "P" and ctx[body.index("i")] == "#" and ctx[0] == "N"


def test_arithmetic_tests_and_here_documents():
    body = "x $(( a )) [[ b ]] $'c'\ncat <<-'END'\n\td\n\tEND\ne"
    ctx = "".join(shell_contexts(body))
    assert ctx[body.index("a")] == "A" and ctx[body.index("b")] == "T" and ctx[body.index("c")] == "E"
    assert ctx[body.index("d")] == "H" and ctx[body.index("e")] == "N"
