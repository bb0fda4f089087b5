"""This course's own content that is code: the training tasks of its capstone-kind modules."""
