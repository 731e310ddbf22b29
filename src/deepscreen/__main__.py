"""``python -m deepscreen`` is the ``deepscreen`` command."""

from .cli import main

main()
