"""Between finished runs: per-fold selection (the candidate with the best validation score is taken, test
scores are never read to choose) and the paired per-subject comparison; runs whose folds differ are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offline.__main__ import main
from offline.comparison import compare
from offline.report import load_run, subject_rows
from offline.selection import select
from tests.offline.fixtures import write_mahnob_features

BRANCHES = 'branches={"eeg":{"features":"precomputed","feature_dim":128}}'


def _train(root: Path, out: Path, *extra: str) -> Path:
    main(["train", "--dataset", "mahnob-features", "--root", str(root), "--model", "tcn-eeg", "--protocol", "loso",
          "--out", str(out), "--model-set", "channels=[8]", "--model-set", BRANCHES, "--set", "epochs=2",
          "--set", "hop_seconds=8", "--set", "num_threads=1", "--no-final", *extra])
    return out


@pytest.fixture(scope="module")
def candidates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    tmp = tmp_path_factory.mktemp("selection")
    root = write_mahnob_features(tmp / "mf", participants=(2, 3, 5, 6), n_trials=2, steps=(100, 130))
    runs = [_train(root, tmp / name, "--set", f"lr={lr}") for name, lr in (("slow", "1e-5"), ("fast", "1e-2"))]
    return root, runs


def _results(run: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in (run / "folds").glob("*/result.json")}


def test_each_fold_takes_the_best_validation_score(candidates: tuple[Path, list[Path]], tmp_path: Path) -> None:
    _, runs = candidates
    metrics = select(runs, tmp_path / "sel")
    per_run = [_results(r) for r in runs]
    selected = _results(tmp_path / "sel")
    assert sorted(selected) == ["P02", "P03", "P05", "P06"]
    for fold, result in selected.items():
        scores = [res[fold]["val_score"] for res in per_run]
        best = max(range(len(runs)), key=lambda i: (scores[i], -i))
        assert result["selected"]["from"] == str(runs[best])
        assert result["scores"] == per_run[best][fold]["scores"], "the chosen candidate's test scores are copied"
        assert (tmp_path / "sel" / "folds" / fold / "model" / "model.json").is_file()
    assert metrics["selection"]["chosen"] == {f: r["selected"]["from"] for f, r in selected.items()}
    assert (tmp_path / "sel" / "subjects_valence.csv").is_file()


def test_test_scores_do_not_change_the_choice(candidates: tuple[Path, list[Path]], tmp_path: Path) -> None:
    """Making every test score of the candidate that lost validation perfect leaves the choice as it was."""
    import shutil

    _, runs = candidates
    first = select(runs, tmp_path / "before")["selection"]["chosen"]
    copies = [shutil.copytree(r, tmp_path / r.name) for r in runs]
    for fold, winner in first.items():
        loser = copies[1 - [str(r) for r in runs].index(winner)]
        path = loser / "folds" / fold / "result.json"
        result = json.loads(path.read_text())
        for trial in result["scores"]["targets"]["valence"]["trials"]:
            trial.update(ccc=1.0, pcc=1.0, rmse=0.0)
        path.write_text(json.dumps(result))
    after = select(copies, tmp_path / "after")["selection"]["chosen"]
    assert {f: Path(r).name for f, r in after.items()} == {f: Path(r).name for f, r in first.items()}


def test_runs_with_different_folds_are_refused(candidates: tuple[Path, list[Path]], tmp_path: Path) -> None:
    root, runs = candidates
    other = _train(root, tmp_path / "other_split", "--set", "val_fraction=0.5")
    with pytest.raises(ValueError, match="split trials differently"):
        select([runs[0], other], tmp_path / "sel")
    partial = _train(root, tmp_path / "partial", "--max-folds", "2")
    with pytest.raises(ValueError, match="not finished the same folds"):
        select([runs[0], partial], tmp_path / "sel2")
    with pytest.raises(FileExistsError):
        select(runs, runs[0])


def test_compare_pairs_subjects_and_refuses_other_test_trials(candidates: tuple[Path, list[Path]], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    root, runs = candidates
    result = compare(runs[1], runs[0])["targets"]["valence"]
    rows = [{r["subject"]: r for r in subject_rows(list(load_run(run)[1].values()), "valence", "continuous")}
            for run in runs]
    assert result["subjects"] == sorted(rows[0]) == ["P02", "P03", "P05", "P06"]
    paired = result["metrics"]
    assert set(paired) == {"ccc_subject", "ccc_trial", "pcc_subject", "pcc_trial", "rmse_subject", "rmse_trial"}
    for metric in paired:
        diff = np.array([rows[1][s][metric] - rows[0][s][metric] for s in result["subjects"]])
        assert paired[metric]["mean_diff"] == pytest.approx(diff.mean())
        assert paired[metric]["ci95_low"] <= diff.mean() <= paired[metric]["ci95_high"]
        wins = diff < 0 if metric.startswith("rmse") else diff > 0
        assert paired[metric]["a_better"] == int(wins.sum())
    same = compare(runs[0], runs[0])["targets"]["valence"]["metrics"]["ccc_subject"]
    assert (same["mean_diff"], same["a_better"], same["ties"], same["wilcoxon_p"]) == (0.0, 0, 4, 1.0)
    assert main(["compare", str(runs[1]), str(runs[0]), "--json", str(tmp_path / "c.json"),
                 "--metric", "ccc_subject"]) == 0
    assert "A better in" in capsys.readouterr().out
    assert list(json.loads((tmp_path / "c.json").read_text())["targets"]["valence"]["metrics"]) == ["ccc_subject"]
    with pytest.raises(ValueError, match="no metric ccc"):
        compare(runs[0], runs[1], ["ccc"])
    partial = _train(root, tmp_path / "partial", "--max-folds", "2")
    with pytest.raises(ValueError, match="did not test the same trials"):
        compare(runs[0], partial)
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        compare(runs[0], tmp_path)
