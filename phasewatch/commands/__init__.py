"""One module per `phasewatch` subcommand.

Each module defines `HELP` (one line), `configure(parser)` to add its arguments, and
`run(args) -> int` returning the exit code. Heavy imports belong inside `run` so that
`phasewatch --help` stays fast.
"""

COMMANDS = ("inspect", "analyze", "changepoints", "plot", "watch", "join", "tokens", "preflight", "train", "sweep", "report")
