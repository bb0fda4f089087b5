"""One module per `course` subcommand."""
