import pytest

from hpc_vqvae.world import free_port
from tests.helpers.tracking import start_mlflow_server, stop_mlflow_server


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real MLflow tracking server for the module's tests."""
    port = free_port()
    proc = start_mlflow_server(tmp_path_factory.mktemp("mlflow"), port)
    yield f"http://127.0.0.1:{port}"
    stop_mlflow_server(proc)
