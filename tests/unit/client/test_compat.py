"""W&B calls with no counterpart (login, watch, save, alert, artifacts): accepted, explained."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest

import hypersweep
from hypersweep.client import _compat, _config
from hypersweep.errors import HypersweepError


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_config, "_warned", set())
    monkeypatch.setattr(_compat, "_logged_in", False)


def test_login_returns_true_and_says_once_where_the_server_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HYPERSWEEP_SERVER", "http://10.0.0.5:9000")
    assert hypersweep.login() is True
    assert hypersweep.login(key="abc", relogin=True, host="https://api.wandb.ai") is True
    err = capsys.readouterr().err
    assert err.count("login() is not needed") == 1
    assert "http://10.0.0.5:9000" in err


@pytest.mark.parametrize(
    ("call", "kind"),
    [
        (lambda: hypersweep.watch(object(), log="all", log_freq=10), "wandb.watch() is ignored"),
        (lambda: hypersweep.save("model.pt", policy="end"), "wandb.save('model.pt') is ignored"),
        (lambda: hypersweep.mark_preempting(), "wandb.mark_preempting() is ignored"),
    ],
)
def test_calls_without_a_counterpart_warn_once_and_return_none(
    call: Any, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert call() is None
    assert call() is None
    assert capsys.readouterr().err.count(kind) == 1


def test_unwatch_is_silent(capsys: pytest.CaptureFixture[str]) -> None:
    assert hypersweep.unwatch() is None
    assert capsys.readouterr().err == ""


def test_an_alert_is_printed_every_time(capsys: pytest.CaptureFixture[str]) -> None:
    hypersweep.alert(title="diverged", text="loss is nan", level=hypersweep.AlertLevel.ERROR)
    hypersweep.alert("slow", "epoch took 10 min")
    err = capsys.readouterr().err
    assert "ALERT [ERROR] diverged: loss is nan" in err
    assert "ALERT [INFO] slow: epoch took 10 min" in err
    assert err.count("sends no notification") == 1


def test_an_artifact_accepts_files_and_log_artifact_returns_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    artifact = hypersweep.Artifact("mnist", type="dataset", metadata={"rows": 10})
    artifact.add_file("data.csv")
    artifact.add_dir("images/")
    with artifact.new_file("notes.txt") as handle:
        handle.write("scratch")
    logged = hypersweep.log_artifact(artifact, aliases=["latest"])
    assert logged is artifact
    assert logged.aliases == ["latest"]
    by_path = hypersweep.log_artifact("out/model.pt", type="model")
    assert (by_path.name, by_path.type) == ("model.pt", "model")
    assert capsys.readouterr().err.count("artifacts are not stored") == 1


def test_reading_an_artifact_s_files_fails_with_where_to_keep_them() -> None:
    artifact = hypersweep.use_artifact("mnist:latest", type="dataset")
    with pytest.raises(HypersweepError, match="does not store artifacts; keep the files on a path"):
        artifact.download()
    with pytest.raises(HypersweepError, match=r"get_path\('train.csv'\)"):
        artifact.get_path("train.csv")


def test_run_methods_forward_to_the_same_calls(capsys: pytest.CaptureFixture[str]) -> None:
    run = hypersweep.init(mode="disabled", tags=["a", "b"], notes="n", group="g", job_type="t")
    assert run.watch(object()) is None
    assert run.save("*.pt") is None
    run.alert("t", "x")
    assert run.log_artifact("model.pt").name == "model.pt"
    assert run.use_artifact("data:v1").name == "data:v1"
    assert run.mark_preempting() is None
    assert (run.tags, run.notes, run.group, run.job_type) == (("a", "b"), "n", "g", "t")
    run.name = "renamed"
    assert run.name == "renamed"
    err = capsys.readouterr().err
    assert "wandb.watch() is ignored" in err
    assert "ALERT [INFO] t: x" in err


def test_settings_take_any_keyword_and_init_accepts_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = hypersweep.Settings(start_method="thread", _disable_stats=True, console="off")
    assert settings.start_method == "thread"
    assert repr(settings).startswith("hypersweep.Settings(start_method='thread'")
    run = hypersweep.init(mode="disabled", settings=settings)
    assert "init(settings=...) is a wandb option that hypersweep ignores" in capsys.readouterr().err
    run.finish()


def test_wandb_error_catches_what_hypersweep_raises() -> None:
    assert hypersweep.Error is HypersweepError
    with pytest.raises(hypersweep.Error):
        hypersweep.init(mode="nonsense")


def test_term_messages_go_to_stderr_with_the_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    hypersweep.termlog("epoch 1 done")
    hypersweep.termwarn("slow disk\nsecond line")
    hypersweep.termerror("diverged")
    hypersweep.termlog("no prefix", prefix=False)
    hypersweep.termlog("partial ", newline=False)
    hypersweep.termlog("once", repeat=False)
    hypersweep.termlog("once", repeat=False)
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "hypersweep: epoch 1 done\n"
        "hypersweep: WARNING slow disk\n"
        "hypersweep: WARNING second line\n"
        "hypersweep: ERROR diverged\n"
        "no prefix\n"
        "hypersweep: partial hypersweep: once\n"
    )


def test_an_offline_run_has_wandbs_identity_fields_without_a_url() -> None:
    before = time.time()
    run = hypersweep.init(mode="offline", project="mnist", id="abc123")
    assert run.url is None and run.get_url() is None  # W&B's are None offline too
    assert run.path == "mnist/abc123"
    assert before <= run.start_time <= time.time()
    assert run.resumed is False
    assert run.disabled is False
    run.finish()


def test_a_disabled_run_says_so() -> None:
    run = hypersweep.init(mode="disabled")
    assert run.disabled is True
    assert run.url is None
    assert run.path == f"uncategorized/{run.id}"


def test_the_new_wandb_names_stay_light() -> None:
    heavy = "{'numpy', 'httpx', 'pydantic', 'yaml', 'fastapi', 'sqlalchemy'}"
    code = (
        "import sys, hypersweep as wandb\n"
        "wandb.Settings(start_method='thread'), wandb.Error, wandb.termlog('x')\n"
        f"print(sorted({heavy} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
