"""The label-budget sweep on small real data: every cell present, outputs written, fusion sane."""

import pandas as pd

from core.workflows.sweep import METHODS, SweepPlan, label_budget_sweep
from core.train.config import RunConfig


def test_small_sweep_writes_the_table_and_plot(small_data, tmp_path):
    base = RunConfig.from_dict(
        {"batch_size": 128, "location": {"encoding": "grid", "encoding_params": {"num_scales": 8}, "network_params": {"hidden_dim": 64}}}
    )
    plan = SweepPlan(encodings=("wrap", "grid"), ratios=(0.2, 1.0), seeds=(0, 1), pretrain_epochs=2, finetune_steps=30, workers=1)
    table = label_budget_sweep(base, plan, tmp_path, data=small_data)
    assert len(table) == len(plan.encodings) * len(plan.seeds) * len(plan.ratios) * len(METHODS)
    assert table["top1"].between(0, 1).all()
    # The image classifier is shared across encodings for a given seed and ratio.
    image = table[table["method"] == "image"]
    assert image.groupby(["seed", "ratio"])["top1"].nunique().eq(1).all()
    # More labels never hurt the image classifier much.
    means = image.groupby("ratio")["top1"].mean()
    assert means[1.0] >= means[0.2] - 0.05
    for name in ("sweep.csv", "sweep.md", "sweep.png", "sweep.json"):
        assert (tmp_path / name).stat().st_size > 0
    markdown = (tmp_path / "sweep.md").read_text()
    assert "| grid | 20% |" in markdown and "CSP gain" in markdown
    assert len(pd.read_csv(tmp_path / "sweep.csv")) == len(table)
