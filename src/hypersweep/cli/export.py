"""``hypersweep export SWEEP --format csv|json|parquet [-o FILE]``: a sweep's runs (or, with
``--history``, every logged row) as a file for pandas, spreadsheets or notebooks.

One record per run: ``id``, ``name``, ``state``, ``sweep``, ``created_at``, ``started_at``,
``ended_at``, ``exit_code``, ``stop_reason``, then ``config.KEY`` for each parameter and
``summary.KEY`` for each summary value. CSV and Parquet hold these flat columns (nested
parameters as dotted keys, lists and dicts as JSON text); JSON keeps ``config`` and ``summary``
as nested objects. With ``--history`` the records are the logged rows: ``run_id``, ``_step`` and
each metric.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from hypersweep.cli._output import flatten, user_errors
from hypersweep.cli.sweep import server_option
from hypersweep.client._public_api import Api, ApiRun
from hypersweep.errors import HypersweepError

__all__ = ["export_command", "history_records", "run_records"]

FORMATS = ("csv", "json", "parquet")


@click.command("export")
@click.argument("sweep_id", metavar="SWEEP_ID")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="csv",
    show_default=True,
    help="File format; parquet needs pyarrow.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to FILE [default: stdout; required for parquet].",
)
@click.option("--history", is_flag=True, help="Export every logged row instead of one per run.")
@server_option
def export_command(
    sweep_id: str, fmt: str, output: Path | None, history: bool, server: str | None
) -> None:
    """Export the runs of sweep SWEEP_ID (ID or PROJECT/ID) as CSV, JSON or Parquet.

    \b
    hypersweep export mnist/ab12cd34 > runs.csv
    hypersweep export ab12cd34 --format json -o runs.json
    hypersweep export ab12cd34 --format parquet -o runs.parquet
    hypersweep export ab12cd34 --history -o history.csv
    """
    if fmt == "parquet" and output is None:
        raise click.UsageError(
            "--format parquet writes a binary file: add -o FILE, e.g. -o runs.parquet"
        )
    with user_errors(), Api(server) as api:
        runs = api.sweep(sweep_id).runs
        records = history_records(runs) if history else run_records(runs, nested=fmt == "json")
        if fmt == "parquet":
            assert output is not None  # checked above
            _write_parquet(records, output)
        else:
            text = _json_text(records) if fmt == "json" else _csv_text(records)
            if output is None:
                click.echo(text, nl=False)
            else:
                output.write_text(text, encoding="utf-8")
    what = "rows" if history else "runs"
    if not records:
        click.echo(f"sweep {sweep_id} has no {what} yet; the export is empty", err=True)
    if output is not None:
        click.echo(f"Wrote {len(records)} {what} to {output}", err=True)


def run_records(runs: Sequence[ApiRun], *, nested: bool = False) -> list[dict[str, Any]]:
    """One record per run; ``config`` and ``summary`` nested, or flattened to dotted columns."""
    records = []
    for run in runs:
        record: dict[str, Any] = {
            "id": run.id,
            "name": run.name,
            "state": run.state,
            "sweep": run.sweep_id,
            "created_at": run.created_at,
            "started_at": run.started_at,
            "ended_at": run.ended_at,
            "exit_code": run.exit_code,
            "stop_reason": run.stop_reason,
        }
        if nested:
            record["config"] = run.config
            record["summary"] = run.summary
        else:
            record.update(flatten(run.config, "config."))
            record.update({f"summary.{key}": value for key, value in run.summary.items()})
        records.append(record)
    return records


def history_records(runs: Sequence[ApiRun]) -> list[dict[str, Any]]:
    """Every logged row of every run, by run then step."""
    return [{"run_id": run.id, **row} for run in runs for row in run.scan_history()]


def _columns(records: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    return list(columns)


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _csv_text(records: Sequence[Mapping[str, Any]]) -> str:
    if not records:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_columns(records), lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({key: _cell(value) for key, value in record.items()})
    return buffer.getvalue()


def _json_text(records: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(list(records), indent=2) + "\n"


def _write_parquet(records: Sequence[Mapping[str, Any]], path: Path) -> None:
    try:
        pa = importlib.import_module("pyarrow")
        pq = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise HypersweepError(
            "--format parquet needs the pyarrow package, which is not installed; install it "
            f"with `{Path(sys.executable).name} -m pip install pyarrow`, or export --format csv"
        ) from None
    columns = _columns(records)
    table = pa.table({column: _column(records, column) for column in columns})
    pq.write_table(table, str(path))


def _column(records: Sequence[Mapping[str, Any]], column: str) -> list[Any]:
    """One column with one type, as Parquet needs: ints with floats become floats; a column
    that mixes numbers and text (a metric logged as "nan" once, say) becomes text."""
    values = [_cell(record.get(column)) for record in records]
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int, float} and float in kinds:
        return [float(v) if v is not None else None for v in values]
    if len(kinds) > 1:
        return [str(v) if v is not None else None for v in values]
    return values
