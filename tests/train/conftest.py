import pytest

from tests.helpers.tracking import start_mlflow_server, stop_mlflow_server


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real MLflow tracking server for the module's tests."""
    proc, port = start_mlflow_server(tmp_path_factory.mktemp("mlflow"))
    yield f"http://127.0.0.1:{port}"
    stop_mlflow_server(proc)
