"""Turning what hvac and requests raise into one-line runnable errors that name the secret and the server.

hvac's own messages hold the full request URL and the server's error list; ours say what went wrong where, and
how to fix it, in one line. No message is built from a response body, so no value can reach one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from runnable.errors import RunnableError, SecretNotFoundError


@contextmanager
def server_errors(name: str, url: str, doing: str) -> Iterator[None]:
    """Translate transport and server-state failures while ``doing`` something for secret ``name``.

    Permission and missing-path errors are left to the caller, which knows the path they concern.
    """
    import hvac.exceptions
    import requests.exceptions

    where = f"secret {name!r}: secrets manager 'vault' at {url} could not {doing}"
    try:
        yield
    except RunnableError:
        raise
    except hvac.exceptions.VaultDown:
        raise SecretNotFoundError(
            f"{where}: the server is sealed", hint="unseal it (bao/vault operator unseal) and run again"
        ) from None
    except hvac.exceptions.VaultNotInitialized:
        raise SecretNotFoundError(f"{where}: the server is not initialized", hint="initialize and unseal it") from None
    except requests.exceptions.SSLError:
        raise SecretNotFoundError(
            f"{where}: TLS verification failed",
            hint="set config.verify to the CA bundle (a PEM file) that signed the server's certificate",
        ) from None
    except requests.exceptions.Timeout:
        raise SecretNotFoundError(f"{where}: no answer in time", hint="check the server, or raise timeout") from None
    except requests.exceptions.ConnectionError:
        raise SecretNotFoundError(
            f"{where}: the server cannot be reached", hint="check config.url and that the server is running"
        ) from None
    except hvac.exceptions.VaultError as error:
        status = f"HTTP {error.status_code}" if getattr(error, "status_code", None) else type(error).__name__
        raise SecretNotFoundError(f"{where}: the server refused ({status})") from None
