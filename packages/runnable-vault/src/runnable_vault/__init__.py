"""runnable-vault: the ``vault`` secrets manager, reading KV version 2 secrets from HashiCorp Vault or OpenBao.

Nothing here imports hvac at import time: runnable imports every installed plugin to list them.
"""
