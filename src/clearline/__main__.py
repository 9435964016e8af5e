"""``python -m clearline``: the same as the ``clearline`` command."""

from clearline.cli import main

main()
