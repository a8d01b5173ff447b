"""A tracking server that does not answer, or refuses, stops a command at once with what to do (MLflow alone
retries for minutes, and `churn train` used to learn it only after training, with a traceback)."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from pipeline.config import load_config
from pipeline.errors import ModelError
from pipeline.tracking import check_reachable, connect


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Answering(http.server.BaseHTTPRequestHandler):
    """Answers every request with one status and an empty JSON body."""

    status = 404

    def do_GET(self):  # the name http.server calls
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    do_POST = do_GET

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def server():
    """Starts a local HTTP server answering ``status``; yields a function (status) -> its URI."""
    started = []

    def start(status: int) -> str:
        handler = type("Handler", (_Answering,), {"status": status})
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


def test_a_server_that_does_not_answer_stops_the_command_with_what_to_do(monkeypatch):
    uri = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    cfg = load_config(None)
    with pytest.raises(ModelError) as caught:
        check_reachable(cfg)
    assert caught.value.message.startswith(f"The MLflow tracking server at {uri} does not answer")
    assert "unset it to use the local store" in caught.value.hint
    with pytest.raises(ModelError, match="does not answer"):
        connect(cfg)  # scoring and logging go through here


def test_any_http_answer_counts_as_reachable_and_a_refusal_is_named(monkeypatch, server):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = server(403)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    cfg = load_config(None)
    check_reachable(cfg)  # a 403 on /health is an answer: no error here
    with pytest.raises(ModelError) as caught:
        connect(cfg)
    assert caught.value.message.startswith(f"The MLflow tracking store at {uri} refused the request")
    assert "MLFLOW_TRACKING_TOKEN" in caught.value.hint


def test_file_and_database_stores_are_not_probed(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/never-created.db")
    check_reachable(load_config(None))
    assert not (tmp_path / "never-created.db").exists()


def test_train_stops_before_training_when_the_server_does_not_answer(monkeypatch, tmp_path):
    from pipeline.train import train_and_register

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_free_port()}")
    steps = []
    with pytest.raises(ModelError, match="does not answer"):
        train_and_register(tmp_path / "no-data-needed", load_config(None), progress=steps.append)
    assert steps == []  # not even the data was loaded
