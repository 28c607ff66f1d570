"""manage.py lint_runbooks: every problem as path:line: severity: message, a
summary, exit status 1 on errors (and on warnings with --strict)."""
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ops_console.runbooks.front_matter import KEYS

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]


def lint(*args):
    out = StringIO()
    try:
        call_command("lint_runbooks", *map(str, args), stdout=out)
    except CommandError as exc:
        return out.getvalue().splitlines(), str(exc)
    return out.getvalue().splitlines(), None


def test_errors_are_listed_with_file_and_line_and_fail():
    lines, failure = lint(DATA / "broken.md")
    assert f"{DATA / 'broken.md'}:3: error: unknown front matter key 'flavour' (known: {', '.join(KEYS)})" in lines
    assert f"{DATA / 'broken.md'}:35: error: code block opened with ``` is never closed" in lines
    assert failure == "1 runbook(s) checked: 11 error(s), 4 warning(s)"


def test_a_directory_is_searched_and_its_readme_skipped():
    lines, failure = lint(DATA / "library")
    assert failure is None
    assert lines[-1] == "1 runbook(s) checked: 0 error(s), 2 warning(s)"
    assert all("README" not in line for line in lines)


def test_warnings_fail_only_with_strict():
    assert lint(DATA / "warnings.md")[1] is None
    lines, failure = lint(DATA / "warnings.md", "--strict")
    assert failure == "1 runbook(s) checked: 0 error(s), 2 warning(s)"
    assert lines == [f"{DATA / 'warnings.md'}:5: warning: cannot read the time budget in 'Look (5 min per host)' "
                     "(write e.g. (0-5 min), (< 1 min), (2h))",
                     f"{DATA / 'warnings.md'}:7: warning: ```python is not a step kind: the block is shown as an "
                     "example, not run"]


def test_import_mode_reads_plain_markdown():
    assert lint(DATA / "plain.md")[1] is not None          # Hugo keys are unknown to the strict format
    assert lint("--import", DATA / "plain.md") == (["1 runbook(s) checked: 0 error(s), 0 warning(s)"], None)


def test_missing_path():
    with pytest.raises(CommandError, match="nowhere.md: no such file or directory"):
        call_command("lint_runbooks", str(DATA / "nowhere.md"))


def test_the_project_library_passes():
    lines, failure = lint()
    assert failure is None, "\n".join(lines)
    assert lines[-1].endswith("0 error(s), 0 warning(s)")


def test_exit_status_for_ci():
    env = {**os.environ, "DEBUG": "1"}
    command = [sys.executable, "manage.py", "lint_runbooks"]
    bad = subprocess.run(command + [str(DATA / "broken.md")], cwd=REPO, env=env, capture_output=True, text=True)
    good = subprocess.run(command + [str(DATA / "full.md")], cwd=REPO, env=env, capture_output=True, text=True)
    assert (bad.returncode, good.returncode) == (1, 0)
    assert "11 error(s)" in bad.stderr and "broken.md:19: error:" in bad.stdout


BAD_QUERY = "---\ntitle: Bad query\n---\n# Bad query\n\n```promql title=\"Ratio\"\nsum(rate(x[5m])\n```\n"
SHELL_ONLY = "---\ntitle: Same\n---\n# Same\n\n```shell\ntrue\n```\n"


def test_a_promql_syntax_error_is_named_with_the_query_line(tmp_path):
    (tmp_path / "bad-query.md").write_text(BAD_QUERY)
    lines, failure = lint(tmp_path)
    assert lines == [f"{tmp_path / 'bad-query.md'}:7: error: PromQL syntax error (promtool): unclosed left "
                     "parenthesis at 1:16 of the query"]
    assert failure == "1 runbook(s) checked: 1 error(s), 0 warning(s)"


def test_without_promtool_queries_are_not_checked_and_it_says_so_once(tmp_path, monkeypatch):
    (tmp_path / "one.md").write_text(BAD_QUERY)
    (tmp_path / "two.md").write_text(BAD_QUERY)
    monkeypatch.setenv("PATH", "/nonexistent")
    lines, failure = lint(tmp_path)
    assert lines == ["warning: promtool is not installed (Debian package prometheus): PromQL queries were not "
                     "checked", "2 runbook(s) checked: 0 error(s), 1 warning(s)"]
    assert failure is None


def test_a_link_out_of_the_directory_is_an_error_and_not_read(tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    (tmp_path / "secret.md").write_text("# Not a runbook\n")
    (library / "leak.md").symlink_to(tmp_path / "secret.md")
    (library / "elsewhere").symlink_to(tmp_path)
    (library / "good.md").write_text(SHELL_ONLY)
    (library / "alias.md").symlink_to(library / "good.md")
    lines, failure = lint(library)
    assert lines == [
        f"{library / 'alias.md'}:0: warning: a symbolic link to a file in the runbook directory: not read (the "
        "target is read under its own name)",
        f"{library / 'elsewhere'}:0: error: a symbolic link to a directory outside the runbook directory: not read",
        f"{library / 'leak.md'}:0: error: a symbolic link to a file outside the runbook directory: not read",
    ]
    assert failure == "1 runbook(s) checked: 2 error(s), 1 warning(s)"


def test_two_files_with_one_slug_are_an_error_naming_both(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "same.md").write_text(SHELL_ONLY)
    lines, failure = lint(tmp_path)
    message = "error: a/same.md and b/same.md would both be the runbook 'same': rename one (neither is loaded)"
    assert lines == [f"{tmp_path / 'a' / 'same.md'}:0: {message}", f"{tmp_path / 'b' / 'same.md'}:0: {message}"]
    assert failure == "2 runbook(s) checked: 2 error(s), 0 warning(s)"


# Each problem on the line that holds it (the YAML line itself, the placeholder's own line, not the
# line after or the fence); test_a_promql_syntax_error_is_named_with_the_query_line does the query's.
WRONG_LINES = {
    "hugo.md": "---\ntitle: KubePodCrashLooping\nweight: 20\nbookCollapseSection: true\n---\n- [ ] Look at the pod\n",
    "yaml.md": "---\ntitle: Bad YAML\nowner platform\ntags: [a]\n---\n- [ ] Look\n",
    "placeholder.md": "---\ntitle: P\n---\n```shell title=\"Restart\"\necho start\nsystemctl restart {{ unit }}\n```\n",
}


def test_every_problem_names_its_own_line(tmp_path):
    for name, text in WRONG_LINES.items():
        (tmp_path / name).write_text(text)
    lines, failure = lint(tmp_path)
    known = ", ".join(KEYS)
    assert lines == [
        f"{tmp_path / 'hugo.md'}:3: error: unknown front matter key 'weight' (known: {known})",
        f"{tmp_path / 'hugo.md'}:4: error: unknown front matter key 'bookCollapseSection' (known: {known})",
        f"{tmp_path / 'placeholder.md'}:6: error: {{{{ unit }}}} is not a declared parameter (declare it under "
        "parameters: in the front matter, or write \\{{ for literal braces)",
        f"{tmp_path / 'yaml.md'}:3: error: the front matter is not valid YAML: could not find expected ':'",
    ]
    assert failure == "3 runbook(s) checked: 4 error(s), 0 warning(s)"
