"""The hello pipeline of docs/pipelines.md, in Python."""

from runnable import Pipeline, PythonTask, ShellTask


def greet(name: str) -> str:
    return f"hello {name}"


def main() -> Pipeline:
    pipeline = Pipeline(
        steps=[
            PythonTask(name="greet", function=greet, returns=["greeting"]),
            ShellTask(name="shout", command='echo "$greeting" | tr a-z A-Z'),
        ]
    )
    pipeline.execute()
    return pipeline


if __name__ == "__main__":
    main()
