"""ui/markdown.py: CommonMark rendered by markdown-it-py and sanitized by nh3,
as the runbook, note and postmortem pages show it."""
from ops_console.ui.markdown import render

RUNBOOK = """---
title: Secret title in the front matter
parameters: {host: {pattern: '^[a-z]+$'}}
---
# Disk full

```shell title="Free space" auto=true timeout=30
df -h {{ host }}
```

- [ ] Tell the channel
- [x] Open an incident

| A | B |
|---|--:|
| 1 | 2 |
"""


def test_front_matter_is_not_shown_and_a_fence_keeps_only_its_kind():
    html = str(render(RUNBOOK))
    assert "Secret title" not in html and "pattern" not in html
    assert '<pre><code class="language-shell">df -h {{ host }}\n</code></pre>' in html
    assert "auto=true" not in html
    assert '<h1 id="disk-full">Disk full</h1>' in html


def test_task_items_are_disabled_checkboxes_and_tables_are_tables():
    html = str(render(RUNBOOK))
    assert '<input class="task-list-item-checkbox" disabled="disabled" type="checkbox"> Tell the channel' in html
    assert 'checked="checked" disabled="disabled" type="checkbox"> Open an incident' in html
    assert "<table>" in html and '<td style="text-align:right">2</td>' in html


def test_only_web_and_relative_links_keep_their_href():
    html = str(render("[a](javascript:alert(1)) [b](https://wiki.example/x) [c](/runbooks/disk-full/) "
                      "[d](data:text/html,x) <a href='vbscript:x' onclick='y'>e</a>"))
    assert '<a rel="noopener noreferrer">a</a>' in html
    assert '<a href="https://wiki.example/x" rel="noopener noreferrer">b</a>' in html
    assert '<a href="/runbooks/disk-full/" rel="noopener noreferrer">c</a>' in html
    assert '<a rel="noopener noreferrer">d</a>' in html and "onclick" not in html and "vbscript" not in html


def test_raw_html_is_sanitized():
    html = str(render("<script>alert(1)</script>\n\n<img src=x onerror=alert(2)> <b style='x'>bold</b>"))
    assert "<script" not in html and "alert(1)" not in html and "onerror" not in html
    assert "<b>bold</b>" in html
