"""The run dir's layout: which checkpoint is whole, and the export metadata, built once for
the trainer's export, ``export`` and the MLflow model."""

import json

from hpc_vqvae.runs import layout


def test_latest_ignores_half_written_checkpoints(tmp_path):
    done = layout.step_dir(tmp_path, 10)
    done.mkdir(parents=True)
    (done / "COMPLETE").write_text("10")
    layout.step_dir(tmp_path, 20).mkdir(parents=True)  # killed while saving: no COMPLETE
    assert layout.latest(tmp_path) == done
    assert layout.latest(tmp_path / "elsewhere") is None
    assert layout.complete(tmp_path) == [done]
    assert [p.name for p in layout.checkpoints(tmp_path)] == ["step_00000010", "step_00000020"]


def test_export_metadata_is_the_record_the_step_and_the_run(tmp_path):
    record = {"config": {"data": {"input_bands": ["C13"]}}, "statistics": {}, "split": {}}
    (tmp_path / "run.json").write_text(json.dumps(record))
    assert layout.is_run_dir(tmp_path) and not layout.is_run_dir(tmp_path / "none")
    meta = layout.export_meta(tmp_path, 7, "abc", source_checkpoint="/x")
    assert meta == {**record, "step": 7, "mlflow_run_id": "abc", "source_checkpoint": "/x"}
    assert layout.export_meta(tmp_path, 8, None) == {**record, "step": 8, "mlflow_run_id": None}


def test_what_overwrite_clears_is_what_a_run_writes():
    assert layout.WRITTEN[0] == layout.RUN_RECORD  # cleared last (rundir reverses it)
    for name in (layout.CHECKPOINTS, layout.EXPORT_DIR, layout.EXPORTS, layout.METRICS):
        assert name in layout.WRITTEN
    assert "resources_rank*.json" in layout.WRITTEN
