"Point etpo at the shared Kaggle CSVs (../shared/data beside the repository) unless ETPO_DATA_DIR is set."
import os
from pathlib import Path

import pytest

_shared = Path(__file__).resolve().parents[2] / "shared" / "data"
if "ETPO_DATA_DIR" not in os.environ and _shared.is_dir():
    os.environ["ETPO_DATA_DIR"] = str(_shared)


def pytest_collection_modifyitems(config, items):
    "Skip tests that read the Kaggle CSVs when no data directory is available, saying where to put them."
    data = os.environ.get("ETPO_DATA_DIR")
    if data and Path(data, "kidney_stone", "train.csv").is_file(): return
    skip = pytest.mark.skip(reason="Kaggle CSVs not found: set ETPO_DATA_DIR to a folder with kidney_stone/train.csv etc.")
    for item in items:
        if any(k in item.nodeid for k in ("kaggle", "kidney_stone", "pharyngitis", "cheaters")): item.add_marker(skip)
