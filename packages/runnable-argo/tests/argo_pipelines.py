"""Small pipelines with every kind of step, for rendering and for executed parity runs (kept small: every
command of an executed run is a fresh process)."""

TASKS = """
from pathlib import Path


def setup():
    return [1], "left"


def step_up(item: int, round: int):
    return item + round, round >= 1


def flaky():
    counter = Path("attempts.txt")
    tries = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(tries))
    if tries < 2:
        raise RuntimeError(f"flaky failure number {tries}")
    Path("made.txt").write_text(f"made after {tries} tries")
    return tries


def bad():
    raise RuntimeError("this step fails")


def recover(height: list):
    return sum(height)
"""

# map -> parallel -> loop (three deep), a conditional on a shell task's return, a stub, retries, a file put in
# the catalog, a failing branch taking its composite's on_failure, and a step name with a space.
ALL_KINDS = """
dag:
  start_at: set up
  steps:
    set up: {type: task, command: tasks_argo.setup, returns: [items, choice], next: flaky}
    flaky:
      type: task
      command: tasks_argo.flaky
      max_attempts: 2
      returns: [tries]
      catalog: {put: [made.txt]}
      next: grid
    grid:
      type: map
      iterate_on: items
      iterate_as: item
      next: pick
      branch:
        start_at: both
        steps:
          both:
            type: parallel
            next: success
            branches:
              climb:
                start_at: rounds
                steps:
                  rounds:
                    type: loop
                    max_iterations: 3
                    break_on: done
                    index_as: round
                    next: success
                    branch:
                      start_at: step_up
                      steps:
                        step_up: {type: task, command: tasks_argo.step_up, returns: [height, done], next: success}
              idle:
                start_at: wait
                steps:
                  wait: {type: stub, next: success}
    pick:
      type: conditional
      parameter: choice
      next: split
      branches:
        left:
          start_at: go left
          steps:
            go left: {type: task, command_type: shell, command: 'echo "left $height"; export went=left',
                      returns: [went], next: success}
        right:
          start_at: go_right
          steps:
            go_right: {type: task, command_type: shell, command: 'export went=right', returns: [went], next: success}
    split:
      type: parallel
      next: success
      on_failure: recover
      branches:
        good:
          start_at: fine
          steps:
            fine: {type: stub, next: success}
        bad:
          start_at: boom
          steps:
            boom: {type: task, command: tasks_argo.bad, next: success}
    recover: {type: task, command: tasks_argo.recover, returns: [total], next: success}
"""

# A step failing with no on_failure: the run goes to its fail step and fails.
FAILING = """
dag:
  start_at: first
  steps:
    first: {type: stub, next: boom}
    boom: {type: task, command: tasks_argo.bad, next: never}
    never: {type: stub, next: success}
"""

NOTEBOOK = """
dag:
  start_at: report
  steps:
    report: {type: task, command_type: notebook, command: report.ipynb, next: success}
"""
