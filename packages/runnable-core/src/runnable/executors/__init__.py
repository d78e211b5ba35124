"""In-process executors (layer 4): they drive the engine directly."""
