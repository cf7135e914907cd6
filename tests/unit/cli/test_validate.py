"""``hypersweep validate``: one line per issue, exit 0 when valid and 2 when not."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from hypersweep.cli import main


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_valid_file_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.yaml", "method: random\nparameters:\n  lr: {min: 0.0, max: 1.0}\n")
    result = CliRunner().invoke(main, ["validate", path])
    assert result.exit_code == 0
    assert f"{path}: valid" in result.output


def test_warnings_are_printed_and_allowed_unless_strict(tmp_path: Path) -> None:
    path = write(tmp_path, "w.yaml", "method: random\nparameters:\n  lr: {value: 1}\nfoo: 1\n")
    result = CliRunner().invoke(main, ["validate", path])
    assert result.exit_code == 0
    assert f"{path}: foo: warning: Additional properties are not allowed" in result.output
    assert CliRunner().invoke(main, ["validate", "--strict", path]).exit_code == 2


def test_each_issue_is_one_line_with_file_and_key_path(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", "method: grid\nparameters:\n  a: {values: [1]}\n")
    bad = write(
        tmp_path,
        "bad.yaml",
        "method: grid\nparameters:\n  lr: {min: 0.5, max: 0.1}\n  b: {values: []}\n",
    )
    result = CliRunner().invoke(main, ["validate", good, bad])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert f"{bad}: parameters.b.values: [] should be non-empty; list one or more" in lines
    assert any(line.startswith(f"{bad}: parameters.lr: lr: min 0.5 is not less") for line in lines)
    assert "Traceback" not in result.output


def test_unreadable_and_broken_files_are_errors_not_tracebacks(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.yaml", "method: [\n")
    result = CliRunner().invoke(main, ["validate", broken, str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "Error in configuration file: line 2, column 1" in result.output
    assert "Couldn't open sweep file" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
