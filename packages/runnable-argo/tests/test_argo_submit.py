"""``runnable_argo.submit`` against a local HTTP server started by the test: a stand-in for an Argo Server's
REST API that records the request and answers as Argo does (the created object), so the path, the headers
and the body the function sends are checked, not assumed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import yaml
from runnable.errors import ConfigurationError, InfrastructureError
from runnable_argo.submit import submit

MANIFEST = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: hello-, namespace: data-science}
spec: {entrypoint: main, templates: [{name: main, container: {image: i, command: [runnable]}}]}
"""


class Recorder(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        answer = json.dumps({"metadata": {"name": "hello-x7k2p"}} if self.status == 200 else {"message": "denied"})
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.received, Recorder.status = [], 200
    httpd = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def test_a_workflow_is_posted_with_the_token_from_the_environment(server: str, monkeypatch) -> None:
    monkeypatch.setenv("ARGO_TOKEN", "s3cr3t-token")
    created = submit(MANIFEST, server)
    assert created == {"metadata": {"name": "hello-x7k2p"}}
    (request,) = Recorder.received
    assert request["path"] == "/api/v1/workflows/data-science"
    assert request["headers"]["Authorization"] == "Bearer s3cr3t-token"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["body"] == {"workflow": yaml.safe_load(MANIFEST)}


def test_templates_and_cron_workflows_go_to_their_endpoints(server: str, monkeypatch) -> None:
    monkeypatch.setenv("MY_TOKEN", "Bearer already-prefixed")
    cron = MANIFEST.replace("kind: Workflow", "kind: CronWorkflow").replace(
        "generateName: hello-, namespace: data-science", "name: hello"
    )
    submit(cron, server, namespace="argo", token_env="MY_TOKEN")
    submit(MANIFEST.replace("kind: Workflow", "kind: WorkflowTemplate"), server)
    first, second = Recorder.received
    assert first["path"] == "/api/v1/cron-workflows/argo" and "cronWorkflow" in first["body"]
    assert first["headers"]["Authorization"] == "Bearer already-prefixed"
    assert second["path"] == "/api/v1/workflow-templates/data-science" and "template" in second["body"]


def test_refusals_and_bad_input_are_one_line_errors(server: str, monkeypatch) -> None:
    monkeypatch.delenv("ARGO_TOKEN", raising=False)
    Recorder.status = 403
    with pytest.raises(InfrastructureError, match="403: .*denied"):
        submit(MANIFEST, server)
    assert "Authorization" not in Recorder.received[0]["headers"]
    with pytest.raises(ConfigurationError, match="namespace"):
        submit(MANIFEST.replace(", namespace: data-science", ""), server)
    with pytest.raises(ConfigurationError, match="kind 'Pod'"):
        submit("kind: Pod\n", server)
