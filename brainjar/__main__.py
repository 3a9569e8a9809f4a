"""``python -m brainjar`` is the ``brainjar`` command."""

from brainjar._cli import main

main()
