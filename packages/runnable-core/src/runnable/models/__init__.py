"""Layer 1: plain pydantic records (graph, run log, parameters, configuration). No I/O here."""
