"""Composite steps: a grid search as a map inside a map, a conditional, a loop and a parallel step.

runnable execute examples/composites/pipeline.py
"""

from functions import improve, make_grid, summarise, train
from runnable import Conditional, Loop, Map, Parallel, Pipeline, PythonTask, ShellTask, metric


def main() -> Pipeline:
    grid = Map(
        name="learning_rates",
        iterate_on="learning_rates",
        iterate_as="learning_rate",
        branch=Pipeline(
            steps=[
                Map(
                    name="depths",
                    iterate_on="depths",
                    iterate_as="depth",
                    branch=Pipeline(steps=[PythonTask(name="train", function=train, returns=[metric("scores")])]),
                )
            ]
        ),
    )
    decide = Conditional(
        name="decide",
        parameter="decision",
        branches={
            "deploy": Pipeline(steps=[ShellTask(name="ship", command='echo "shipping model with score $best"')]),
            "discard": Pipeline(steps=[ShellTask(name="archive", command="echo archiving")]),
        },
    )
    polish = Loop(
        name="polish",
        max_iterations=5,
        break_on="good_enough",
        index_as="round",
        branch=Pipeline(steps=[PythonTask(name="improve", function=improve, returns=["quality", "good_enough"])]),
    )
    notify = Parallel(
        name="notify",
        branches={
            "email": Pipeline(steps=[ShellTask(name="email", command='echo "mail: best=$best"')]),
            "chat": Pipeline(steps=[ShellTask(name="chat", command='echo "chat: decision=$decision"')]),
        },
    )
    pipeline = Pipeline(
        name="composites",
        steps=[
            PythonTask(name="grid", function=make_grid, returns=["learning_rates", "depths"]),
            grid,
            PythonTask(name="summarise", function=summarise, returns=[metric("best"), "decision"]),
            decide,
            polish,
            notify,
        ],
    )
    pipeline.execute()
    return pipeline


if __name__ == "__main__":
    main()
