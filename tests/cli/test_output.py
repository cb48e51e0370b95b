"""What the CLI prints for people: fixed columns, long cells cut, nothing a terminal would obey."""

from __future__ import annotations

from fleetvisor_cli.output import Column, ago, cell, memory, table, text

COLUMNS = [Column("NAME", lambda row: row["name"], 8), Column("STATE", lambda row: row["state"], 7)]


def test_a_table_keeps_its_columns_whatever_the_cells_hold() -> None:
    shown = table([{"name": "a-very-long-vm-name", "state": "running"}, {"name": "b", "state": None}], COLUMNS)
    assert shown.splitlines() == ["NAME      STATE", "a-very-…  running", "b         -"]


def test_control_characters_in_names_never_reach_the_terminal() -> None:
    assert text("evil\x1b]0;pwned\x07name\n") == "evil?]0;pwned?name?"
    assert cell("\x9bx", 5) == "?x"


def test_values_read_as_people_expect() -> None:
    assert (text(True), text({"b": "2", "a": "1"}), text(["10.0.0.1", "fe80::1"]), text([])) == (
        "yes", "a=1,b=2", "10.0.0.1,fe80::1", "-")
    assert (memory(8388608), memory(524288), memory(0)) == ("8.0 GiB", "512 MiB", "-")
    assert (ago(None), ago(0)) == ("never", "never")
