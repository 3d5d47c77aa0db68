"""``python -m train_job.traffic`` against a running model server (the tests' logistic model behind a real bucket):
rows in requests of the given size, bounded by count and time, the versions that answered, failures counted."""

import json
from pathlib import Path

import pytest
from support.model_server import run_model_server, upload_model
from support.onnx_models import write_logistic_model

from train_job import traffic


@pytest.fixture(scope="module")
def server(s3_server, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("traffic")
    spec = folder / "spec.json"
    model = write_logistic_model(folder / "v1" / "model.onnx")
    spec.write_text(json.dumps({"storage_path": upload_model(s3_server, model), "version": "3"}))
    with run_model_server(s3_server.env, f"spec:{spec}", folder) as running:
        yield running


def test_the_rows_go_in_batches_and_the_answering_version_is_counted(server, capsys) -> None:
    assert traffic.main(["--url", server.infer_url, "--rows", "1050", "--batch", "100", "--drift", "1"]) == 0
    tally = json.loads(capsys.readouterr().out)
    assert (tally["rows"], tally["requests"], tally["failed"], tally["versions"]) == (1050, 11, {}, {"3": 11})
    assert 0.0 <= tally["flagged_share"] <= 1.0 and tally["drift"] == 1.0


def test_time_bounds_it_and_failures_are_counted_and_fail_the_run(server, capsys) -> None:
    tally = traffic.send(server.infer_url, rows=100_000, batch=10, drift=0.0, seed=1, seconds=0.5)
    assert tally["rows"] < 100_000 and tally["seconds"] < 5 and tally["failed"] == {}
    wrong = server.infer_url.replace(server.model_name, "no-such-model")
    assert traffic.main(["--url", wrong, "--rows", "30", "--batch", "10"]) == 1
    assert json.loads(capsys.readouterr().out)["failed"] == {"HTTP 404": 3}


def test_bad_flags_are_named(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stopped:
        traffic.main(["--url", "ftp://x", "--rows", "10"])
    assert stopped.value.code == 2
    with pytest.raises(SystemExit):
        traffic.main(["--url", "http://127.0.0.1:1/", "--drift", "2"])
