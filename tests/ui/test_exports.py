"""The streaming downloads every list page shares: CSV safe for spreadsheets, JSON written as it is read."""
import json

from django import forms

from ops_console.ui.exports import bad_filter, csv_response, json_response


def content(response):
    return b"".join(response.streaming_content).decode("utf-8")


def test_csv_has_a_bom_a_header_and_one_line_per_row():
    response = csv_response("x.csv", ("a", "b"), iter([(1, None), ("two", {"k": [1]})]))
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert content(response) == '\ufeffa,b\r\n1,\r\ntwo,"{""k"": [1]}"\r\n'


def test_csv_cells_cannot_become_spreadsheet_formulas():
    text = content(csv_response("x.csv", ("v",), [(value,) for value in ("=1+1", "+1", "-1", "@SUM(A1)", "ok")]))
    assert text.splitlines()[1:] == ["'=1+1", "'+1", "'-1", "'@SUM(A1)", "ok"]


def test_json_is_an_array_or_an_array_inside_a_wrapper():
    assert json.loads(content(json_response("x.json", iter([{"a": 1}, {"a": 2}])))) == [{"a": 1}, {"a": 2}]
    wrapped = json_response("x.json", iter([{"a": 1}]), wrapper={"head": "h"}, items_key="rows")
    assert json.loads(content(wrapped)) == {"head": "h", "rows": [{"a": 1}]}
    assert json.loads(content(json_response("x.json", iter([]), wrapper={}))) == {"items": []}


def test_a_bad_filter_says_what_is_wrong():
    class Form(forms.Form):
        since = forms.DateField()

    form = Form({"since": "yesterday"})
    assert not form.is_valid()
    response = bad_filter(form)
    assert response.status_code == 400 and response.content == b"The filter is not valid: since: Enter a valid date.\n"
