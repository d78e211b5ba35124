"""``python -m runnable`` is the ``runnable`` command (handy where console scripts are not on PATH)."""

from runnable.supervise import main

main()
