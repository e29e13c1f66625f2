"""Between finished runs: per-fold selection (the candidate with the best validation score is taken, test
scores are never read to choose) and the paired per-subject comparison; runs whose folds differ are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from offline.__main__ import main
from offline.comparison import compare
from offline.report import load_run, subject_rows, write_report
from offline.selection import select
from tests.support.dataset_files import write_mahnob_features

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
    _, runs = candidates
    first = select(runs, tmp_path / "before")["selection"]["chosen"]
    assert sorted(first) == ["P02", "P03", "P05", "P06"]
    copies = [shutil.copytree(r, tmp_path / r.name) for r in runs]
    for fold, winner in first.items():
        loser = copies[1 - [str(r) for r in runs].index(winner)]
        path = loser / "folds" / fold / "result.json"
        result = json.loads(path.read_text())
        valence = result["scores"]["targets"]["valence"]
        assert valence["trials"], f"fold {fold} has no test trial to make perfect"
        for trial in valence["trials"]:
            trial.update(ccc=1.0, pcc=1.0, rmse=0.0)
        valence["pooled"].update({m: 0.0 if m.startswith("rmse") else 1.0 for m in valence["pooled"]})
        path.write_text(json.dumps(result))
    after = select(copies, tmp_path / "after")["selection"]["chosen"]
    assert {f: Path(r).name for f, r in after.items()} == {f: Path(r).name for f, r in first.items()}


def _test_ccc(result: dict) -> float:
    """A LOSO fold's test ccc_subject (its one test subject's trials concatenated)."""
    return result["scores"]["targets"]["valence"]["pooled"]["ccc_subject"]


@pytest.fixture
def disagreeing(candidates: tuple[Path, list[Path]], tmp_path: Path) -> list[Path]:
    """Copies of the two trained candidates whose validation scores are set so that in every fold the candidate with
    the best validation score has the worse test ccc_subject (validation and test rankings disagree everywhere).

    In every other fold the two copies swap their fold folders (same trials, both real results), so the validation
    winner is the first candidate in some folds and the second in others: a chooser ignoring scores cannot pass."""
    _, runs = candidates
    copies = [shutil.copytree(r, tmp_path / "disagreeing" / r.name) for r in runs]
    folds = sorted(_results(copies[0]))
    assert folds == sorted(_results(copies[1])) == ["P02", "P03", "P05", "P06"]
    for fold in folds[1::2]:
        a, b, swap = (c / "folds" / fold for c in (*copies, copies[0]))
        a.rename(swap.with_name(fold + ".swap"))
        b.rename(a)
        swap.with_name(fold + ".swap").rename(b)
    results = [_results(c) for c in copies]
    winners = []
    for fold in folds:
        test = [_test_ccc(res[fold]) for res in results]
        assert np.isfinite(test).all() and test[0] != test[1], f"fold {fold}: test scores {test} cannot disagree"
        winners.append(int(np.argmin(test)))  # validation will prefer the worse on test
        for i, (copy, res) in enumerate(zip(copies, results, strict=True)):
            res[fold]["val_score"] = 0.9 if i == winners[-1] else 0.1
            (copy / "folds" / fold / "result.json").write_text(json.dumps(res[fold]))
    assert set(winners) == {0, 1}, f"validation winners per fold {winners}: one candidate wins everywhere"
    return copies


def follows_validation(selection: Path, candidates: list[Path]) -> bool:
    """Whether a selection folder took, in every fold of the candidates, the candidate with the best validation score:
    its test scores are that candidate's, and its reported mean ccc_subject is the mean of theirs."""
    chosen, per_run = _results(selection), [_results(c) for c in candidates]
    if not chosen or sorted(chosen) != sorted(per_run[0]):
        return False
    expected = []
    for fold, result in chosen.items():
        val = [res[fold]["val_score"] for res in per_run]
        best = per_run[max(range(len(per_run)), key=lambda i: (val[i], -i))][fold]
        if result["scores"] != best["scores"]:
            return False
        expected.append(_test_ccc(best))
    reported = json.loads((selection / "metrics.json").read_text())["targets"]["valence"]["summary"]
    mean = reported["per_subject"]["ccc_subject"]
    return mean["n"] == len(expected) and bool(np.isclose(mean["mean"], np.mean(expected)))


def _select_with(choose, runs: list[Path], out: Path) -> dict:
    """A selection that takes in each fold the candidate ``choose`` names from the candidates' fold results."""
    per_run = [_results(r) for r in runs]
    for fold in per_run[0]:
        shutil.copytree(runs[choose([res[fold] for res in per_run])] / "folds" / fold, out / "folds" / fold)
    shutil.copy(runs[0] / "config.json", out / "config.json")
    return write_report(out)


def _by_test_score(results: list[dict]) -> int:
    """The leak ``select`` must never commit: the candidate with the best TEST ccc_subject."""
    return max(range(len(results)), key=lambda i: _test_ccc(results[i]))


def _mean_test_ccc(candidates: list[Path], pick) -> float:
    per_run = [_results(c) for c in candidates]
    return float(np.mean([pick(_test_ccc(res[f]) for res in per_run) for f in sorted(per_run[0])]))


def test_selection_follows_validation_when_test_disagrees(disagreeing: list[Path], tmp_path: Path) -> None:
    metrics = select(disagreeing, tmp_path / "sel")
    assert follows_validation(tmp_path / "sel", disagreeing)
    lower, higher = _mean_test_ccc(disagreeing, min), _mean_test_ccc(disagreeing, max)
    reported = metrics["targets"]["valence"]["summary"]["per_subject"]["ccc_subject"]
    assert reported["n"] == 4
    assert reported["mean"] == pytest.approx(lower) and lower < higher, "validation's choice, the worse on test"


@pytest.mark.parametrize("chooser", ["test score", "first candidate"])
def test_selection_checks_reject_a_chooser_that_does_not_follow_validation(disagreeing: list[Path], tmp_path: Path,
                                                                          chooser: str) -> None:
    """The checks above have teeth: a selection by test score (the leak) or one ignoring scores fails them."""
    choose = _by_test_score if chooser == "test score" else (lambda results: 0)
    metrics = _select_with(choose, disagreeing, tmp_path / "wrong")
    assert not follows_validation(tmp_path / "wrong", disagreeing)
    if chooser == "test score":
        reported = metrics["targets"]["valence"]["summary"]["per_subject"]["ccc_subject"]["mean"]
        assert reported == pytest.approx(_mean_test_ccc(disagreeing, max)), "the leak reports the better mean"


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
