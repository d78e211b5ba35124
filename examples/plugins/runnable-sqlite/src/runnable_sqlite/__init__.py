"""runnable-sqlite: a ``sqlite`` run log store and a ``bash-script`` pipeline executor for runnable.

Nothing here is imported by runnable until a configuration file names one of them::

    run-log-store:
      type: sqlite
      config: {database: .runnable/runs.db}
    pipeline-executor:
      type: bash-script
"""

__version__ = "0.1.0"
