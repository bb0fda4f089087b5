"""Running a learner's code apart: the worker, its client, the sandbox, the wire between them."""
