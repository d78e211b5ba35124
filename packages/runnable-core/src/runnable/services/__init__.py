"""Layer 3: one small abstract base class per kind of service. Embedded defaults live in :mod:`runnable.defaults`."""
