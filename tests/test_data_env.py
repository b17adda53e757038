"etpo.data loaders and etpo.env scoring against scikit-learn run directly."
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from etpo.data import DATASETS, Dataset, load_dataset, openml_dataset
from etpo.env import BODY_DOCSTRING, DataScienceEnv, VectorDataScienceEnv, extract_body, make_splits, program_from_body, score_program
from etpo.sandbox import Limits

KAGGLE = {"kidney_stone": (414, 6), "pharyngitis": None, "health_insurance": (2000, 12), "spaceship_titanic": (2000, 12)}


@pytest.mark.parametrize("name", list(KAGGLE))
def test_kaggle_sets_load_numeric(name):
    ds = load_dataset(name)
    assert ds.x.dtype == np.float64 and np.isfinite(ds.x).all() and ds.y.dtype == np.int64
    assert ds.n_classes == 2 and set(np.unique(ds.y)) == {0, 1}
    if KAGGLE[name]: assert ds.x.shape == KAGGLE[name]


def test_pharyngitis_preprocessing_matches_pandas():
    raw = pd.read_csv(Path(os.environ["ETPO_DATA_DIR"]) / "pharyngitis" / "pharyngitis.csv").dropna()
    ds = load_dataset("pharyngitis")
    assert "number" not in ds.feature_names and "radt" not in ds.feature_names
    np.testing.assert_array_equal(ds.y, raw["radt"].to_numpy())
    np.testing.assert_allclose(ds.x, raw.drop(columns=["number", "radt"]).to_numpy(float))


def test_missing_csv_error_names_file_dirs_and_source(tmp_path, monkeypatch):
    monkeypatch.setenv("ETPO_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError) as e:
        load_dataset("kidney_stone", data_dir=tmp_path / "nope")
    msg = str(e.value)
    assert "train.csv" in msg and str(tmp_path / "nope") in msg and str(tmp_path) in msg and "kaggle.com" in msg


def test_openml_offline_error_says_how_to_fill_the_cache():
    with pytest.raises(RuntimeError, match="openml"):
        openml_dataset("diabetes")


def test_from_csv_and_registry(tmp_path):
    p = tmp_path / "d.csv"
    pd.DataFrame({"a": [1, 2, 3, 4], "b": ["u", "v", "u", "w"], "t": ["n", "y", "y", "n"]}).to_csv(p, index=False)
    ds = Dataset.from_csv(p, target="t", description="Mine")
    assert ds.x.shape == (4, 2) and ds.y.tolist() == [0, 1, 1, 0] and ds.name == "mine"
    assert len(DATASETS) >= 18
    with pytest.raises(FileNotFoundError, match="no CSV"):
        Dataset.from_csv(tmp_path / "missing.csv", "t", "x")
    with pytest.raises(ValueError, match="single class"):
        Dataset("one", np.zeros((3, 1)), np.zeros(3), "One")


REFERENCE = {
    "logistic": ("from sklearn.linear_model import LogisticRegression\nreturn LogisticRegression(max_iter=1000).fit(x_train, y_train)",
                 lambda: LogisticRegression(max_iter=1000)),
    "forest": ("from sklearn.ensemble import RandomForestClassifier\nreturn RandomForestClassifier(n_estimators=50, random_state=0).fit(x_train, y_train)",
               lambda: RandomForestClassifier(n_estimators=50, random_state=0)),
}


@pytest.mark.parametrize("dataset", ["tic_tac_toe", "kidney_stone", "balance_scale"])
@pytest.mark.parametrize("program", list(REFERENCE))
def test_reward_equals_sklearn_directly(dataset, program):
    body, make = REFERENCE[program]
    ds = load_dataset(dataset)
    s = score_program(program_from_body(body), ds, limits=Limits(wall_s=120))
    assert s.error is None, s.error
    direct = []
    for xtr, ytr, xte, yte in make_splits(ds):
        p = make().fit(xtr, ytr).predict_proba(xte)
        direct.append(roc_auc_score(yte, p[:, 1]) if ds.n_classes == 2 else roc_auc_score(yte, p, multi_class="ovo"))
    assert abs(s.reward - np.mean(direct)) <= 1e-9
    np.testing.assert_allclose(s.scores, direct, atol=1e-9)


def test_episode_reflection_truncation_and_cache():
    env = DataScienceEnv("tic_tac_toe", max_steps=2, timeout=60)
    obs, info = env.reset()
    assert obs.endswith("def build_model(x_train, y_train):\n" + BODY_DOCSTRING) and info["step"] == 0
    obs, r, term, trunc, info = env.step("    return 1 / 0")
    assert (r, term, trunc) == (-1.0, False, False) and "ZeroDivisionError" in info["error"]
    assert "Previous code:" in obs and "1 / 0" in obs and "ZeroDivisionError" in obs
    obs, r, term, trunc, info = env.step("    return 1 / 0")
    assert (r, term, trunc) == (-1.0, False, True)
    assert len(env.cache) == 1        # the second, identical program came from the cache


def test_infill_prompt_and_bad_arguments():
    env = DataScienceEnv("balance_scale", prompt_style="infill", timeout=60)
    obs, _ = env.reset()
    assert "<FILL_ME>" in obs and obs.rstrip().endswith("return model")
    _, r, term, _, _ = env.step("from sklearn.ensemble import RandomForestClassifier\nmodel = RandomForestClassifier(random_state=0).fit(x_train, y_train)")
    assert term and r > 0.8
    with pytest.raises(ValueError, match="prompt_style"):
        DataScienceEnv("iris", prompt_style="chat")
    with pytest.raises(RuntimeError, match="reset"):
        DataScienceEnv("iris").step("return None")


@pytest.mark.parametrize("text,body", [
    ("    a = 1\n    return a\n", "a = 1\nreturn a"),
    ("a = 1\n    return a\n", "a = 1\nreturn a"),
    ("    if x:\n        y = 1\n    return y\n\ndef other(): pass\n", "if x:\n    y = 1\nreturn y"),
    ("a = 1\nreturn a", "a = 1\nreturn a"),
    ("\tm = 2\n\treturn m\n", "m = 2\nreturn m"),
    ("", ""),
])
def test_extract_body(text, body):
    assert extract_body(text) == body


def test_vector_env_autoreset_and_shared_cache():
    venv = VectorDataScienceEnv.make("tic_tac_toe", n=3, workers=2, timeout=60)
    obs, _ = venv.reset()
    good = REFERENCE["logistic"][0]
    obs, rew, term, trunc, infos = venv.step([good, "return None", good])
    assert term.tolist() == [True, False, True] and rew[1] == -1.0 and rew[0] == rew[2] > 0.5
    assert "Previous code" in obs[1] and "final_obs" in infos[0] and "Previous code" not in obs[0]
    assert len(venv.envs[0].cache) == 2 and all(e.cache is venv.envs[0].cache for e in venv.envs)
    with pytest.raises(ValueError, match="actions"):
        venv.step([good])
    venv.close()
