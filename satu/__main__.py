"""Allow `python -m satu`."""

from satu.cli import main

main()
