"""The shell-step linter: a placeholder may reach a program only as data.
Every construct that parses a value as code again is refused at the line of
the placeholder (through parse(), as lint_runbooks reports it); every
accepted placement is run with bash and a hostile value, which never runs.
shell_programs.py, the table of what programs do with their arguments, is
exercised here through the constructs."""
import os
import subprocess

import pytest

from ops_console.runbooks.params import render_shell, shell_environment
from ops_console.runbooks.parser import parse
from ops_console.runbooks.shell_commands import ShellScript, unsafe_placeholders

HOSTILE = "x; touch {dir}/pwned $(touch {dir}/pwned2)"
FRONT = "title: T\nparameters:\n  v: {pattern: '.*'}\n  n: {type: int, default: 3}"

REFUSED = [
    # eval and shells running an argument, in every flag spelling
    "eval {{ v }}", "eval \"echo {{ v }}\"", "bash -c {{ v }}", "bash -ec {{ v }}", "bash -lc {{ v }}",
    "sh -x -c {{ v }}", "sh -c \\\n  {{ v }}", "sh -c 'echo ok' \\\n  {{ v }}", "fish --command {{ v }}",
    "/bin/bash -c {{ v }}", "busybox sh -c {{ v }}", "zsh -c \"echo {{ v }}\"", "dash -c {{ v }}",
    "ksh -c {{ v }}", "mksh -c {{ v }}", "ash -c {{ v }}", "pwsh -Command {{ v }}", "bash -o pipefail -c {{ v }}",
    "bash {{ v }}", "sh < {{ v }}",
    # a pipe or here-string into a shell or interpreter
    "echo {{ v }} | bash", "echo {{ v }} | sh -s", "echo {{ v }} | python3", "echo {{ v }} | xargs sh",
    "echo {{ v }} | sudo bash", "echo {{ v }} | ssh host", "echo {{ v }} | ssh host bash",
    "echo {{ v }} | kubectl exec -i p -- sh", "{ echo {{ v }}; } | bash", "echo {{ v }} | tee /dev/null | perl",
    "bash <<< {{ v }}", "bash < <(echo {{ v }})", "echo {{ v }} | parallel",
    # trap, source
    "trap {{ v }} EXIT", "source <(echo {{ v }})", ". <(echo {{ v }})", "source /dev/stdin <<< {{ v }}",
    "source {{ v }}",
    # wrappers before a shell
    "su -c {{ v }}", "su - user -c {{ v }}", "sudo sh -c {{ v }}", "sudo -u x bash -c {{ v }}", "sudo -s {{ v }}",
    "runuser -c {{ v }}", "runuser -u x -- sh -c {{ v }}", "env FOO=1 sh -c {{ v }}", "env -i X=1 bash -c {{ v }}",
    "env -S {{ v }}", "nice -n 5 sh -c {{ v }}", "nohup sh -c {{ v }}", "timeout 5 sh -c {{ v }}",
    "setsid sh -c {{ v }}", "exec sh -c {{ v }}", "command sh -c {{ v }}", "stdbuf -oL sh -c {{ v }}",
    "time sh -c {{ v }}", "xargs sh -c {{ v }}", "flock /tmp/l sh -c {{ v }}", "flock /tmp/l -c {{ v }}",
    "chroot /host sh -c {{ v }}",
    # programs that hand their arguments to a shell
    "watch {{ v }}", "watch -n 5 kubectl get pods -n {{ v }}", "ssh host ls {{ v }}", "ssh -p 22 host {{ v }}",
    "ssh -o {{ v }} host", "find . -exec sh -c {{ v }} \\;", "find . -exec {{ v }} {} +",
    "kubectl exec -n ns pod -- sh -c {{ v }}", "kubectl exec pod -- {{ v }}", "docker exec c sh -c {{ v }}",
    "docker run --rm img sh -c {{ v }}", "docker run --entrypoint {{ v }} img", "parallel echo ::: {{ v }}",
    "tmux new-session -d {{ v }}",
    # interpreters with code flags, program text
    "python -c {{ v }}", "python3 -c {{ v }}", "python3.11 -c {{ v }}", "python3 {{ v }}", "python3 -m {{ v }}",
    "perl -e {{ v }}", "perl -E {{ v }}", "perl -lne {{ v }}", "ruby -e {{ v }}", "node -e {{ v }}",
    "node --eval {{ v }}", "node -p {{ v }}", "php -r {{ v }}", "osascript -e {{ v }}", "awk {{ v }}",
    "gawk -F, {{ v }} file", "mawk \"{{ v }}\"", "awk -v x={{ v }} '{print x}'", "awk '{print x}' x={{ v }}",
    "awk -f {{ v }}", "sed {{ v }} file", "sed -e {{ v }}", "sed -n \"/{{ v }}/p\"", "sed --expression={{ v }}",
    # the value as the program, in a command substitution that is code, through a variable
    "{{ v }} --x", "sudo {{ v }}", "\"node/\"{{ v }} --x", "$(echo {{ v }}) --x", "bash -c \"$(echo {{ v }})\"",
    "x={{ v }}; eval \"$x\"", "for h in {{ v }}; do bash -c \"$h\"; done",
    "read -r line <<< {{ v }}; eval \"$line\"", "f() { echo; }; f {{ v }}", "echo \"$PARAM_v\"",
    # names bash evaluates, and quoting contexts where a reference would not work
    "let {{ v }}", "declare {{ v }}", "read {{ v }}", "printf -v {{ v }} x", "unset {{ v }}", "test -v {{ v }}",
    "git -c {{ v }} status", "echo '{{ v }}'", "echo $'{{ v }}'", "echo `echo {{ v }}`", "echo ${x:-{{ v }}}",
    "echo $(( {{ v }} + 1 ))", "(( {{ v }} > 1 ))", "[[ -n {{ v }} ]]", "cat <<EOF\n{{ v }}\nEOF",
    "echo ${{ v }}", "echo '{\"a\": {{ n }}}'",
]


def errors(body, front=FRONT):
    _, problems = parse(f"---\n{front}\n---\n\n```shell\n{body}\n```\n", path="t.md")
    return [(p.line, p.message) for p in problems if p.severity == "error"]


@pytest.mark.parametrize("body", REFUSED)
def test_a_construct_that_parses_the_value_again_is_refused_at_its_line(body):
    found = errors("uptime\n" + body)
    placeholder = next(k for k, line in enumerate(body.split("\n")) if "{{" in line or "PARAM_" in line)
    # the fence is line 8, "uptime" line 9, the body starts at line 10
    assert found and found[0][0] == 10 + placeholder, found
    assert found[0][1].endswith("use the parameter as an argument of a program that treats it as data")


@pytest.mark.parametrize("body", [
    "echo {{ v }}", "echo \"{{ v }}\"", "echo \"a {{ v }} b\"", "echo --flag={{ v }}", "echo \"node/\"{{ v }}",
    "echo a/{{ v }}", "echo $(echo {{ v }})", "echo \"$(echo {{ v }})\"", "echo '{\"a\": '{{ v }}'}'",
    "cat <<< {{ v }}", "echo {{ v }} # it's a comment", "cat <<EOF\nx\nEOF\necho {{ v }}",
    "ssh {{ v }} uptime", "ssh -l {{ v }} host uptime", "kubectl exec -n {{ v }} pod -- ls",
    "kubectl get -n {{ v }} pods -o json | python3 -c 'import json,sys; json.load(sys.stdin)'",
    "printf '%s' {{ v }} | kubectl apply -f -", "python3 tools/x.py --d {{ v }}", "export FOO={{ v }}",
    "local x={{ v }}", "awk '{print}' {{ v }}", "sed -i 's/a/b/' {{ v }}", "git tag -a {{ v }} -m {{ v }}",
    "timeout {{ n }} kubectl get pods", "sudo -u {{ v }} ls", "find {{ v }} -name '*.log' -exec rm {} +",
    "for h in $(echo {{ v }} | tr , ' '); do ssh \"$h\" ls; done", "echo $(( {{ n }} + 1 ))",
    "printf '%s\\n' {{ v }} | ssh host 'read -r a; ls \"$a\"'", "bash ./deploy.sh {{ v }}",
    "printf '%s\\n' {{ v }} | timeout 5 bash -c 'read -r v; echo \"$v\"'",
])
def test_a_placeholder_used_as_data_is_accepted(body):
    assert errors(body) == []


@pytest.mark.parametrize("body, expected", [
    ("printf '%s' {{ v }}", "{}"),
    ("printf '%s' \"{{ v }}\"", "{}"),
    ("printf '%s' \"[{{ v }}]\"", "[{}]"),
    ("printf '%s' \"$(printf '%s' {{ v }})\"", "{}"),
    ("printf '%s' --flag={{ v }}", "--flag={}"),
    ("printf '%s' \"node/\"{{ v }}", "node/{}"),
    ("printf '%s' '{\"a\": \"'{{ v }}'\"}'", "{{\"a\": \"{}\"}}"),
    ("cat <<< {{ v }}", "{}\n"),
    ("printf '%s\\n' {{ v }} | bash -c 'read -r v; printf %s \"$v\"'", "{}"),
])
def test_accepted_placements_never_run_the_value(tmp_path, body, expected):
    assert errors(body) == []
    value = HOSTILE.format(dir=tmp_path)
    env = {"PATH": os.environ["PATH"], **shell_environment(body, {"v": value})}
    result = subprocess.run(["bash", "-c", render_shell(body, {"v": value})], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=10)
    assert result.stdout == expected.format(value), result.stderr
    assert list(tmp_path.iterdir()) == []


def test_int_and_bool_may_stand_where_bash_evaluates_arithmetic():
    assert unsafe_placeholders("echo $(( {{ n }} + 1 ))", constrained={"n"}) == []
    assert [r[0] for r in unsafe_placeholders("echo $(( {{ v }} + 1 ))", constrained={"n"})] == ["v"]
    assert [r[0] for r in unsafe_placeholders("bash -c {{ n }}", constrained={"n"})] == ["n"]


def test_the_script_is_split_into_commands_pipes_and_substitutions():
    script = ShellScript("a 1 && b \"$(c 2 | d)\" | e; { f; } | g\nh \\\n  3 <<< x")
    words = {c.words[0].text: c for c in script.commands}
    assert sorted(words) == list("abcdefgh")
    assert words["b"].downstream == [words["e"]] and words["c"].downstream == [words["d"]]
    assert words["c"].parent == (words["b"], words["b"].words[1]) and words["f"].downstream == [words["g"]]
    assert [w.text for w in words["h"].words] == ["h", "3"] and words["h"].redirects[0].redirect == "<<<"


def test_lines_are_counted_in_the_file():
    body = "echo ok\n\nkubectl get pods \\\n  -n {{ v }} \\\n  -- && eval {{ v }}"
    assert [line for line, _ in errors(body)] == [13]      # the fence is line 8, "echo ok" line 9
