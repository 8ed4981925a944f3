"""``python -m impl.cli``: the ``shimtypes`` command."""

from impl.cli import main

main()
