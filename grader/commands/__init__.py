"""One module per `course` subcommand.

Each declares ``AUDIENCE``: ``"learner"`` (shipped in the student bundle, and taking
``--lang`` after its name) or ``"instructor"`` (left out of the bundle, English only).
The CLI (:mod:`grader.cli`) and the release (:mod:`grader.instructor.release`) both
read this one declaration.
"""
