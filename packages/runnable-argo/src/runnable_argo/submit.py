"""Submitting a rendered manifest to an Argo Server through its REST API, from Python.

``runnable render`` only writes files (submitting from the command line would be a core CLI change); this
function is for scripts and CI jobs that want to create the workflow without the ``argo`` binary::

    from runnable_argo.submit import submit

    created = submit(Path("workflow.yaml").read_text(), "https://argo.example.com:2746", namespace="argo")

The token is read from an environment variable (``ARGO_TOKEN`` by default), never passed as an argument, so
it stays out of shell histories and code. The standard library's ``urllib`` sends the request: no client
library is needed.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
from typing import Any

import yaml
from runnable.errors import ConfigurationError, InfrastructureError

# Argo Server's create endpoints, and the body key each one takes the object under.
ENDPOINTS = {
    "Workflow": ("workflows", "workflow"),
    "WorkflowTemplate": ("workflow-templates", "template"),
    "CronWorkflow": ("cron-workflows", "cronWorkflow"),
}


def submit(
    manifest: str,
    server: str,
    *,
    namespace: str | None = None,
    token_env: str = "ARGO_TOKEN",
    verify_tls: bool = True,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """POST the manifest to ``{server}/api/v1/{kind's endpoint}/{namespace}``; the object the server created.

    The namespace is the manifest's own, else ``namespace``. The token (``Bearer`` added unless it already
    says so, as ``argo auth token`` prints it) comes from the environment variable ``token_env``; without it
    the request goes unauthenticated (an Argo Server in ``--auth-mode=server``).
    """
    document = yaml.safe_load(manifest)
    kind = document.get("kind") if isinstance(document, dict) else None
    if kind not in ENDPOINTS:
        raise ConfigurationError(f"submit: a Workflow, WorkflowTemplate or CronWorkflow is expected, got kind {kind!r}")
    target = document.get("metadata", {}).get("namespace") or namespace
    if not target:
        raise ConfigurationError(
            "submit: the manifest names no namespace", hint="set `namespace` in the argo config or pass namespace="
        )
    path, key = ENDPOINTS[kind]
    url = f"{server.rstrip('/')}/api/v1/{path}/{target}"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    token = os.environ.get(token_env, "").strip()
    if token:
        headers["Authorization"] = token if token.lower().startswith("bearer ") else f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps({key: document}).encode(), headers=headers, method="POST")
    context = None if verify_tls else ssl._create_unverified_context()  # noqa: S323 - a user's explicit choice
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            return dict(json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:300]
        raise InfrastructureError(f"submit: {url} answered {error.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as error:
        raise InfrastructureError(f"submit: {url} could not be reached: {error}") from None
