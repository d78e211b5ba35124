"""Layer 4: graph traversal, parameter binding, task runners. Executors drive it."""
