"""`python -m regqa …` — the same as the `regqa` command (used to start a child indexer with the
very interpreter that runs the server)."""

from regqa.cli import main

main()
