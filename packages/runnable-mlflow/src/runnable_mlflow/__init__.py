"""runnable-mlflow: an experiment tracker sending runnable's parameters, metrics and statuses to MLflow.

Choose it in the configuration file::

    experiment-tracker:
      type: mlflow
      config:
        tracking_uri: http://127.0.0.1:5000
        experiment_name: my-project

Nothing here imports MLflow: the client is imported when a run is tracked.
"""
