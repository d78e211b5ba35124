"""Quickstart: a function, a notebook and a shell command exchanging parameters and a file.

    runnable execute examples/quickstart/pipeline.py -p examples/quickstart/parameters.yaml

or simply ``python examples/quickstart/pipeline.py`` from the repository root.
"""

from functions import generate, summarise
from runnable import Catalog, NotebookTask, Pipeline, PythonTask, ShellTask, metric


def main() -> Pipeline:
    generate_data = PythonTask(
        name="generate",
        function=generate,
        returns=["row_count"],
        catalog=Catalog(put=["data/measurements.csv"]),
    )
    analyse = NotebookTask(
        name="analyse",
        notebook="examples/quickstart/analyse.ipynb",
        returns=[metric("mean")],
        catalog=Catalog(get=["data/measurements.csv"]),
    )
    judge = ShellTask(
        name="judge",
        command='echo "mean is $mean"; if python3 -c "import sys; sys.exit(0 if $mean > 4 else 1)"; '
        "then export verdict=high; else export verdict=low; fi",
        returns=["verdict"],
    )
    report = PythonTask(name="report", function=summarise, returns=["summary"])

    pipeline = Pipeline(steps=[generate_data, analyse, judge, report], name="quickstart")
    pipeline.execute(parameters_file="examples/quickstart/parameters.yaml")
    return pipeline


if __name__ == "__main__":
    main()
