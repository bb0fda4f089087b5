"""The `course` command: the learner's and the instructor's side of Attention from scratch."""

__version__ = "0.1.0"
