"""``--engine local|ray``: a LOSO run on a Ray cluster started here gives the local engine's numbers; a fold
whose worker is killed mid-training is tried again (and resumes from its last epoch); an interrupted run
started again trains only the folds it had not finished; a fold that fails on every attempt is named and the
report says the summary is partial."""

from __future__ import annotations

import builtins
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from calibration.__main__ import main as calibration_main
from offline.__main__ import main
from offline.engines import import_ray
from tests.support.dataset_files import write_mahnob_features
from tests.support.fold_killer import FoldKiller

ROOT = Path(__file__).resolve().parents[2]
FOLDS = ["P02", "P03", "P05", "P06"]


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A Ray instance of 2 CPUs on loopback, no dashboard, no usage report; its GCS address."""
    ray = import_ray()

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mahnob_features(tmp_path_factory.mktemp("mf"), participants=(2, 3, 5, 6), n_trials=2,
                                 steps=(200, 260))


def _args(root: Path, out: Path, *engine: str) -> list[str]:
    return ["train", "--dataset", "mahnob-features", "--root", str(root), "--model", "tcn-face", "--protocol", "loso",
            "--out", str(out), "--set", "epochs=6", "--set", "hop_seconds=4", "--set", "num_threads=1",
            "--no-final", *engine]


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def _result(out: Path, fold: str) -> dict:
    return json.loads((out / "folds" / fold / "result.json").read_text())


def test_ray_gives_the_local_numbers_and_a_killed_fold_is_tried_again(dataset: Path, ray_address: str,
                                                                        tmp_path: Path) -> None:
    assert main(_args(dataset, tmp_path / "local")) == 0
    own_print = builtins.print
    killer = FoldKiller(tmp_path / "ray" / "folds" / "P03")
    killer.start()
    assert main(_args(dataset, tmp_path / "ray", "--engine", "ray", "--fold-cpus", "1")) == 0
    killer.join(5)
    assert len(killer.killed) == 1, "the fold was killed while it trained"
    assert builtins.print is own_print, "Ray left this process's print alone"
    local, ray_run = _metrics(tmp_path / "local"), _metrics(tmp_path / "ray")
    assert [f["fold"] for f in ray_run["folds"]] == FOLDS and "folds_missing" in ray_run
    assert not ray_run["folds_missing"]
    assert ray_run["targets"] == local["targets"], "same seeds, same numbers, whichever engine"
    attempts = {fold: _result(tmp_path / "ray", fold)["trained_on"]["attempt"] for fold in FOLDS}
    assert attempts == {"P02": 1, "P03": 2, "P05": 1, "P06": 1}
    assert _result(tmp_path / "ray", "P03")["history"] == _result(tmp_path / "local", "P03")["history"]


def test_calibration_experiment_runs_its_subjects_as_ray_tasks_with_the_local_numbers(
        dataset: Path, ray_address: str, tmp_path: Path) -> None:
    records = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        assert calibration_main(["experiment", "mahnob-adaptation", "--root", str(dataset), "--out", str(out),
                                 "--set", "epochs=2", "--set", "hop_seconds=4", "--set", "num_threads=1",
                                 "--finetune-epochs", "2", "--engine", engine]) == 0
        records[engine] = {p.parent.name: json.loads(p.read_text()) for p in (out / "subjects").glob("*/record.json")}
        assert {json.loads((out / "subjects" / s / "attempt.json").read_text())["engine"] for s in FOLDS} == {engine}
    assert sorted(records["ray"]) == FOLDS
    assert records["ray"] == records["local"], "same seeds, same numbers, whichever engine"


def test_an_interrupted_run_started_again_trains_only_the_missing_folds(dataset: Path, ray_address: str,
                                                                          tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "offline", *_args(dataset, out, "--engine", "ray",
                                                                        "--ray-address", ray_address)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list((out / "folds").glob("*/result.json")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0, err
    finished = {p.parent.name: (p.stat().st_mtime_ns, p.read_text()) for p in (out / "folds").glob("*/result.json")}
    assert 0 < len(finished) < len(FOLDS), f"interrupted after {len(finished)} folds"
    assert main(_args(dataset, out, "--engine", "ray")) == 0
    for fold, (mtime, text) in finished.items():
        path = out / "folds" / fold / "result.json"
        assert (path.stat().st_mtime_ns, path.read_text()) == (mtime, text), f"{fold} was trained again"
    assert sorted(p.parent.name for p in (out / "folds").glob("*/result.json")) == FOLDS
    assert not _metrics(out)["folds_missing"]


def test_a_fold_that_fails_every_attempt_is_named_and_the_summary_says_partial(
        dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    killer = FoldKiller(out / "folds" / "P03", times=2)
    killer.start()
    rc = main(_args(dataset, out, "--workers", "2", "--retries", "1"))
    killer.join(5)
    assert rc == 1 and len(killer.killed) == 2
    err = capsys.readouterr()
    assert "P03" in err.err and "2 attempts" in err.err, err.err
    metrics = _metrics(out)
    assert metrics["folds_missing"] == ["P03"] and metrics["n_folds"] == 3 and metrics["folds_planned"] == 4
    assert "PARTIAL: 3 of 4 folds" in err.out
    assert not (out / "folds" / "P03" / "result.json").exists()
    assert main(_args(dataset, out, "--workers", "2")) == 0, "started again, the missing fold is trained"
    assert not _metrics(out)["folds_missing"]
