"""``python -m brainjar`` is the ``brainjar`` command."""

from brainjar.cli import main

main()
