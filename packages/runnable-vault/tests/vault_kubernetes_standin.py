"""A STAND-IN for the Kubernetes API server, just enough of it for OpenBao's Kubernetes auth method.

No Kubernetes runs on a test machine, so this small HTTP server on 127.0.0.1 plays the two parts the
Kubernetes auth method relies on:

* it **issues** service account tokens: JWTs carrying the claims Kubernetes puts in them (namespace,
  service account name and uid), as kubelet would mount them at
  ``/var/run/secrets/kubernetes.io/serviceaccount/token``;
* it answers the **TokenReview** API (``POST /apis/authentication.k8s.io/v1/tokenreviews``) that OpenBao
  calls to ask whether a token is genuine: authenticated, with the service account's user name, for tokens
  it issued and has not revoked; not authenticated for anything else.

OpenBao is configured with this server as ``kubernetes_host`` and without signing keys, which makes the
TokenReview answer decisive (as with a real cluster configured that way). The tokens' signatures are random
bytes: nothing checks them except this stand-in, by recognising the whole token. Like a real API server it
speaks HTTPS (OpenBao insists on a CA certificate for it); it borrows the certificate for 127.0.0.1 that
``bao server -dev-tls`` generates.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class ServiceAccount:
    namespace: str
    name: str
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"


class KubernetesStandIn:
    """Issues service account tokens and reviews them; ``reviews`` counts the TokenReview calls received."""

    def __init__(self, cert_file: str, key_file: str) -> None:
        self._issued: dict[str, ServiceAccount] = {}
        self.reviews = 0
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path != REVIEW_PATH:
                    self._answer(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})
                    return
                self._answer(201, standin.review(body))

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet: tokens must not reach test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert_file, key_file)
        self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def issue(self, namespace: str, name: str) -> str:
        """A service account token as Kubernetes (before projected tokens) puts into a pod."""
        account = ServiceAccount(namespace, name)
        header = {"alg": "RS256", "typ": "JWT", "kid": "standin"}
        claims = {
            "iss": "kubernetes/serviceaccount",
            "sub": account.username,
            "kubernetes.io/serviceaccount/namespace": namespace,
            "kubernetes.io/serviceaccount/service-account.name": name,
            "kubernetes.io/serviceaccount/service-account.uid": account.uid,
            "kubernetes.io/serviceaccount/secret.name": f"{name}-token",
        }
        token = ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(os.urandom(256))])
        self._issued[token] = account
        return token

    def revoke(self, token: str) -> None:
        """As deleting the service account would: the token no longer passes review."""
        self._issued.pop(token, None)

    def review(self, request: dict[str, Any]) -> dict[str, Any]:
        """The TokenReview answer for ``request`` (a TokenReview with ``spec.token``)."""
        self.reviews += 1
        spec = request.get("spec") or {}
        account = self._issued.get(spec.get("token", ""))
        status: dict[str, Any] = {"authenticated": False}
        if account is not None:
            status = {
                "authenticated": True,
                "user": {
                    "username": account.username,
                    "uid": account.uid,
                    "groups": ["system:serviceaccounts", f"system:serviceaccounts:{account.namespace}"],
                },
                "audiences": spec.get("audiences") or [],
            }
        return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec, "status": status}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
