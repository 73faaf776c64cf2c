"""One module per command: `add_parser(subparsers)` declares it, `run(args) -> int` runs it."""
