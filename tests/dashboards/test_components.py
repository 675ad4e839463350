"""The pieces every page shares: checking the address, the tables' grids and their outputs."""

import pandas as pd

from dashboards import components as ui


def test_the_address_keeps_known_choices_and_says_why_it_drops_the_others():
    check = ui.AddressCheck()
    assert check.service("noise", ["noise", "bins"]) == "noise"
    assert check.known(0, [0, 1, 2], "not shown") == 0  # cluster 0 is a choice like any other
    assert check.city(None, ["gent"]) is None and check.kpi("", ["uptake"]) is None
    assert check.messages == []
    assert check.city("atlantis", ["gent"]) is None
    assert check.kpi("happiness", ["uptake"]) is None
    texts = [message.children for message in check.messages]
    assert texts == [
        "Unknown city 'atlantis': no node of the federation has that name.",
        "Unknown KPI 'happiness'; showing uptake.",
    ]


def test_a_table_exports_what_it_shows_with_readable_headers():
    frame = pd.DataFrame({"city_id": ["gent"], "expected_uptake": [float("nan")]})
    box = ui.table("ranking", frame, page_size=5)
    button, grid = box.children
    assert box.id == "ranking" and "export" in button.className
    assert grid.id == ui.grid("ranking")
    assert [c["headerName"] for c in grid.columnDefs] == ["city id", "expected uptake"]
    assert grid.rowData == [{"city_id": "gent", "expected_uptake": None}]  # NaN is empty
    assert grid.dashGridOptions["paginationPageSize"] == 5


def test_outputs_list_figures_then_tables_then_the_address_and_message():
    found = ui.outputs("a-graph", tables=("a-table",), state="a")
    assert [(o.component_id, o.component_property) for o in found] == [
        ("a-graph", "figure"),
        (ui.grid("a-table"), "rowData"),
        (ui.grid("a-table"), "columnDefs"),
        ("a-url", "search"),
        ("a-error", "children"),
    ]
