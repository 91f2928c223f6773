"""The JSONPaths file the product ships (sql/copy/log_json_path.json, which a deploy copies to
DataBucket/JsonPathsKey: docs/deploy.md) is the one every local load uses: the real data set's,
the project fixtures' and the generator's name the same fields in the same order, and that order
is staging_events' columns (COPY maps JSONPaths to columns by position)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402

SHIPPED = local.ROOT / "sql" / "copy" / "log_json_path.json"


def fields(path: Path) -> list[str]:
    """The field each JSONPaths expression names, in order ($.x and $['x'] alike)."""
    out = []
    for expression in json.loads(path.read_text())["jsonpaths"]:
        match = re.fullmatch(r"\$(?:\.(\w+)|\['(\w+)'\])", expression)
        assert match, f"{path}: {expression!r} is not a top-level field"
        out.append(match.group(1) or match.group(2))
    return out


def test_the_shipped_file_is_the_real_data_sets():
    assert json.loads(SHIPPED.read_text()) == json.loads(
        (local.DATA_SET / "log_json_path.json").read_text())


def test_the_fixtures_and_the_generator_name_the_same_fields(sample):
    shipped = fields(SHIPPED)
    assert fields(local.ROOT / "tests" / "fixtures" / "sparkify-mini" / "udacity-dend"
                  / "log_json_path.json") == shipped
    assert fields(sample / "log_json_path.json") == shipped


def test_its_fields_are_the_staging_events_columns_in_their_order():
    create = (local.ROOT / "sql" / "create" / "staging_events.sql").read_text()
    columns = re.findall(r"(?m)^    (\w+) +[A-Z]", create.split("CREATE TABLE", 1)[1])
    snake = [re.sub(r"(?<!^)([A-Z])", r"_\1", field).lower() for field in fields(SHIPPED)]
    assert snake == columns[:len(snake)], (snake, columns)
    assert len(snake) == 18
